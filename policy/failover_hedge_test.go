package policy

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/citypopy/highway/source"
)

// provider is a scripted LLM provider named name: it begins its answer
// (its first token, when its call returns) after begin, and ends it after
// answer, or fails then with err: mid-stream when begin is set, before
// it began when not. A deaf provider ignores its context.
type provider struct {
	name          string
	begin, answer time.Duration
	err           error
	deaf          bool
	calls         atomic.Int32
	cancelled     atomic.Bool
}

func (p *provider) Fetch(ctx context.Context, call string) (*source.Answer, error) {
	p.calls.Add(1)
	wait := func(d time.Duration) bool {
		if p.deaf {
			time.Sleep(d)
			return true
		}
		return sleep(ctx, d)
	}
	value := json.RawMessage(`"answer from ` + p.name + `"`)
	if p.begin == 0 {
		if !wait(p.answer) {
			p.cancelled.Store(true)
			return nil, ctx.Err()
		}
		if p.err != nil {
			return nil, p.err
		}
		return source.Whole(value), nil
	}
	if !wait(p.begin) {
		p.cancelled.Store(true)
		return nil, ctx.Err()
	}
	a, w := source.NewStream(p.name)
	w.Token("answer")
	go func() {
		switch {
		case !wait(p.answer - p.begin):
			p.cancelled.Store(true)
			w.End(nil, nil, ctx.Err())
		case p.err != nil:
			w.End(nil, nil, p.err)
		default:
			w.End(value, nil, nil)
		}
	}()
	return a, nil
}

// hedgedFailover is a over b (and c, if given), hedged after delay.
func hedgedFailover(delay time.Duration, budget *Budget, a *provider, alts ...*provider) (*Failover[string, *source.Answer], *[]FailoverStep) {
	a.name = "a"
	f := &Failover[string, *source.Answer]{Next: a, Name: "a", Hedge: &FailoverHedge{Delay: delay, Budget: budget}}
	for k, p := range alts {
		p.name = string(rune('b' + k))
		f.Alternates = append(f.Alternates, Alternate[string, *source.Answer]{Name: p.name, Source: p})
	}
	told := &[]FailoverStep{}
	return f, told
}

// runHedged calls f telling each move to told, and waits for the
// answer's end: v is its value ("" for none).
func runHedged(ctx context.Context, f *Failover[string, *source.Answer], told *[]FailoverStep) (string, error, *Trace, []string) {
	tr := &Trace{}
	var to []string
	ctx = WithTrace(ctx, tr)
	a, err := f.FetchTelling(ctx, "q", func(step FailoverStep, next string) { *told = append(*told, step); to = append(to, next) })
	if err != nil {
		return "", err, tr, to
	}
	v, err := a.Value(ctx)
	var s string
	json.Unmarshal(v, &s)
	return s, err, tr, to
}

// The primary slow to its first token has the next provider started
// beside it after the delay; the one that begins first holds the call and
// the other is cancelled, and the trace says both.
func TestFailoverHedgeStartsTheNextProviderBesideASlowOne(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := &provider{begin: 5 * time.Second, answer: 6 * time.Second}
		b := &provider{begin: 300 * time.Millisecond, answer: time.Second}
		f, told := hedgedFailover(800*time.Millisecond, nil, a, b)
		start := time.Now()
		v, err, tr, to := runHedged(t.Context(), f, told)
		if v != "answer from b" || err != nil {
			t.Fatalf("%q %v", v, err)
		}
		if took := time.Since(start); took != 1800*time.Millisecond {
			t.Errorf("took %v, want the hedge's 800ms + its 1s", took)
		}
		if len(*told) != 1 || !(*told)[0].Hedge || (*told)[0].Name != "a" || (*told)[0].Latency != 800*time.Millisecond || to[0] != "b" {
			t.Errorf("told %+v to %v, want one hedge from a to b at 800ms", *told, to)
		}
		steps, by := tr.Failovers()
		var lost *HedgeLostError
		if by != "b" || len(steps) != 1 || steps[0].Name != "a" || !errors.As(steps[0].Err, &lost) || lost.Winner != "b" ||
			steps[0].Latency != 1100*time.Millisecond {
			t.Errorf("served by %q after %+v", by, steps)
		}
		if !a.cancelled.Load() || !tr.Marks().Has(Hedged|HedgeWon) {
			t.Errorf("a cancelled %v, marks %b", a.cancelled.Load(), tr.Marks())
		}
	})
}

