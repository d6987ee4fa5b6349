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
	// Resume, if set, is what an answer that began and failed part-way
	// asks of the sources after it: given the call that began it and the
	// answer so far, the call that asks source next to continue it (an
	// LLM's reply so far, as the start of its own), or false when next
	// cannot continue it and is passed over. nil asks each the same call,
	// which starts the answer again.
	Resume func(call C, sofar T, next string) (C, bool)
}

// Alternate is one source a Failover may move on to.
type Alternate[C, T any] struct {
	Name   string
	Source Source[C, T]
}

// Fetch asks each source in turn, as Failover says. An answer that
// begins and then fails part-way (an Arriving one that is Continuable: a
// stream cut mid-way) goes on as the next source's: the call's readers
// read on into it, and the moves made after the answer began are on the
// Trace, in order, where a reader reaching them finds them.
func (f *Failover[C, T]) Fetch(ctx context.Context, call C) (T, error) {
	return f.from(ctx, call, 0, nil)
}

// Moved is told each move a call makes before its answer begins, as it
// makes it: from the source that failed (or, with a hedge, is slow to
// begin: a step with Hedge set) to the one asked next. It runs on the
// call's goroutine and must return quickly.
type Moved func(from FailoverStep, to string)

// FetchTelling is Fetch, telling moved each move made before the answer
// begins as it is made, so that a live stream shows the switch while the
// next source is still working; the moves after it began are the
// answer's readers' to find, as with Fetch. A nil moved tells nothing.
func (f *Failover[C, T]) FetchTelling(ctx context.Context, call C, moved Moved) (T, error) {
	return f.from(ctx, call, 0, moved)
}

// source is source k of the list: Next, then each alternate.
func (f *Failover[C, T]) source(k int) (string, Source[C, T]) {
	if k == 0 {
		return f.Name, f.Next
	}
	return f.Alternates[k-1].Name, f.Alternates[k-1].Source
}

// movesOn reports whether err moves the call on.
func (f *Failover[C, T]) movesOn(ctx context.Context, err error) bool {
	return ctx.Err() == nil && (f.On == nil || f.On(err))
}

// from asks the sources from k on, telling moved (when set) each move.
func (f *Failover[C, T]) from(ctx context.Context, call C, k int, moved Moved) (T, error) {
	if f.Hedge != nil && k < len(f.Alternates) {
		return f.race(ctx, call, k, moved)
	}
	tr := TraceFrom(ctx)
	name, src := f.source(k)
	start := time.Now()
	v, err := src.Fetch(ctx, call)
	for err != nil && k < len(f.Alternates) && f.movesOn(ctx, err) {
		k++
		next, alt := f.source(k)
		step := FailoverStep{Name: name, Err: err, Latency: time.Since(start)}
		tr.FailedOver(step.Name, step.Err, step.Latency)
		if moved != nil {
			moved(step, next)
		}
		name, src, start = next, alt, time.Now()
		v, err = src.Fetch(ctx, call)
	}
	if err != nil {
		if len(f.Alternates) > 0 && f.movesOn(ctx, err) {
			tr.FailedOver(name, err, time.Since(start)) // the last one failed too
		}
		return v, err
	}
	tr.ServedBy(name)
	return f.goOn(ctx, call, k, name, start, v), nil
}

// goOn is v, the answer of source k (called at start), made to go on as
// the next sources' should it fail part-way.
func (f *Failover[C, T]) goOn(ctx context.Context, call C, k int, name string, start time.Time, v T) T {
	c, ok := any(v).(Continuable[T])
	if !ok || len(f.Alternates) == 0 || arriving(v, nil) == nil { // nothing to go on from: it has arrived
		return v
	}
	return c.Then(func(err error) (T, error) {
		var zero T
		tr := TraceFrom(ctx)
		moves := f.movesOn(ctx, err)
		if moves {
			tr.FailedOver(name, err, time.Since(start))
		}
		k, next := f.resumed(call, v, k+1)
		if !moves || k > len(f.Alternates) {
			tr.ServedBy("") // nobody did, in the end
			return zero, err
		}
		return f.from(ctx, next, k, nil)
	})
}

// resumed is the first source from k on that can go on from sofar, the
// answer of call that failed part-way, and the call to make of it; k past
// the last source when none can.
func (f *Failover[C, T]) resumed(call C, sofar T, k int) (int, C) {
	if f.Resume == nil {
		return k, call
	}
	for ; k <= len(f.Alternates); k++ {
		name, _ := f.source(k)
		if next, ok := f.Resume(call, sofar, name); ok {
			return k, next
		}
	}
	return k, call
}
