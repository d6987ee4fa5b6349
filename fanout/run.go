package fanout

import (
	"context"
	"errors"
	"iter"
	"runtime/debug"
	"slices"
	"time"
)

// Gather runs tasks under ctx as opt says and returns the report once every
// task has finished, failed, timed out or been cut off by the deadline.
func Gather[T any](ctx context.Context, tasks []Task[T], opt Options) *Report[T] {
	return Start(ctx, tasks, opt).Wait()
}

// Run is one gather in progress, started by Start. Its results can be taken
// as they land with Results, and the whole report with Wait.
//
// A Run is driven by the goroutine that reads it: results are collected
// only while Results is being iterated or Wait is running, and neither may
// be called from two goroutines at once. Wait must be called, even after
// Results, to release the gather's context and reap its goroutines.
type Run[T any] struct {
	ctx    context.Context
	cancel context.CancelFunc
	tasks  []Task[T]
	grace  time.Duration
	t0     time.Time
	lanes  int

	results []Result[T]
	slots   []slot
	done    chan outcome[T]
	ready   []int // resolved and not yet yielded, in completion order

	next     int // index of the next task to start
	last     int // the task resolved most recently, whose lane a launch takes; -1 at first
	inflight int // started and not yet resolved
	live     int // goroutines that have not returned
	left     int // tasks not yet resolved
	timer    *time.Timer
	report   *Report[T]
}

type slotState uint8

const (
	pending slotState = iota
	running
	resolved
)

type slot struct {
	state    slotState
	returned bool // the task's goroutine has sent its outcome
	after    int  // the task whose end freed this one's lane; -1 if it started at once
	trace    Trace
	deadline time.Time // the task's own deadline; zero when it has none
}

type outcome[T any] struct {
	i   int
	v   T
	err error
	end time.Duration
}

// Start starts tasks under ctx as opt says and returns at once. Tasks start
// in the order given as lanes are free.
func Start[T any](ctx context.Context, tasks []Task[T], opt Options) *Run[T] {
	n := len(tasks)
	r := &Run[T]{
		tasks:   tasks,
		grace:   opt.Grace,
		t0:      time.Now(),
		lanes:   opt.Lanes,
		results: make([]Result[T], n),
		slots:   make([]slot, n),
		done:    make(chan outcome[T], n),
		ready:   make([]int, 0, n),
		left:    n,
		last:    -1,
	}
	if r.lanes <= 0 || r.lanes > n {
		r.lanes = n
	}
	if r.grace <= 0 {
		r.grace = DefaultGrace
	}
	if opt.Timeout > 0 {
		r.ctx, r.cancel = context.WithTimeoutCause(ctx, opt.Timeout, &DeadlineError{Timeout: opt.Timeout})
	} else {
		r.ctx, r.cancel = context.WithCancel(ctx)
	}
	for i := range tasks {
		r.results[i].Name = tasks[i].Name
		r.results[i].Index = i
		r.slots[i].after = -1
	}
	r.fill()
	return r
}

// Results yields each task's result as it lands, in completion order, until
// every task is resolved. Breaking out of the loop early is allowed; Wait
// then collects the rest.
func (r *Run[T]) Results() iter.Seq[Result[T]] {
	return func(yield func(Result[T]) bool) {
		for {
			i, ok := r.step()
			if !ok || !yield(r.results[i]) {
				return
			}
		}
	}
}

// Wait collects every remaining result and returns the report. It returns
// on time even when a source ignores its context: such a source is marked
// as timed out at its deadline and, if its goroutine is still running
// Options.Grace later, Abandoned. Calling Wait again returns the same
// report.
func (r *Run[T]) Wait() *Report[T] {
	if r.report != nil {
		return r.report
	}
	for {
		if _, ok := r.step(); !ok {
			break
		}
	}
	cause := context.Cause(r.ctx)
	r.cancel()
	if r.timer != nil {
		r.timer.Stop()
	}
	r.reap()
	r.report = r.summarize(cause)
	return r.report
}

// step returns the index of the next resolved task, blocking until one
// resolves; false once all have been returned.
func (r *Run[T]) step() (int, bool) {
	for len(r.ready) == 0 {
		if r.left == 0 {
			return -1, false
		}
		r.await()
	}
	i := r.ready[0]
	r.ready = r.ready[1:]
	return i, true
}

// await blocks until something resolves at least one task: an outcome, a
// task's own deadline, or the end of the gather's context.
func (r *Run[T]) await() {
	var expired <-chan time.Time
	if d, ok := r.earliestDeadline(); ok {
		if r.timer == nil {
			r.timer = time.NewTimer(time.Until(d))
		} else {
			r.timer.Reset(time.Until(d))
		}
		expired = r.timer.C
	}
	select {
	case o := <-r.done:
		r.receive(o)
	case now := <-expired:
		r.expire(now)
	case <-r.ctx.Done():
		r.drain()
		r.stopAll(context.Cause(r.ctx))
	}
	r.fill()
}

// fill starts tasks while lanes are free.
func (r *Run[T]) fill() {
	for r.inflight < r.lanes && r.next < len(r.tasks) && r.ctx.Err() == nil {
		r.launch(r.next)
		r.next++
	}
}

