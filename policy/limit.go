package policy

import "context"

// Limit lets at most a fixed number of calls into its upstream at once (a
// bulkhead), so one slow source cannot take every connection and
// goroutine; the others wait their turn for as long as their context
// lets them. Make one with NewLimit; it is safe for concurrent use.
type Limit[C, T any] struct {
	next  Source[C, T]
	slots chan struct{}
}

// NewLimit wraps next so that at most n calls (at least 1) run at once.
func NewLimit[C, T any](next Source[C, T], n int) *Limit[C, T] {
	return &Limit[C, T]{next: next, slots: make(chan struct{}, max(n, 1))}
}

// Fetch waits for a free slot, then calls next. A call whose context
// ends first is marked Shed on its Trace: it never reached the upstream.
// The slot is held until the answer has ended (an Arriving one streams on
// after Fetch returns), and given back however next ends, a panic
// included.
func (l *Limit[C, T]) Fetch(ctx context.Context, call C) (T, error) {
	select {
	case l.slots <- struct{}{}:
	case <-ctx.Done():
		TraceFrom(ctx).Mark(Shed)
		var zero T
		return zero, ctx.Err()
	}
	returned := false
	defer func() {
		if !returned { // a panic
			<-l.slots
		}
	}()
	v, err := l.next.Fetch(ctx, call)
	returned = true
	if a := arriving(v, err); a != nil {
		a.AfterEnd(func(error) { <-l.slots })
	} else {
		<-l.slots
	}
	return v, err
}

// InUse is how many calls are running now.
func (l *Limit[C, T]) InUse() int { return len(l.slots) }
