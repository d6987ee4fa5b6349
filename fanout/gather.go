package fanout

import (
	"context"
	"runtime/debug"
	"slices"
	"sync/atomic"
	"time"
)

// gather is the state of one Run, owned by its driver goroutine (drive):
// only the driver starts tasks, resolves them and reads the clock for
// them. A task's goroutine writes its outcome into its slot and wakes the
// driver; nothing else is shared.
type gather[T any] struct {
	owner   *Run[T]
	tasks   []Task[T]
	needs   [][]int // by task, the tasks it needs; nil when none has needs
	results []Result[T]
	slots   []slot[T]

	parent context.Context
	// ctx is the tasks' parent: parent with the gather's deadline, made
	// with the first goroutine task (a gather of planned sources needs
	// none), cancelled when the gather ends.
	ctx         context.Context
	cancel      context.CancelFunc
	t0          time.Time
	deadline    time.Time // of the whole gather; zero when none
	deadlineErr *DeadlineError
	endCause    error // why the gather was cut short, if it was
	grace       time.Duration
	timer       *time.Timer // the driver's, for planned answers and deadlines

	lanes    int
	next     int   // the next task to start, when there are no needs
	last     int   // the task resolved most recently, whose lane a launch takes; -1 at first
	inflight int   // started and not yet resolved
	left     int   // not yet resolved
	ready    []int // resolved and not yet landed

	// wake gets a token from a finishing goroutine when the driver must hear
	// of it at once (eager) or when it is the last one running, and from
	// listen; the outcome itself is in the task's slot.
	wake    chan struct{}
	eager   atomic.Bool
	running atomic.Int32 // goroutines started that have not finished
}

type slotState uint8

const (
	pending slotState = iota
	running
	resolved
)

// slot is one task's bookkeeping. The driver owns all of it but out and
// finished, which the task's goroutine writes before it finishes. A slot
// is the job its goroutine runs.
type slot[T any] struct {
	g        *gather[T]
	i        int
	state    slotState
	ctx      context.Context
	cancel   context.CancelFunc // of the task's own timeout; nil when none
	needs    map[string]T
	planned  bool      // a Planned source: no goroutine, answered at readyAt
	spawned  bool      // a goroutine runs its Fetch
	after    int       // the task whose end let this one start; -1 if it started at once
	deadline time.Time // the task's own deadline; zero when it has none
	readyAt  time.Time // when a planned answer lands
	out      outcome[T]
	finished atomic.Bool
}

type outcome[T any] struct {
	v   T
	err error
	end time.Duration
}

func newGather[T any](ctx context.Context, tasks []Task[T], opt Options, run *Run[T]) *gather[T] {
	n := len(tasks)
	g := &gather[T]{
		owner: run, tasks: tasks, parent: ctx,
		results: make([]Result[T], n),
		slots:   make([]slot[T], n),
		ready:   make([]int, 0, n),
		wake:    make(chan struct{}, n+1),
		t0:      time.Now(),
		grace:   opt.Grace,
		lanes:   opt.Lanes,
		left:    n,
		last:    -1,
	}
	if g.lanes <= 0 || g.lanes > n {
		g.lanes = n
	}
	if g.lanes < n {
		g.eager.Store(true) // every end frees a lane for the next task
	}
	if g.grace <= 0 {
		g.grace = DefaultGrace
	}
	if opt.Timeout > 0 {
		g.deadline = g.t0.Add(opt.Timeout)
		g.deadlineErr = &DeadlineError{Timeout: opt.Timeout}
	}
	for i := range tasks {
		g.results[i].Name, g.results[i].Index = tasks[i].Name, i
		g.slots[i].g, g.slots[i].i, g.slots[i].after = g, i, -1
	}
	return g
}

// run drives the gather on its own goroutine: the gather is the job
// spawn runs.
func (g *gather[T]) run() (struct{}, error) {
	g.drive()
	return struct{}{}, nil
}

// done hears how the driver ended: a panic would be a bug in this
// package, which fails the tasks, not the process.
func (g *gather[T]) done(_ struct{}, err error) {
	if err != nil {
		g.wreck(err)
	}
}

// drive runs the gather to its end: it starts tasks as lanes and needs
// allow, resolves them as they finish or are cut off, then writes the
// report.
func (g *gather[T]) drive() {
	needs, err := graphOf(g.tasks)
	switch {
	case err != nil:
		g.refuse(err)
	case needs != nil:
		g.needs = needs
		g.eager.Store(true) // every end may let a task that needs it start
	}
	g.fill()
	g.land()
	for g.left > 0 {
		g.await()
		g.fill()
		g.land()
	}
	g.end()
}

// listen is Results telling the driver that every result is awaited as
// it lands, not only the report.
func (g *gather[T]) listen() {
	if !g.eager.Swap(true) {
		select {
		case g.wake <- struct{}{}:
		default: // the driver has a token to wake on already
		}
	}
}

