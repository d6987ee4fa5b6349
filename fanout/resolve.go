package fanout

import (
	"slices"
	"time"
)

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
			// Its context's timer, due at the same instant, has fired:
			// tick waited for it (awaitDue) before taking the lock, so
			// the source heard why before the gather can end it.
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
		g.owner.events <- i // never blocks: room for every task
	}
	g.ready = g.ready[:0]
}