// When the primary begins first after all, it keeps the call: the hedge
// is cancelled, and a hedge that ignores its cancellation and begins
// later is recorded as the loser it is, its answer dropped.
func TestFailoverHedgeKeepsThePrimaryThatBeginsFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := &provider{begin: time.Second, answer: 3 * time.Second}
		b := &provider{begin: 600 * time.Millisecond, answer: 700 * time.Millisecond, deaf: true}
		f, told := hedgedFailover(800*time.Millisecond, nil, a, b)
		v, err, tr, _ := runHedged(t.Context(), f, told)
		steps, by := tr.Failovers()
		var lost *HedgeLostError
		if v != "answer from a" || err != nil || by != "a" || len(steps) != 1 || steps[0].Name != "b" || !errors.As(steps[0].Err, &lost) || lost.Winner != "a" {
			t.Fatalf("%q %v: served by %q after %+v", v, err, by, steps)
		}
		if tr.Marks().Has(HedgeWon) || !tr.Marks().Has(Hedged|HedgeAbandoned) {
			t.Errorf("marks %b", tr.Marks())
		}
	})
}

// A primary quick to begin is never hedged, and the time it took to
// begin is what a percentile delay is made of.
func TestFailoverHedgeIsNotSentWhenThePrimaryBeginsInTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := &provider{begin: 100 * time.Millisecond, answer: 2 * time.Second}
		b := &provider{begin: 10 * time.Millisecond, answer: 20 * time.Millisecond}
		f, told := hedgedFailover(800*time.Millisecond, nil, a, b)
		f.Hedge.Observed = &Latencies{}
		v, err, tr, _ := runHedged(t.Context(), f, told)
		if v == "" || err != nil || b.calls.Load() != 0 || len(*told) != 0 || tr.Marks() != 0 {
			t.Errorf("%q %v: b called %d times, told %+v, marks %b", v, err, b.calls.Load(), *told, tr.Marks())
		}
		if f.Hedge.Observed.Len() != 1 {
			t.Errorf("observed %d times to begin, want 1", f.Hedge.Observed.Len())
		}
	})
}

// A percentile delay sends no hedge before it has MinSamples times to
// first token, then hedges a call slower than the percentile.
func TestFailoverHedgeAtAPercentileOfTimeToFirstToken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		quick := &provider{begin: 100 * time.Millisecond, answer: 200 * time.Millisecond}
		b := &provider{begin: 10 * time.Millisecond, answer: 20 * time.Millisecond}
		f, told := hedgedFailover(0, nil, quick, b)
		f.Hedge.Percentile, f.Hedge.Observed = 95, &Latencies{}
		f.Next = &provider{begin: 2 * time.Second, answer: 3 * time.Second}
		if _, _, tr, _ := runHedged(t.Context(), f, told); tr.Marks().Has(Hedged) {
			t.Error("hedged with no samples")
		}
		f.Next = quick
		for range MinSamples {
			runHedged(t.Context(), f, told)
		}
		f.Next = &provider{begin: 2 * time.Second, answer: 3 * time.Second}
		start := time.Now()
		if _, _, tr, _ := runHedged(t.Context(), f, told); !tr.Marks().Has(Hedged | HedgeWon) {
			t.Errorf("marks %b after %d samples", tr.Marks(), f.Hedge.Observed.Len())
		}
		if took := time.Since(start); took != 110*time.Millisecond+20*time.Millisecond {
			t.Errorf("took %v, want p95 (100ms) + 10%% and b's 20ms", took)
		}
	})
}

