package source

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"
)

// Mock is a built-in slow source: it answers Data after Latency, give or
// take Jitter, and fails at FailureRate. It honours its context: a cancelled
// call returns at once.
//
// The zero value answers JSON null at once. A Mock must not be changed
// once it is in use.
type Mock struct {
	// Latency is how long each call takes.
	Latency time.Duration
	// Jitter spreads Latency uniformly over [Latency-Jitter, Latency+Jitter],
	// never below zero.
	Jitter time.Duration
	// FailureRate is the fraction of calls, from 0 to 1, that fail with a
	// *MockFailure after their latency.
	FailureRate float64
	// TailRate is the fraction of calls, from 0 to 1, that take TailLatency
	// instead: a heavy tail, such as 1% of calls taking a second.
	TailRate    float64
	TailLatency time.Duration
	// Data is the JSON answered; nil means null.
	Data json.RawMessage
	// IgnoreContext makes the mock sleep through cancellation, as a
	// handler calling time.Sleep does: the Go version of the seed's
	// "never time.sleep() inside async". A gather still answers on time,
	// marking the call abandoned; the mock's goroutine runs on until its
	// latency has passed. For demonstrations: the embedded default has
	// none.
	IgnoreContext bool
}

// MockFailure is the error of a Mock call chosen to fail by its FailureRate.
type MockFailure struct {
	Rate float64
}

// Error describes the failure.
func (e *MockFailure) Error() string {
	return fmt.Sprintf("mock failure (failure_rate %g)", e.Rate)
}

// Retryable is true: the next call may well succeed.
func (e *MockFailure) Retryable() bool { return true }

var null = json.RawMessage("null")

// Fetch waits out the mock's latency, unless ctx ends first, and answers.
// A mock's answer depends on nothing of the call.
func (m *Mock) Fetch(ctx context.Context, _ *Call) (*Answer, error) {
	v, d, err := m.Plan()
	if m.IgnoreContext {
		time.Sleep(d) // deliberately deaf to ctx: see IgnoreContext
		return whole(v, err)
	}
	if d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		}
	}
	return whole(v, err)
}

// whole is v as a whole answer, or err.
func whole(v json.RawMessage, err error) (*Answer, error) {
	if err != nil {
		return nil, err
	}
	return Whole(v), nil
}

// Plan decides a call's answer and latency up front, the way a
// fanout.Planned source does, so that a gather can wait for it on its own
// timer with no goroutine per mock.
func (m *Mock) Plan() (json.RawMessage, time.Duration, error) {
	d := m.delay()
	if m.FailureRate > 0 && rand.Float64() < m.FailureRate {
		return nil, d, &MockFailure{Rate: m.FailureRate}
	}
	if m.Data == nil {
		return null, d, nil
	}
	return m.Data, d, nil
}

func (m *Mock) delay() time.Duration {
	if m.TailRate > 0 && rand.Float64() < m.TailRate {
		return m.TailLatency
	}
	d := m.Latency
	if m.Jitter > 0 {
		d += time.Duration(rand.Int64N(int64(2*m.Jitter)+1)) - m.Jitter
	}
	return max(d, 0)
}