// await blocks until something may have resolved a task: a goroutine
// finishing, a planned answer or a task's deadline coming due, or the end
// of the gather's context.
func (g *gather[T]) await() {
	var due <-chan time.Time
	if d, ok := g.nextDue(); ok {
		if g.timer == nil {
			g.timer = time.NewTimer(time.Until(d))
		} else {
			g.timer.Reset(time.Until(d))
		}
		due = g.timer.C
	}
	select {
	case <-g.wake:
		g.collect()
	case now := <-due:
		g.collect()
		g.expire(now)
		if !g.deadline.IsZero() && !now.Before(g.deadline) {
			g.stop(g.deadlineErr)
		}
	case <-g.tasksCtx().Done():
		g.collect() // an answer that landed just before the end keeps it
		g.expire(time.Now())
		g.stop(context.Cause(g.tasksCtx()))
	}
}

// tasksCtx is the context the gather's tasks run under, or its caller's
// until a goroutine task has made one.
func (g *gather[T]) tasksCtx() context.Context {
	if g.ctx != nil {
		return g.ctx
	}
	return g.parent
}

// over reports whether the gather has ended: its caller gone or its
// deadline passed.
func (g *gather[T]) over() bool {
	return g.tasksCtx().Err() != nil || !g.deadline.IsZero() && !time.Now().Before(g.deadline)
}

// fill starts tasks while lanes are free: in the order given, or, when
// tasks have needs, each as soon as its needs have finished (so with one
// lane, in a topological order).
func (g *gather[T]) fill() {
	if g.needs != nil {
		g.fillGraph()
		return
	}
	for g.inflight < g.lanes && g.next < len(g.tasks) && !g.over() {
		g.launch(g.next, g.last)
		g.next++
	}
}

// launch starts task i, which waited for task after (-1: nobody).
func (g *gather[T]) launch(i, after int) {
	start := time.Now()
	s, res := &g.slots[i], &g.results[i]
	s.state, s.after = running, after
	res.Start = start.Sub(g.t0)
	g.inflight++
	if to := g.tasks[i].Timeout; to > 0 {
		s.deadline = start.Add(to)
	}
	if p, ok := g.tasks[i].Source.(Planned[T]); ok {
		g.plan(i, p, start)
		return
	}
	s.ctx = g.taskContext(s)
	s.spawned = true
	g.running.Add(1)
	spawn[T](s)
}

// taskContext is the context of a goroutine task: the gather's, with the
// task's own timeout as a deadline whose cause is a *TimeoutError.
func (g *gather[T]) taskContext(s *slot[T]) context.Context {
	if g.ctx == nil {
		if g.deadlineErr != nil {
			g.ctx, g.cancel = context.WithDeadlineCause(g.parent, g.deadline, g.deadlineErr)
		} else {
			g.ctx, g.cancel = context.WithCancel(g.parent)
		}
	}
	if d, ok := g.ctx.Deadline(); s.deadline.IsZero() || ok && !s.deadline.Before(d) {
		// The gather's context ends first anyway: a context of the task's
		// own would cost allocations on every call (and net/http's
		// children of it more) for a timeout that never fires.
		return g.ctx
	}
	ctx, cancel := context.WithDeadlineCause(g.ctx, s.deadline, &TimeoutError{Timeout: g.tasks[s.i].Timeout})
	s.cancel = cancel
	return ctx
}

// run calls the task's source, on its own goroutine.
func (s *slot[T]) run() (T, error) { return s.g.tasks[s.i].Source.Fetch(s.ctx, s.needs) }

// done publishes the task's outcome and wakes the driver if it is
// listening for every end, or if this was the last goroutine running.
// Publishing before reading eager pairs with listen setting eager before
// the driver collects: either the driver sees the outcome or this sees
// eager, so no outcome waits unseen.
func (s *slot[T]) done(v T, err error) {
	if _, panicked := err.(*PanicError); err != nil && !panicked && s.ctx.Err() != nil {
		// The source failed because its context ended: say why it ended
		// (its timeout, the deadline, the caller) rather than echo
		// "context deadline exceeded".
		err = context.Cause(s.ctx)
	}
	if s.cancel != nil {
		s.cancel()
	}
	s.out = outcome[T]{v: v, err: err, end: time.Since(s.g.t0)}
	s.finished.Store(true)
	if last := s.g.running.Add(-1) == 0; last || s.g.eager.Load() {
		s.g.wake <- struct{}{} // never blocks: one token per goroutine at most
	}
}

// plan takes a planned source's answer now and lets the driver's timer
// deliver it when it is due.
func (g *gather[T]) plan(i int, p Planned[T], start time.Time) {
	s := &g.slots[i]
	s.planned = true
	s.readyAt = start // a panicking plan answers at once
	func() {
		defer func() {
			if v := recover(); v != nil {
				s.out.err = &PanicError{Value: v, Stack: debug.Stack()}
			}
		}()
		var after time.Duration
		s.out.v, after, s.out.err = p.Plan()
		s.readyAt = start.Add(max(after, 0))
	}()
	s.out.end = s.readyAt.Sub(g.t0)
	if !s.readyAt.After(start) {
		g.resolveWith(i, s.out)
	}
}

