package fanout

import (
	"context"
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

// advance is what every event ends with: hand the resolved tasks to
// Results, start what lanes and needs now allow, and either wait for the
// next event or, once every task is resolved, end.
func (g *gather[T]) advance() {
	if g.ended {
		return
	}
	g.land() // what this event resolved lands before what it lets start
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
	now := time.Now()
	g.awaitDue(now)
	g.mu.Lock()
	defer g.mu.Unlock()
	g.expire(now)
	if !g.deadline.IsZero() && !now.Before(g.deadline) {
		g.stop(g.deadlineErr)
	}
	g.advance()
}

// awaitDue waits, without the gather's lock, for the contexts whose
// deadline is due at now: their own timers fire at the same instant as
// the gather's, and a source must hear its own cause (its timeout, the
// gather's deadline) before the gather ends its context for another
// reason. Waiting under the lock would hold every other event (a task
// returning, the caller leaving) behind a channel.
func (g *gather[T]) awaitDue(now time.Time) {
	g.mu.Lock()
	var due []context.Context
	for i := range g.slots {
		if s := &g.slots[i]; s.state == running && s.ctx != nil && !s.deadline.IsZero() && !now.Before(s.deadline) {
			due = append(due, s.ctx)
		}
	}
	if g.ctx != nil && !g.deadline.IsZero() && !now.Before(g.deadline) {
		due = append(due, g.ctx)
	}
	g.mu.Unlock()
	for _, ctx := range due {
		<-ctx.Done() // due now: its timer has fired or is about to
	}
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
