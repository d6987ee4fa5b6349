package policy

import (
	"context"

	"github.com/citypopy/highway/fanout"
)

// Limit lets at most a fixed number of calls into its upstream at once (a
// bulkhead), so one slow source cannot take every connection and
// goroutine; the others wait their turn for as long as their context
// lets them. Make one with NewLimit; it is safe for concurrent use.
type Limit[T any] struct {
	next  fanout.Source[T]
	slots chan struct{}
}

// NewLimit wraps next so that at most n calls (at least 1) run at once.
func NewLimit[T any](next fanout.Source[T], n int) *Limit[T] {
	return &Limit[T]{next: next, slots: make(chan struct{}, max(n, 1))}
}

// Fetch waits for a free slot, then calls next. A call whose context
// ends first is marked fanout.Shed on its Trace: it never reached the
// upstream.
func (l *Limit[T]) Fetch(ctx context.Context) (T, error) {
	select {
	case l.slots <- struct{}{}:
	case <-ctx.Done():
		fanout.TraceFrom(ctx).Mark(fanout.Shed)
		var zero T
		return zero, ctx.Err()
	}
	defer func() { <-l.slots }()
	return l.next.Fetch(ctx)
}

// InUse is how many calls are running now.
func (l *Limit[T]) InUse() int { return len(l.slots) }