// collect resolves the running tasks whose goroutines have finished.
func (g *gather[T]) collect() {
	for i := range g.slots {
		if s := &g.slots[i]; s.state == running && s.spawned && s.finished.Load() {
			g.resolveWith(i, s.out)
		}
	}
}

// nextDue is the moment the driver must next act on its own. While
// results are awaited as they land (or lanes wait) that is the earliest
// planned answer or deadline. Otherwise planned answers need no wake of
// their own: the driver sleeps until the last of them is due, or until the
// earliest deadline of a goroutine task or of the gather, if that comes
// first.
func (g *gather[T]) nextDue() (time.Time, bool) {
	eager := g.eager.Load()
	var first, lastPlanned time.Time
	earlier := func(t time.Time) {
		if !t.IsZero() && (first.IsZero() || t.Before(first)) {
			first = t
		}
	}
	earlier(g.deadline)
	for i := range g.slots {
		s := &g.slots[i]
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
func (g *gather[T]) expire(now time.Time) {
	for i := range g.slots {
		s := &g.slots[i]
		if s.state != running {
			continue
		}
		due := s.readyAt
		if !s.deadline.IsZero() && (due.IsZero() || s.deadline.Before(due)) {
			if now.Before(s.deadline) {
				continue
			}
			res := &g.results[i]
			res.Err = &TimeoutError{Timeout: g.tasks[i].Timeout}
			res.End = s.deadline.Sub(g.t0)
			if s.ctx != nil {
				// Its context's timer is due at the same instant: let it
				// fire, so that the source hears why, before the end of
				// the gather can cancel it for another reason.
				<-s.ctx.Done()
			}
			g.resolve(i)
			continue
		}
		if s.planned && !now.Before(due) {
			g.resolveWith(i, s.out)
		}
	}
}

// stop resolves every unresolved task with cause once the gather's
// context has ended.
func (g *gather[T]) stop(cause error) {
	if g.left == 0 {
		return
	}
	g.endCause = cause
	now := time.Since(g.t0)
	if cause == g.deadlineErr {
		now = g.deadline.Sub(g.t0) // on the dot, however late the wake
	}
	for i := range g.slots {
		res := &g.results[i]
		switch g.slots[i].state {
		case running:
			res.Err, res.End = cause, now
		case pending:
			res.Err = &NotStartedError{Cause: cause}
			res.Start, res.End = now, now
		default:
			continue
		}
		g.resolve(i)
	}
	g.next = len(g.tasks)
}

// refuse resolves every task with err, for tasks that cannot run as a
// graph: nothing is called.
func (g *gather[T]) refuse(err error) {
	for i := range g.results {
		g.results[i].Err = err
		g.resolve(i)
	}
	g.next = len(g.tasks)
}

func (g *gather[T]) resolveWith(i int, o outcome[T]) {
	res := &g.results[i]
	res.Value, res.Err, res.End = o.v, o.err, o.end
	g.resolve(i)
}

func (g *gather[T]) resolve(i int) {
	if g.slots[i].state == running {
		g.inflight--
	}
	g.slots[i].state = resolved
	g.last = i
	g.left--
	g.ready = append(g.ready, i)
}

// land hands the tasks resolved since the last call to Results, in the
// order they ended.
func (g *gather[T]) land() {
	slices.SortStableFunc(g.ready, func(a, b int) int { return int(g.results[a].End - g.results[b].End) })
	for _, i := range g.ready {
		g.owner.landed <- i // never blocks: room for every task
	}
	g.ready = g.ready[:0]
}

// end releases the gather's context, gives cut-off goroutines their
// grace, and publishes the report.
func (g *gather[T]) end() {
	cause := g.endCause
	if cause == nil {
		cause = context.Cause(g.tasksCtx()) // ended while its last tasks failed of it
	}
	if g.cancel != nil {
		if cause == g.deadlineErr {
			<-g.ctx.Done() // due now: the tasks hear of the deadline, not of a cancel
		}
		g.cancel()
	}
	if g.timer != nil {
		g.timer.Stop()
	}
	g.reap()
	g.owner.report = g.summarize(cause)
	close(g.owner.done)
}

// reap gives cut-off goroutines a grace period to finish, then marks those
// still running as abandoned.
func (g *gather[T]) reap() {
	if g.running.Load() == 0 {
		return
	}
	g.eager.Store(true)
	t := time.NewTimer(g.grace)
	defer t.Stop()
	for g.running.Load() > 0 {
		select {
		case <-g.wake:
		case <-t.C:
			for i := range g.slots {
				if s := &g.slots[i]; s.spawned && !s.finished.Load() {
					g.results[i].Abandoned = true
				}
			}
			return
		}
	}
}

// wreck ends a gather whose driver panicked, which would be a bug here:
// every task not yet landed fails with err, so no caller waits forever.
func (g *gather[T]) wreck(err error) {
	for i := range g.results {
		if g.slots[i].state != resolved {
			g.results[i].Err = err
			g.owner.landed <- i
		}
	}
	if g.cancel != nil {
		g.cancel()
	}
	g.owner.report = g.summarize(nil)
	close(g.owner.done)
}
