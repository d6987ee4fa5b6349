package fanout

import (
	"context"
	"errors"
	"iter"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
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
	parent context.Context
	// values is parent without its cancellation: what task contexts look
	// values up in. Made with the first goroutine task, as are the watch on
	// parent and the deadline timer, so a gather of planned sources alone
	// costs none of them.
	values      context.Context
	unwatch     func() bool
	deadlineTmr *time.Timer
	mu          sync.Mutex // guards taskCtxs and ended, shared with cancelTasks
	taskCtxs    []*taskContext
	ended       error // why every task's context was cancelled

	deadline    time.Time // of the whole gather; zero when none
	deadlineErr *DeadlineError
	endCause    error // why stopAll ended the gather early
	tasks       []Task[T]
	needs       [][]int // by task, the tasks it needs; nil when none has needs
	grace       time.Duration
	t0          time.Time
	lanes       int

	results []Result[T]
	slots   []slot[T]
	ready   []int // resolved and not yet yielded, in completion order

	// wake gets a token from a finishing goroutine when the collector must
	// hear of it at once (eager) or when it is the last one running; the
	// outcome itself is in the task's slot.
	wake       chan struct{}
	eager      atomic.Bool
	unfinished atomic.Int32 // goroutines started that have not finished

	next     int // index of the next task to start
	last     int // the task resolved most recently, whose lane a launch takes; -1 at first
	inflight int // started and not yet resolved
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

// slot is one task's bookkeeping. The collector owns all of it but out and
// finished, which the task's goroutine writes before it finishes.
type slot[T any] struct {
	state    slotState
	ctx      *taskContext
	timeout  *time.Timer // the task's own, for a goroutine task
	planned  bool        // a Planned source: no goroutine, answered at readyAt
	spawned  bool        // a goroutine runs its Fetch
	after    int         // the task whose end freed this one's lane; -1 if it started at once
	deadline time.Time   // the task's own deadline; zero when it has none
	readyAt  time.Time   // when a planned answer lands
	trace    Trace
	out      outcome[T]
	finished atomic.Bool
}

type outcome[T any] struct {
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
		slots:   make([]slot[T], n),
		ready:   make([]int, 0, n),
		wake:    make(chan struct{}, n),
		left:    n,
		last:    -1,
	}
	if r.lanes <= 0 || r.lanes > n {
		r.lanes = n
	}
	if r.lanes < n {
		r.eager.Store(true) // every end frees a lane for the next task
	}
	if r.grace <= 0 {
		r.grace = DefaultGrace
	}
	r.parent = ctx
	if opt.Timeout > 0 {
		r.deadline = r.t0.Add(opt.Timeout)
		r.deadlineErr = &DeadlineError{Timeout: opt.Timeout}
	}
	for i := range tasks {
		r.results[i].Name = tasks[i].Name
		r.results[i].Index = i
		r.slots[i].after = -1
	}
	needs, err := graphOf(tasks)
	if err != nil {
		r.refuse(err)
		return r
	}
	if needs != nil {
		r.needs = needs
		r.eager.Store(true) // every end may let a task that needs it start
	}
	r.fill()
	return r
}

// refuse resolves every task with err, for tasks that cannot run as a
// graph: nothing is called.
func (r *Run[T]) refuse(err error) {
	for i := range r.results {
		r.results[i].Err = err
		r.resolve(i)
	}
}