// A provider that fails is moved on from as without a hedge, and the
// next provider gets its own time to begin before a hedge is sent beside
// it; every provider failing ends the call with the last failure.
func TestFailoverHedgeMovesOnAfterAFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		down := errors.New("upstream answered 503")
		a := &provider{answer: 50 * time.Millisecond, err: down}
		b := &provider{begin: 2 * time.Second, answer: 3 * time.Second}
		c := &provider{begin: 100 * time.Millisecond, answer: 200 * time.Millisecond}
		f, told := hedgedFailover(800*time.Millisecond, nil, a, b, c)
		start := time.Now()
		v, err, tr, to := runHedged(t.Context(), f, told)
		if v == "" || err != nil || time.Since(start) != 50*time.Millisecond+800*time.Millisecond+200*time.Millisecond {
			t.Fatalf("%q %v after %v", v, err, time.Since(start))
		}
		if len(*told) != 2 || (*told)[0].Err != down || (*told)[1].Name != "b" || !(*told)[1].Hedge || to[1] != "c" {
			t.Errorf("told %+v to %v", *told, to)
		}
		if steps, by := tr.Failovers(); by != "c" || len(steps) != 2 || steps[0].Name != "a" || steps[1].Name != "b" {
			t.Errorf("served by %q after %+v", by, steps)
		}

		a, b = &provider{answer: 10 * time.Millisecond, err: down}, &provider{begin: 100 * time.Millisecond, answer: 200 * time.Millisecond, err: down}
		f, told = hedgedFailover(800*time.Millisecond, nil, a, b)
		if _, err, tr, _ := runHedged(t.Context(), f, told); err != down {
			t.Errorf("every provider failed, yet %v", err)
		} else if steps, by := tr.Failovers(); by != "" || len(steps) != 2 {
			t.Errorf("served by %q after %+v", by, steps)
		}
	})
}

// A provider that fails after it began gives the call up to the next one:
// the answer goes on as the next one's, told by the answer, not to the
// call's Moved.
func TestFailoverHedgeMovesOnFromAStreamCutMidway(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cut := errors.New("stream ended early")
		a := &provider{begin: 100 * time.Millisecond, answer: 500 * time.Millisecond, err: cut}
		b := &provider{begin: 100 * time.Millisecond, answer: 300 * time.Millisecond}
		f, told := hedgedFailover(800*time.Millisecond, nil, a, b)
		v, err, tr, _ := runHedged(t.Context(), f, told)
		if steps, by := tr.Failovers(); v != "answer from b" || err != nil || by != "b" || len(steps) != 1 || steps[0].Err != cut || tr.Marks().Has(Hedged) {
			t.Errorf("%q %v: served by %q after %+v, marks %b", v, err, by, steps, tr.Marks())
		}
		if len(*told) != 0 {
			t.Errorf("told %+v", *told)
		}
	})
}

// The budget caps the hedges: with room for one, the second slow call
// waits for its primary.
func TestFailoverHedgeBudgetCapsExtraCalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := &provider{begin: time.Second, answer: 2 * time.Second}
		b := &provider{begin: 500 * time.Millisecond, answer: time.Second}
		f, told := hedgedFailover(100*time.Millisecond, &Budget{Burst: 1}, a, b)
		if _, _, tr, _ := runHedged(t.Context(), f, told); !tr.Marks().Has(Hedged) {
			t.Error("the first slow call was not hedged")
		}
		if _, _, tr, _ := runHedged(t.Context(), f, told); tr.Marks().Has(Hedged) || b.calls.Load() != 1 {
			t.Errorf("hedged past the budget: b called %d times", b.calls.Load())
		}
	})
}

// A caller that goes away stops both providers at once.
func TestFailoverHedgeStopsEveryProviderWhenTheCallerGoes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := &provider{begin: 5 * time.Second, answer: 6 * time.Second}
		b := &provider{begin: 5 * time.Second, answer: 6 * time.Second}
		f, told := hedgedFailover(100*time.Millisecond, nil, a, b)
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		start := time.Now()
		if _, err, _, _ := runHedged(ctx, f, told); !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != time.Second {
			t.Errorf("%v after %v", err, time.Since(start))
		}
		if !a.cancelled.Load() || !b.cancelled.Load() {
			t.Errorf("a cancelled %v, b cancelled %v", a.cancelled.Load(), b.cancelled.Load())
		}
	})
}
