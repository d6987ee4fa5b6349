package policy

import (
	"context"
	"time"

	"github.com/citypopy/highway/internal/routine"
)

// Hedge sends a second attempt when the first is still out after a delay,
// and answers with whichever succeeds first, cancelling the other ("The
// Tail at Scale", Dean and Barroso, 2013). The delay is fixed, or a
// percentile of the latencies observed, so that only the slowest few calls
// are hedged; Budget caps how many extra calls that costs.
//
// Once one attempt answers, the other is cancelled and not waited for
// (marked HedgeAbandoned on the Trace when it had not returned yet).
//
// Only wrap idempotent sources. With Next set, the zero value never hedges.
type Hedge[C, T any] struct {
	Next Source[C, T]
	// Delay is how long the first attempt may run before the hedge is sent,
	// when Percentile is 0. 0 (with Percentile 0) means never hedge.
	Delay time.Duration
	// Percentile, if set (such as 95), replaces Delay with that percentile
	// of Observed, plus PercentileMargin of it; until Observed has
	// MinSamples, no hedge is sent.
	Percentile float64
	// Observed collects the latency of every successful attempt. Required
	// with Percentile; useful without it.
	Observed *Latencies
	// Budget caps the hedges; nil means no cap.
	Budget *Budget
}

type attempt[T any] struct {
	k   int // 0 the first, 1 the hedge
	v   T
	err error
}

// Fetch calls Next, and once more if the first call is slow. Both
// attempts run on goroutines started with routine.Go (internal), so a panicking
// attempt is a failed one.
func (h *Hedge[C, T]) Fetch(ctx context.Context, call C) (T, error) {
	h.Budget.Earn()
	delay, ok := h.delay()
	if !ok {
		return h.attempt(ctx, call)
	}
	// Each attempt has its own context: the winner's lives on until its
	// answer has ended (an Arriving one streams on), the other's ends now.
	var cancels [2]context.CancelFunc
	out := make(chan attempt[T], 2)
	run := func(k int) {
		actx, cancel := context.WithCancel(ctx)
		cancels[k] = cancel
		routine.Go(func() (T, error) { return h.attempt(actx, call) },
			func(v T, err error) { out <- attempt[T]{k, v, err} })
	}
	run(0)
	pending := 1
	timer := time.NewTimer(delay)
	defer timer.Stop()
	tr := TraceFrom(ctx)
	var firstErr error
	for {
		select {
		case <-timer.C:
			if ctx.Err() == nil && h.Budget.Take() {
				tr.Mark(Hedged)
				pending++
				run(1)
			}
		case a := <-out:
			pending--
			if a.err != nil && pending > 0 {
				cancels[a.k]()
				firstErr = a.err
				continue
			}
			if a.err == nil && a.k == 1 {
				tr.Mark(HedgeWon)
			}
			if a.err != nil && firstErr != nil {
				a.err = firstErr // the first failure says more than the cancelled one
			}
			if other := cancels[1-a.k]; other != nil {
				other()
			}
			if pending > 0 {
				// The attempt beaten is cancelled and left to end by
				// itself, as fanout abandons a source deaf to its
				// context: out has room for its outcome, so its
				// goroutine never blocks, and the answer waits for
				// nothing. Its answer, should it have one, is dropped.
				tr.Mark(HedgeAbandoned)
			}
			if arr := arriving(a.v, a.err); arr != nil {
				arr.AfterEnd(func(error) { cancels[a.k]() })
			} else {
				cancels[a.k]()
			}
			return a.v, a.err
		}
	}
}

// PercentileMargin is added to a percentile delay. In a tight latency
// distribution many calls exceed the 95th percentile by microseconds; without
// a margin they would spend the hedge budget before a truly slow call came.
const PercentileMargin = 0.10

func (h *Hedge[C, T]) delay() (time.Duration, bool) {
	return hedgeDelay(h.Delay, h.Percentile, h.Observed)
}

// hedgeDelay is how long a first attempt may run before a hedge is sent:
// fixed, or the percentile p of observed plus the margin; false means
// send none (no delay set, or too few observations yet).
func hedgeDelay(fixed time.Duration, p float64, observed *Latencies) (time.Duration, bool) {
	if p > 0 {
		if observed == nil {
			return 0, false
		}
		d, ok := observed.Percentile(p)
		return d + time.Duration(float64(d)*PercentileMargin), ok
	}
	return fixed, fixed > 0
}

// attempt makes one call, recording its latency when it succeeds.
func (h *Hedge[C, T]) attempt(ctx context.Context, call C) (T, error) {
	start := time.Now()
	v, err := h.Next.Fetch(ctx, call)
	if err == nil && h.Observed != nil {
		h.Observed.Observe(time.Since(start))
	}
	return v, err
}
