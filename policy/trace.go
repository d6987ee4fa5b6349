package policy

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Trace records what the policies around one call did (attempts made, a
// hedge sent or won, an answer shared or cached), so that a report can
// say it. The caller puts one in the call's context with WithTrace, the
// way net/http/httptrace carries its hooks; it is observability only and
// never changes the answer.
//
// A Trace is safe for concurrent use: a hedge records from two goroutines.
// Its methods do nothing on a nil Trace, so a policy called without one
// needs no checks. The zero value is an empty record.
type Trace struct {
	attempts atomic.Int32
	marks    atomic.Uint32
	// mu guards the failover record: Failover and a hedge record from
	// the call's goroutines, the report reads from another.
	mu       sync.Mutex
	steps    []FailoverStep
	servedBy string
}

// FailoverStep is one source a call moved on from, as Failover records it:
// after Latency, it failed with Err. Told to a Moved, a step may instead
// be a hedge (Hedge true, Err nil): the source had not begun its answer
// after Latency, and the next one starts beside it.
type FailoverStep struct {
	Name    string
	Err     error
	Latency time.Duration
	Hedge   bool
}

// FailedOver records that the call moved on from the source name after
// err, which took latency.
func (t *Trace) FailedOver(name string, err error, latency time.Duration) {
	if t == nil {
		return
	}
	t.mu.Lock()
	t.steps = append(t.steps, FailoverStep{Name: name, Err: err, Latency: latency})
	t.mu.Unlock()
}

// ServedBy records which source answered a call that failed over.
func (t *Trace) ServedBy(name string) {
	if t == nil {
		return
	}
	t.mu.Lock()
	t.servedBy = name // said only once there are steps: a hedge's loser may record its own after
	t.mu.Unlock()
}

// Failovers are the sources a call moved on from, in order, and the one
// that answered ("" when none did); nothing when it never failed over.
// The steps are the caller's own copy.
func (t *Trace) Failovers() (steps []FailoverStep, servedBy string) {
	if t == nil {
		return nil, ""
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.steps) == 0 {
		return nil, ""
	}
	return append([]FailoverStep(nil), t.steps...), t.servedBy
}

// Mark is one thing a policy did during a call, recorded on its Trace.
type Mark uint32

// Marks the policies record.
const (
	Hedged         Mark = 1 << iota // a hedge attempt was sent
	HedgeWon                        // the hedge answered first
	Coalesced                       // the answer was shared from another caller's call
	CacheHit                        // the answer came from the cache, with no call
	BreakerOpen                     // the circuit breaker refused the call
	Shed                            // a concurrency limit stayed full until the call gave up
	HedgeAbandoned                  // the attempt a hedge beat was still out: cancelled, and left to end alone
	counted                         // attempts were recorded by a policy
)

// Has reports whether every mark in o is set in m.
func (m Mark) Has(o Mark) bool { return m&o == o }

type traceKey struct{}

// WithTrace returns ctx carrying t, for the policies of one call to record
// on.
func WithTrace(ctx context.Context, t *Trace) context.Context {
	return context.WithValue(ctx, traceKey{}, t)
}

// TraceFrom returns the Trace ctx carries, or nil.
func TraceFrom(ctx context.Context) *Trace {
	t, _ := ctx.Value(traceKey{}).(*Trace)
	return t
}

// AddAttempt records one more call to the upstream itself and returns its
// number, counting from 1 (0 on a nil Trace).
func (t *Trace) AddAttempt() int {
	if t == nil {
		return 0
	}
	n := t.attempts.Add(1)
	t.marks.Or(uint32(counted))
	return int(n)
}

// Mark records m.
func (t *Trace) Mark(m Mark) {
	if t != nil {
		t.marks.Or(uint32(m | counted))
	}
}

// Attempts is the number of upstream calls recorded, or 1 when no policy
// recorded anything (a bare source is called once).
func (t *Trace) Attempts() int {
	if t == nil || !Mark(t.marks.Load()).Has(counted) {
		return 1
	}
	return int(t.attempts.Load())
}

// Marks returns what has been recorded.
func (t *Trace) Marks() Mark {
	if t == nil {
		return 0
	}
	return Mark(t.marks.Load()) &^ counted
}