// Results yields each task's result as it lands, in completion order, until
// every task is resolved. Breaking out of the loop early is allowed; Wait
// then collects the rest.
func (r *Run[T]) Results() iter.Seq[Result[T]] {
	return func(yield func(Result[T]) bool) {
		r.eager.Store(true) // before collecting: see finish
		r.collect()
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
	cause := r.endCause
	if cause == nil {
		r.mu.Lock()
		cause = r.ended
		r.mu.Unlock()
	}
	r.release()
	if r.timer != nil {
		r.timer.Stop()
	}
	r.reap()
	// A task cut off by the deadline or its caller was resolved at once;
	// what its policies recorded while stopping (a call shed while it
	// waited for a slot) is only known now that its goroutine is done.
	for i := range r.slots {
		if s := &r.slots[i]; s.spawned && s.finished.Load() {
			r.results[i].Marks = s.trace.Marks()
		}
	}
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

// await blocks until something may have resolved a task: a goroutine
// finishing, a planned answer or a task's deadline coming due, or the end
// of the gather's context.
func (r *Run[T]) await() {
	var due <-chan time.Time
	if d, ok := r.nextDue(); ok {
		if r.timer == nil {
			r.timer = time.NewTimer(time.Until(d))
		} else {
			r.timer.Reset(time.Until(d))
		}
		due = r.timer.C
	}
	select {
	case <-r.wake:
		r.collect()
	case now := <-due:
		r.collect()
		r.expire(now)
		if !r.deadline.IsZero() && !now.Before(r.deadline) {
			r.stopAll(r.deadlineErr)
		}
	case <-r.parent.Done():
		r.collect() // an answer that landed just before the end keeps it
		r.expire(time.Now())
		r.stopAll(context.Cause(r.parent))
	}
	r.fill()
}

// over reports whether the gather has ended: its caller gone or its
// deadline passed.
func (r *Run[T]) over() bool {
	return r.parent.Err() != nil || !r.deadline.IsZero() && !time.Now().Before(r.deadline)
}

// taskContextFor makes the context of goroutine task i, starting the
// gather's watch on its caller and its deadline with the first one.
func (r *Run[T]) taskContextFor(i int, start time.Time, in map[string]T) *taskContext {
	s := &r.slots[i]
	if r.values == nil {
		r.values = detached(r.parent)
		r.unwatch = context.AfterFunc(r.parent, func() { r.cancelTasks(context.Cause(r.parent)) })
		if r.deadlineErr != nil {
			r.deadlineTmr = time.AfterFunc(time.Until(r.deadline), func() { r.cancelTasks(r.deadlineErr) })
		}
	}
	deadline := r.deadline
	if d, ok := r.parent.Deadline(); ok && (deadline.IsZero() || d.Before(deadline)) {
		deadline = d
	}
	if !s.deadline.IsZero() && (deadline.IsZero() || s.deadline.Before(deadline)) {
		deadline = s.deadline
	}
	values := r.values
	if in != nil {
		values = context.WithValue(values, inputsKey{}, in)
	}
	tc := newTaskContext(values, deadline, &s.trace)
	r.mu.Lock()
	r.taskCtxs = append(r.taskCtxs, tc)
	ended := r.ended
	r.mu.Unlock()
	if ended != nil {
		tc.cancel(ended)
	} else if to := r.tasks[i].Timeout; to > 0 {
		s.timeout = time.AfterFunc(s.deadline.Sub(start), func() { tc.cancel(&TimeoutError{Timeout: to}) })
	}
	return tc
}

// cancelTasks ends every task's context with cause: the caller left, the
// deadline passed, or the gather is over.
func (r *Run[T]) cancelTasks(cause error) {
	if r.values == nil {
		return // no goroutine task has started
	}
	r.mu.Lock()
	if r.ended == nil {
		r.ended = cause
	}
	ctxs := r.taskCtxs
	r.mu.Unlock()
	for _, tc := range ctxs {
		tc.cancel(cause)
	}
}

// release stops the gather's watches and cancels what still runs.
func (r *Run[T]) release() {
	if r.values == nil {
		return
	}
	r.unwatch()
	if r.deadlineTmr != nil {
		r.deadlineTmr.Stop()
	}
	r.cancelTasks(context.Canceled)
}

// fill starts tasks while lanes are free: in the order given, or, when
// tasks have needs, each as soon as its needs have finished (so with one
// lane, in a topological order).
func (r *Run[T]) fill() {
	if r.needs != nil {
		r.fillGraph()
		return
	}
	for r.inflight < r.lanes && r.next < len(r.tasks) && !r.over() {
		r.launch(r.next, r.last, nil)
		r.next++
	}
}

// fillGraph starts or skips every pending task whose needs have all
// finished, until no more can: a skip or an instant answer may free the
// next.
func (r *Run[T]) fillGraph() {
	for moved := true; moved && !r.over(); {
		moved = false
		for i := range r.tasks {
			if r.slots[i].state != pending || !r.resolvedNeeds(i) {
				continue
			}
			if need, err := r.failedNeed(i); err != nil {
				r.skip(i, need, err)
				moved = true
				continue
			}
			if r.inflight < r.lanes {
				after := r.lastNeed(i)
				if r.lanes < len(r.tasks) && r.last >= 0 && (after < 0 || r.results[r.last].End > r.results[after].End) {
					after = r.last // the lane it waited for freed later than its needs
				}
				r.launch(i, after, r.inputs(i))
				moved = true
			}
		}
	}
}

func (r *Run[T]) resolvedNeeds(i int) bool {
	for _, j := range r.needs[i] {
		if r.slots[j].state != resolved {
			return false
		}
	}
	return true
}

// failedNeed is the first failed need of i without a fallback.
func (r *Run[T]) failedNeed(i int) (int, error) {
	for _, j := range r.needs[i] {
		if err := r.results[j].Err; err != nil {
			if _, ok := r.tasks[i].Fallbacks[r.tasks[j].Name]; !ok {
				return j, &SkippedError{Need: r.tasks[j].Name, Err: err}
			}
		}
	}
	return -1, nil
}

// lastNeed is the need of i that ended last, or -1.
func (r *Run[T]) lastNeed(i int) int {
	last := -1
	for _, j := range r.needs[i] {
		if last < 0 || r.results[j].End > r.results[last].End {
			last = j
		}
	}
	return last
}

// inputs are the values of i's needs, fallbacks where they failed; the
// needs that fell back are noted on i's result.
func (r *Run[T]) inputs(i int) map[string]T {
	if len(r.needs[i]) == 0 {
		return nil
	}
	in := make(map[string]T, len(r.needs[i]))
	for _, j := range r.needs[i] {
		name := r.tasks[j].Name
		if r.results[j].Err != nil {
			in[name] = r.tasks[i].Fallbacks[name]
			r.results[i].Fallbacks = append(r.results[i].Fallbacks, name)
			continue
		}
		in[name] = r.results[j].Value
	}
	return in
}

// skip resolves pending task i, uncalled, with err: at the moment its need
// failed, which is what its lane waited on.
func (r *Run[T]) skip(i, need int, err error) {
	res := &r.results[i]
	res.Err, res.Start, res.End = err, r.results[need].End, r.results[need].End
	r.slots[i].after = need
	r.resolve(i)
}

// launch starts task i, which waited for task after (-1: nobody), with the
// values of its needs.
func (r *Run[T]) launch(i, after int, in map[string]T) {
	start := time.Now()
	s, res := &r.slots[i], &r.results[i]
	s.state = running
	s.after = after
	res.Start = start.Sub(r.t0)
	r.inflight++
	to := r.tasks[i].Timeout
	if to > 0 {
		s.deadline = start.Add(to)
	}
	if p, ok := r.tasks[i].Source.(Planned[T]); ok {
		r.plan(i, p, start)
		return
	}
	s.ctx = r.taskContextFor(i, start, in)
	r.unfinished.Add(1)
	s.spawned = true
	go r.fetch(i)
}

// plan takes a planned source's answer now and lets the gather's timer
// deliver it when it is due.
func (r *Run[T]) plan(i int, p Planned[T], start time.Time) {
	s := &r.slots[i]
	s.planned = true
	s.readyAt = start // a panicking plan answers at once
	func() {
		defer func() {
			if v := recover(); v != nil {
				s.out.err = &PanicError{Value: v, Stack: debug.Stack()}
			}
		}()
		var after time.Duration
		s.out.v, s.out.err, after = p.Plan()
		s.readyAt = start.Add(max(after, 0))
	}()
	s.out.end = s.readyAt.Sub(r.t0)
	if !s.readyAt.After(start) {
		r.resolveWith(i, s.out)
	}
}

// fetch runs one source in its own goroutine and always publishes exactly
// one outcome, whatever the source does short of never returning.
func (r *Run[T]) fetch(i int) {
	s := &r.slots[i]
	ctx := s.ctx
	defer func() {
		if p := recover(); p != nil {
			s.out.err = &PanicError{Value: p, Stack: debug.Stack()}
		} else if s.out.err != nil && ctx.Err() != nil {
			// The source failed because its context ended: say why it ended
			// (its timeout, the deadline, the caller) rather than echo
			// "context deadline exceeded".
			s.out.err = Cause(ctx)
		}
		if s.timeout != nil {
			s.timeout.Stop()
		}
		s.out.end = time.Since(r.t0)
		r.finish(s)
	}()
	s.out.v, s.out.err = r.tasks[i].Source.Fetch(ctx)
}

// finish publishes a goroutine's outcome and wakes the collector if it is
// listening for every end, or if this was the last goroutine running.
// Publishing before reading eager pairs with Results setting eager before
// collecting: either the collector sees the outcome or the goroutine sees
// eager, so no outcome waits unseen.
func (r *Run[T]) finish(s *slot[T]) {
	s.finished.Store(true)
	if last := r.unfinished.Add(-1) == 0; last || r.eager.Load() {
		r.wake <- struct{}{} // never blocks: one token per goroutine at most
	}
}

// collect resolves the running tasks whose goroutines have finished, in the
// order they ended.
func (r *Run[T]) collect() {
	from := len(r.ready)
	for i := range r.slots {
		s := &r.slots[i]
		if s.state == running && !s.planned && s.finished.Load() {
			r.resolveWith(i, s.out)
		}
	}
	r.sortReady(from)
}

// sortReady puts the tasks resolved since ready[from] in the order they
// ended, so results stream in completion order.
func (r *Run[T]) sortReady(from int) {
	if added := r.ready[from:]; len(added) > 1 {
		slices.SortStableFunc(added, func(a, b int) int { return int(r.results[a].End - r.results[b].End) })
	}
}

func (r *Run[T]) resolveWith(i int, o outcome[T]) {
	res := &r.results[i]
	res.Value, res.Err, res.End = o.v, o.err, o.end
	r.resolve(i)
}

func (r *Run[T]) resolve(i int) {
	s := &r.slots[i]
	if s.state == running {
		res := &r.results[i]
		res.Attempts, res.Marks = s.trace.Attempts(), s.trace.Marks()
		r.inflight--
	}
	s.state = resolved
	r.last = i
	r.left--
	r.ready = append(r.ready, i)
}

// nextDue is the moment the collector must next act on its own. While
// results are streamed (or lanes wait) that is the earliest planned answer
// or deadline. Otherwise planned answers need no wake of their own: the
// collector sleeps until the last of them is due, or until the earliest
// deadline of a goroutine task or of the gather, if that comes first.
func (r *Run[T]) nextDue() (time.Time, bool) {
	eager := r.eager.Load()
	var first, lastPlanned time.Time
	earlier := func(t time.Time) {
		if !t.IsZero() && (first.IsZero() || t.Before(first)) {
			first = t
		}
	}
	earlier(r.deadline)
	for i := range r.slots {
		s := &r.slots[i]
		if s.state != running {
			continue
		}
		if !s.planned || eager {
			earlier(s.deadline)
			earlier(s.readyAt)
			continue
		}
		due := s.readyAt
		if !s.deadline.IsZero() && s.deadline.Before(due) {
			due = s.deadline
		}
		if due.After(lastPlanned) {
			lastPlanned = due
		}
	}
	earlier(lastPlanned)
	return first, !first.IsZero()
}

// expire delivers the planned answers that are due and cuts off the tasks
// whose own deadline has passed, so that a source ignoring its context
// cannot hold its lane or the report.
func (r *Run[T]) expire(now time.Time) {
	from := len(r.ready)
	defer r.sortReady(from)
	for i := range r.slots {
		s := &r.slots[i]
		if s.state != running {
			continue
		}
		due := s.readyAt
		if !s.deadline.IsZero() && (due.IsZero() || s.deadline.Before(due)) {
			if now.Before(s.deadline) {
				continue
			}
			res := &r.results[i]
			res.Err = &TimeoutError{Timeout: r.tasks[i].Timeout}
			res.End = s.deadline.Sub(r.t0)
			if s.ctx != nil {
				s.ctx.cancel(res.Err) // the source hears why, before any other end
			}
			r.resolve(i)
			continue
		}
		if s.planned && !now.Before(due) {
			r.resolveWith(i, s.out)
		}
	}
}

// stopAll resolves every unresolved task with cause once the gather's
// context has ended.
func (r *Run[T]) stopAll(cause error) {
	if r.left == 0 {
		return
	}
	r.endCause = cause
	r.cancelTasks(cause)
	now := time.Since(r.t0)
	if !r.deadline.IsZero() && cause == r.deadlineErr {
		now = r.deadline.Sub(r.t0) // on the dot, however late the wake
	}
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

// reap gives cut-off goroutines a grace period to finish, then marks those
// still running as abandoned.
func (r *Run[T]) reap() {
	if r.unfinished.Load() == 0 {
		return
	}
	r.eager.Store(true)
	t := time.NewTimer(r.grace)
	defer t.Stop()
	for r.unfinished.Load() > 0 {
		select {
		case <-r.wake:
		case <-t.C:
			for i := range r.slots {
				s := &r.slots[i]
				if s.spawned && !s.finished.Load() {
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
	if err == nil {
		return false
	}
	if _, own := errors.AsType[*TimeoutError](err); own {
		return false
	}
	return errors.Is(err, cause)
}
