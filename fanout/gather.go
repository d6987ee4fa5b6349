package fanout

import (
	"context"
	"runtime/debug"
	"slices"
	"sync"
	"time"
)

// gather is the state of one Run: a small state machine that every event
// moves on under one lock. The events are a task's goroutine finishing
// and the gather's timer (a planned answer or a deadline coming due); each
// resolves what it can, starts what lanes and needs now allow, and hands
// the resolved tasks to Results. No goroutine of the gather's own waits
// meanwhile, and nobody needs to be reading for lanes to refill.
//
// The caller leaving reaches the tasks through their contexts, derived
// from the caller's: they return, and their ends are events. Whoever
// waits in Results or Wait also watches the caller, so that planned
// answers and sources that ignore their context are cut off at once
// (callerGone); with nobody waiting they end by their deadlines. Watching
// the caller's context from here instead (context.AfterFunc) cost every
// request two allocations and a children map on net/http's context.
type gather[T any] struct {
	mu      sync.Mutex
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
	grace       time.Duration
	timer       *time.Timer // for planned answers and deadlines
	eager       bool        // every planned answer is delivered when due, not only the last

	lanes    int
	next     int   // the next task to start, when there are no needs
	last     int   // the task resolved most recently, whose lane a launch takes; -1 at first
	inflight int   // started and not yet resolved
	left     int   // not yet resolved
	ready    []int // resolved and not yet landed
	running  int   // goroutines started that have not finished
	endCause error // why the gather was cut short, if it was
	ended    bool  // every task is resolved: only the report is left to write
	reaping  *time.Timer
}

type slotState uint8

const (
	pending slotState = iota
	running
	resolved
)

// slot is one task's bookkeeping, under the gather's lock. A slot is the
// job its goroutine runs.
type slot[T any] struct {
	g        *gather[T]
	i        int
	state    slotState
	ctx      context.Context
	cancel   context.CancelFunc // of the task's own timeout; nil when none
	needs    map[string]T
	planned  bool      // a Planned source: no goroutine, answered at readyAt
	spawned  bool      // a goroutine runs its Fetch
	finished bool      // that goroutine has returned
	after    int       // the task whose end let this one start; -1 if it started at once
	deadline time.Time // the task's own deadline; zero when it has none
	readyAt  time.Time // when a planned answer lands
	out      outcome[T]
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
		t0:      time.Now(),
		grace:   opt.Grace,
		lanes:   opt.Lanes,
		left:    n,
		last:    -1,
	}
	if g.lanes <= 0 || g.lanes > n {
		g.lanes = n
	}
	g.eager = g.lanes < n // every end frees a lane for the next task
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

// start checks the graph and starts what can start.
func (g *gather[T]) start() {
	g.mu.Lock()
	defer g.mu.Unlock()
	needs, err := graphOf(g.tasks)
	switch {
	case err != nil:
		g.refuse(err)
	case needs != nil:
		g.needs = needs
		g.eager = true // every end may let a task that needs it start
	}
	g.advance()
}

// advance is what every event ends with: start what lanes and needs now
// allow, hand the resolved tasks to Results, and either wait for the next
// event or, once every task is resolved, end.
func (g *gather[T]) advance() {
	if g.ended {
		return
	}
	g.fill()
	g.land()
	if g.left > 0 {
		g.arm()
		return
	}
	g.end()
}

// finished is the event of task s's goroutine returning.
func (g *gather[T]) finished(s *slot[T]) {
	g.mu.Lock()
	defer g.mu.Unlock()
	s.finished = true
	g.running--
	if s.state == running && !s.planned {
		g.resolveWith(s.i, s.out)
	}
	if g.ended {
		g.reaped()
		return
	}
	g.advance()
}

// tick is the event of the gather's timer: planned answers and deadlines
// due.
func (g *gather[T]) tick() {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := time.Now()
	g.expire(now)
	if !g.deadline.IsZero() && !now.Before(g.deadline) {
		g.stop(g.deadlineErr)
	}
	g.advance()
}

// callerGone is the event of the caller's context ending, seen by
// whoever waits for the gather.
func (g *gather[T]) callerGone() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.expire(time.Now()) // what was due just before the end keeps its answer
	g.stop(context.Cause(g.parent))
	g.advance()
}

// listen is Results saying that every result is awaited as it lands,
// not only the report.
func (g *gather[T]) listen() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.eager {
		g.eager = true
		g.advance()
	}
}

// arm sets the gather's timer for the next moment it must act on its own.
func (g *gather[T]) arm() {
	d, ok := g.nextDue()
	switch {
	case !ok && g.timer != nil:
		g.timer.Stop()
	case !ok:
	case g.timer == nil:
		g.timer = time.AfterFunc(time.Until(d), g.tick)
	default:
		g.timer.Reset(time.Until(d))
	}
}

// over reports whether the gather has ended: its caller gone or its
// deadline passed.
func (g *gather[T]) over() bool {
	return g.endCause != nil || g.parent.Err() != nil || !g.deadline.IsZero() && !time.Now().Before(g.deadline)
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
	g.running++
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

// done publishes the task's outcome, on its goroutine.
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
	s.g.finished(s)
}

// plan takes a planned source's answer now and lets the gather's timer
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

// nextDue is the moment the gather must next act on its own. When every
// answer is awaited as it lands (or lanes wait) that is the earliest
// planned answer or deadline. Otherwise planned answers need no event of
// their own: the timer waits for the last of them, or for the earliest
// deadline of a goroutine task or of the gather, if that comes first.
func (g *gather[T]) nextDue() (time.Time, bool) {
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
		if !s.planned || g.eager {
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
		now = g.deadline.Sub(g.t0) // on the dot, however late the event
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

// end follows the last task's resolution: it releases the gather's
// context and watches, and gives cut-off goroutines their grace before the
// report is written.
func (g *gather[T]) end() {
	g.ended = true
	if g.endCause == nil {
		g.endCause = context.Cause(g.parent) // ended while its last tasks failed of it
		if g.endCause == nil && g.ctx != nil {
			g.endCause = context.Cause(g.ctx)
		}
	}
	if g.timer != nil {
		g.timer.Stop()
	}
	if g.cancel != nil {
		if g.endCause == g.deadlineErr {
			<-g.ctx.Done() // due now: the tasks hear of the deadline, not of a cancel
		}
		g.cancel()
	}
	if g.running == 0 {
		g.publish()
		return
	}
	g.reaping = time.AfterFunc(g.grace, g.abandon)
}

// reaped notes a cut-off goroutine returning within its grace.
func (g *gather[T]) reaped() {
	if g.running == 0 && g.reaping != nil && g.reaping.Stop() {
		g.publish()
	}
}

// abandon marks the goroutines still running a grace period after the
// end as abandoned, and writes the report without them.
func (g *gather[T]) abandon() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for i := range g.slots {
		if s := &g.slots[i]; s.spawned && !s.finished {
			g.results[i].Abandoned = true
		}
	}
	g.publish()
}

func (g *gather[T]) publish() {
	g.owner.report = g.summarize(g.endCause)
	close(g.owner.done)
}