func (r *Run[T]) launch(i int) {
	start := time.Now()
	s, res := &r.slots[i], &r.results[i]
	s.state = running
	s.after = r.last
	res.Start = start.Sub(r.t0)
	ctx, cancel := WithTrace(r.ctx, &s.trace), context.CancelFunc(nil)
	if to := r.tasks[i].Timeout; to > 0 {
		ctx, cancel = context.WithTimeoutCause(ctx, to, &TimeoutError{Timeout: to})
		s.deadline = start.Add(to)
	}
	r.inflight++
	r.live++
	go r.fetch(i, ctx, cancel)
}

// fetch runs one source in its own goroutine and always sends exactly one
// outcome, whatever the source does short of never returning.
func (r *Run[T]) fetch(i int, ctx context.Context, cancel context.CancelFunc) {
	o := outcome[T]{i: i}
	defer func() {
		if p := recover(); p != nil {
			o.err = &PanicError{Value: p, Stack: debug.Stack()}
		} else if o.err != nil && ctx.Err() != nil {
			// The source failed because its context ended: say why it ended
			// (its timeout, the deadline, the caller) rather than echo
			// "context deadline exceeded".
			o.err = context.Cause(ctx)
		}
		if cancel != nil {
			cancel()
		}
		o.end = time.Since(r.t0)
		r.done <- o
	}()
	o.v, o.err = r.tasks[i].Source.Fetch(ctx)
}

func (r *Run[T]) receive(o outcome[T]) {
	r.live--
	s := &r.slots[o.i]
	s.returned = true
	if s.state != running {
		return // already cut off at its deadline; the late answer is dropped
	}
	res := &r.results[o.i]
	res.Value, res.Err, res.End = o.v, o.err, o.end
	r.resolve(o.i)
}

// drain takes the outcomes already delivered, so that a source that
// answered just before the context ended keeps its answer.
func (r *Run[T]) drain() {
	for {
		select {
		case o := <-r.done:
			r.receive(o)
		default:
			return
		}
	}
}

func (r *Run[T]) resolve(i int) {
	s := &r.slots[i]
	if s.state == running {
		res := &r.results[i]
		res.Attempts, res.Marks = s.trace.Attempts(), s.trace.Marks()
	}
	s.state = resolved
	r.last = i
	r.inflight--
	r.left--
	r.ready = append(r.ready, i)
}

func (r *Run[T]) earliestDeadline() (time.Time, bool) {
	var earliest time.Time
	for i := range r.slots {
		s := &r.slots[i]
		if s.state == running && !s.deadline.IsZero() && (earliest.IsZero() || s.deadline.Before(earliest)) {
			earliest = s.deadline
		}
	}
	return earliest, !earliest.IsZero()
}

// expire cuts off the running tasks whose own deadline has passed, so that
// a source ignoring its context cannot hold its lane or the report.
func (r *Run[T]) expire(now time.Time) {
	for i := range r.slots {
		s := &r.slots[i]
		if s.state != running || s.deadline.IsZero() || now.Before(s.deadline) {
			continue
		}
		res := &r.results[i]
		res.Err = &TimeoutError{Timeout: r.tasks[i].Timeout}
		res.End = s.deadline.Sub(r.t0)
		r.resolve(i)
	}
}

// stopAll resolves every unresolved task with cause once the gather's
// context has ended.
func (r *Run[T]) stopAll(cause error) {
	now := time.Since(r.t0)
	for i := range r.slots {
		res := &r.results[i]
		switch r.slots[i].state {
		case running:
			res.Err, res.End = cause, now
		case pending:
			res.Err = &NotStartedError{Cause: cause}
			res.Start, res.End = now, now
		default:
			continue
		}
		r.resolve(i)
	}
	r.next = len(r.tasks)
}

// reap gives cut-off goroutines a grace period to return, then marks those
// still running as abandoned.
func (r *Run[T]) reap() {
	if r.live == 0 {
		return
	}
	t := time.NewTimer(r.grace)
	defer t.Stop()
	for r.live > 0 {
		select {
		case o := <-r.done:
			r.receive(o)
		case <-t.C:
			for i := range r.slots {
				if r.slots[i].state == resolved && !r.slots[i].returned {
					r.results[i].Abandoned = true
				}
			}
			return
		}
	}
}

func (r *Run[T]) summarize(cause error) *Report[T] {
	rep := &Report[T]{Results: r.results, Slowest: -1, Lanes: r.lanes}
	last := -1
	for i := range r.results {
		res := &r.results[i]
		rep.Sum += res.Latency()
		if last < 0 || res.End > rep.Total || res.End == rep.Total && res.Latency() > r.results[last].Latency() {
			last, rep.Total = i, res.End
		}
		if cause != nil && cutBy(res.Err, cause) {
			if errors.Is(cause, context.DeadlineExceeded) {
				rep.DeadlineExceeded = true
			} else {
				rep.Canceled = true
			}
		}
	}
	for i := last; i >= 0; i = r.slots[i].after {
		rep.CriticalPath = append(rep.CriticalPath, i)
		if rep.Slowest < 0 || r.results[i].Latency() > r.results[rep.Slowest].Latency() {
			rep.Slowest = i
		}
	}
	slices.Reverse(rep.CriticalPath)
	return rep
}

// cutBy reports whether err is the gather's context ending with cause, as
// opposed to a task's own failure or timeout.
func cutBy(err, cause error) bool {
	var te *TimeoutError
	if err == nil || errors.As(err, &te) {
		return false
	}
	return errors.Is(err, cause)
}
