package policy

import (
	"context"
	"time"
)

// Failover calls Next and, when it fails with an error On accepts, each
// of Alternates in turn, until one answers: the next provider when one is
// down. Each alternate is a whole Source with its own policies (retries,
// breaker, timeouts). They all run within the call's context, so the
// caller's deadline bounds the whole chain. What it did goes on the
// call's Trace (FailedOver for each source it moved on from, ServedBy the
// one that answered).
//
// The zero value, with Next set, is Next alone.
type Failover[C, T any] struct {
	// Next is the first source asked, named Name.
	Next Source[C, T]
	Name string
	// Alternates are asked in order after Next fails.
	Alternates []Alternate[C, T]
	// On says which failures move on to the next source; nil means every
	// failure. A call whose context has ended never moves on.
	On func(error) bool
	// Hedge, if set, starts the next source beside the current one when
	// the current is slow to begin its answer, rather than only after it
	// fails. nil means one source at a time.
	Hedge *FailoverHedge
}

// Alternate is one source a Failover may move on to.
type Alternate[C, T any] struct {
	Name   string
	Source Source[C, T]
}

// Fetch asks each source in turn, as Failover says.
func (f *Failover[C, T]) Fetch(ctx context.Context, call C) (T, error) {
	if f.Hedge != nil && len(f.Alternates) > 0 {
		return f.race(ctx, call)
	}
	start := time.Now()
	v, err := f.Next.Fetch(ctx, call)
	if err == nil || len(f.Alternates) == 0 {
		return v, err
	}
	tr := TraceFrom(ctx)
	name := f.Name
	for _, alt := range f.Alternates {
		if ctx.Err() != nil || (f.On != nil && !f.On(err)) {
			return v, err
		}
		step := FailoverStep{Name: name, Err: err, Latency: time.Since(start)}
		tr.FailedOver(step.Name, step.Err, step.Latency)
		if tr != nil && tr.OnFailover != nil {
			tr.OnFailover(step, alt.Name)
		}
		name, start = alt.Name, time.Now()
		if v, err = alt.Source.Fetch(ctx, call); err == nil {
			tr.ServedBy(name)
			return v, nil
		}
	}
	if ctx.Err() == nil && (f.On == nil || f.On(err)) {
		tr.FailedOver(name, err, time.Since(start)) // the last one failed too
	}
	return v, err
}
