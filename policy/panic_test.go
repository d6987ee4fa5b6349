package policy

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/citypopy/highway/fanout"
)

// needs is the argument a fanout task gives its source: with it as the
// call, a policy stack is a fanout.Source.
type needs = map[string]string

// TestAPanickingSourceUnderEveryPolicy runs a source that panics under each
// policy, inside a gather and called directly: the result is a
// *fanout.PanicError with the stack, nothing crashes, and (TestMain's
// goleak) no goroutine is left behind.
func TestAPanickingSourceUnderEveryPolicy(t *testing.T) {
	panics := func() Source[needs, string] {
		return Func[needs, string](func(context.Context, needs) (string, error) { panic("truck overturned") })
	}
	// slowPanic panics after 50ms, so a hedge sent at 10ms is in flight.
	slowPanic := Func[needs, string](func(ctx context.Context, _ needs) (string, error) {
		sleep(ctx, 50*time.Millisecond)
		panic("truck overturned late")
	})
	stacks := map[string]func() Source[needs, string]{
		"retry": func() Source[needs, string] { return &Retry[needs, string]{Next: panics(), Attempts: 3} },
		"hedge": func() Source[needs, string] {
			return &Hedge[needs, string]{Next: slowPanic, Delay: 10 * time.Millisecond}
		},
		"breaker": func() Source[needs, string] { return NewBreaker("b", panics(), 1, time.Second) },
		"limit":   func() Source[needs, string] { return NewLimit(panics(), 1) },
		"coalesce": func() Source[needs, string] {
			return &Coalesce[needs, string]{Next: slowPanic}
		},
		"cache": func() Source[needs, string] { return &Cache[needs, string]{Next: panics(), TTL: time.Minute} },
	}
	for name, stack := range stacks {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				src := stack()
				if c, ok := src.(interface{ Close() }); ok {
					defer c.Close()
				}
				rep := fanout.Gather(t.Context(), []fanout.Task[string]{
					{Name: "chat", Source: src},
					{Name: "weather", Source: Func[needs, string](func(context.Context, needs) (string, error) { return "22°C", nil })},
				}, fanout.Options{})
				pe, ok := errors.AsType[*fanout.PanicError](rep.Results[0].Err)
				if !ok || len(pe.Stack) == 0 || rep.Results[1].Err != nil {
					t.Fatalf("in a gather: %v, %v", rep.Results[0].Err, rep.Results[1].Err)
				}
				if name == "breaker" || name == "cache" || name == "limit" || name == "retry" {
					return // their panics travel up the caller's own goroutine, which a gather guards
				}
				// Hedge and Coalesce start goroutines of their own: called
				// outside any gather, their panic must still be an error.
				var wg sync.WaitGroup
				for range 3 { // three waiters share one coalesced call
					wg.Go(func() {
						if _, err := src.Fetch(t.Context(), nil); !isPanic(err) {
							t.Errorf("called directly: %v", err)
						}
					})
				}
				wg.Wait()
			})
		})
	}
}

func isPanic(err error) bool {
	_, ok := errors.AsType[*fanout.PanicError](err)
	return ok
}

// A limit gives its slot back when the call panics, and a breaker counts
// the panic as a failure.
func TestPanicsReleaseLimitsAndTripBreakers(t *testing.T) {
	panics := Func[needs, string](func(context.Context, needs) (string, error) { panic("boom") })
	l := NewLimit(panics, 1)
	for range 2 {
		if _, err := fanout.Gather(context.Background(), []fanout.Task[string]{{Name: "x", Source: l}}, fanout.Options{}).Results[0].Err, l.InUse(); err != 0 {
			t.Fatalf("%d slots still in use after a panic", err)
		}
	}
	b := NewBreaker("chat", panics, 1, time.Minute)
	fanout.Gather(context.Background(), []fanout.Task[string]{{Name: "x", Source: b}}, fanout.Options{})
	if b.State() != "open" {
		t.Errorf("breaker %s after a panicking call, want open", b.State())
	}
}

func TestTraceRecordsAttemptsAndMarks(t *testing.T) {
	var tr Trace
	if tr.Attempts() != 1 || tr.Marks() != 0 {
		t.Errorf("an empty trace: %d attempts, marks %b; want a bare source's one call", tr.Attempts(), tr.Marks())
	}
	tr.AddAttempt()
	tr.AddAttempt()
	tr.Mark(Hedged | HedgeWon)
	if tr.Attempts() != 2 || !tr.Marks().Has(Hedged|HedgeWon) || tr.Marks().Has(CacheHit) {
		t.Errorf("%d attempts, marks %b", tr.Attempts(), tr.Marks())
	}
	var hit Trace
	hit.Mark(CacheHit)
	if hit.Attempts() != 0 || hit.Marks() != CacheHit {
		t.Errorf("a cache hit: %d attempts, marks %b", hit.Attempts(), hit.Marks())
	}
	var none *Trace
	none.AddAttempt() // a call without a trace must not crash
	none.Mark(Shed)
	if none.Attempts() != 1 || none.Marks() != 0 || TraceFrom(context.Background()) != nil {
		t.Error("nil trace")
	}
	ctx := WithTrace(context.Background(), &tr)
	if TraceFrom(ctx) != &tr {
		t.Error("WithTrace/TraceFrom")
	}
}
