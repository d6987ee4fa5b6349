package fanout

import (
	"github.com/citypopy/highway/internal/routine"

	"context"
	"runtime/debug"
	"time"
)

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
	g.owner.events <- ^i // a start; never blocks: room for every task
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
	routine.Spawn[T](s)
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

// Run calls the task's source, on its own goroutine.
func (s *slot[T]) Run() (T, error) { return s.g.tasks[s.i].Source.Fetch(s.ctx, s.needs) }

// Done publishes the task's outcome, on its goroutine.
func (s *slot[T]) Done(v T, err error) {
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
