package fanout

import (
	"context"
	"time"
)

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
		// At the gather's deadline its context has already ended with
		// the deadline's cause (tick waited for it, awaitDue), so the
		// tasks hear of the deadline, not of this cancel.
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
