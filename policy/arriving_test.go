package policy

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/citypopy/highway/source"
)

type streamSource = Source[string, *source.Answer]

// ended waits for a's end: its value as text, or its error.
func ended(t *testing.T, a *source.Answer, err error) error {
	t.Helper()
	if err != nil {
		return err
	}
	_, err = a.Value(t.Context())
	return err
}

// A Limit's place is held while the answer streams, not only until its
// call returns at the first token.
func TestLimitHoldsItsPlaceUntilTheAnswerEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := NewLimit[string, *source.Answer](&provider{begin: 10 * time.Millisecond, answer: time.Second}, 1)
		a, err := l.Fetch(t.Context(), "q")
		if err != nil || l.InUse() != 1 {
			t.Fatalf("%v, %d in use while streaming", err, l.InUse())
		}
		if err := ended(t, a, nil); err != nil || l.InUse() != 0 {
			t.Errorf("%v, %d in use after the end", err, l.InUse())
		}
	})
}

// A stream cut mid-way is a failure to the breaker, as a call that fails
// before its first token is.
func TestBreakerCountsAStreamCutMidway(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cut := errors.New("stall")
		b := NewBreaker[string, *source.Answer]("chat", &provider{begin: 10 * time.Millisecond, answer: time.Second, err: cut}, 1, time.Minute)
		a, err := b.Fetch(t.Context(), "q")
		if err != nil || b.State() != "closed" {
			t.Fatalf("%v, %s while streaming", err, b.State())
		}
		if err := ended(t, a, nil); err != cut || b.State() != "open" {
			t.Errorf("%v, breaker %s after the cut", err, b.State())
		}
	})
}

// The cache keeps a stream once it has ended well, not before and not
// after a failure, and answers it as the stream it was: replayed from its
// first token.
func TestCacheKeepsAStreamOnceItEndsWell(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := &provider{name: "chat", begin: 10 * time.Millisecond, answer: time.Second}
		c := &Cache[string, *source.Answer]{Next: p, TTL: time.Hour, Size: (*source.Answer).Size}
		defer c.Close()
		first, err := c.Fetch(t.Context(), "q")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Fetch(t.Context(), "q"); err != nil || p.calls.Load() != 2 {
			t.Errorf("%v: %d calls, want a second while the first streams", err, p.calls.Load())
		}
		ended(t, first, nil)
		tr := &Trace{}
		hit, err := c.Fetch(WithTrace(t.Context(), tr), "q")
		if err != nil || hit != first || !tr.Marks().Has(CacheHit) || p.calls.Load() != 2 {
			t.Fatalf("%v: a hit %v, %d calls", err, tr.Marks().Has(CacheHit), p.calls.Load())
		}
		if got := slices.Collect(hit.Tokens(t.Context())); !slices.Equal(got, []string{"answer"}) {
			t.Errorf("replayed %q", got)
		}
		failing := &Cache[string, *source.Answer]{Next: &provider{begin: time.Millisecond, answer: time.Second, err: errors.New("cut")}, TTL: time.Hour}
		defer failing.Close()
		a, err := failing.Fetch(t.Context(), "q")
		ended(t, a, err)
		if failing.Bytes() != 0 {
			t.Errorf("kept a stream that failed: %d", failing.Bytes())
		}
	})
}

// Callers of one coalesced stream share its one call and read the same
// answer; once every caller has gone, the call is cancelled.
func TestCoalesceSharesAStreamUntilItsLastCallerGoes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := &provider{name: "chat", begin: 100 * time.Millisecond, answer: time.Hour}
		c := &Coalesce[string, *source.Answer]{Next: p}
		ctxs := make([]context.Context, 3)
		cancels := make([]context.CancelFunc, 3)
		answers := make([]*source.Answer, 3)
		var wg sync.WaitGroup
		for i := range ctxs {
			ctxs[i], cancels[i] = context.WithCancel(t.Context())
			wg.Go(func() {
				if i == 2 {
					time.Sleep(time.Second) // while it streams
				}
				answers[i], _ = c.Fetch(ctxs[i], "q")
			})
		}
		wg.Wait()
		if p.calls.Load() != 1 || answers[0] == nil || answers[1] != answers[0] || answers[2] != answers[0] {
			t.Fatalf("%d calls, answers %p", p.calls.Load(), answers)
		}
		cancels[0]()
		cancels[1]()
		synctest.Wait()
		if p.cancelled.Load() {
			t.Fatal("cancelled while a caller still reads")
		}
		cancels[2]()
		synctest.Wait()
		if !p.cancelled.Load() {
			t.Error("the shared call runs on with nobody reading")
		}
	})
}

// A hedge that wins with a stream keeps it streaming: its context is not
// cancelled when the call returns at the first token.
func TestAWinningHedgeStreamsOnToItsEnd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := &slowFirst{first: &provider{begin: time.Hour, answer: 2 * time.Hour}, then: &provider{begin: 10 * time.Millisecond, answer: time.Second}}
		h := &Hedge[string, *source.Answer]{Next: p, Delay: 100 * time.Millisecond}
		a, err := h.Fetch(t.Context(), "q")
		if err := ended(t, a, err); err != nil {
			t.Errorf("the hedge's stream ended with %v", err)
		}
	})
}

// slowFirst answers its first call as first does, the others as then.
type slowFirst struct {
	mu          sync.Mutex
	n           int
	first, then streamSource
}

func (s *slowFirst) Fetch(ctx context.Context, call string) (*source.Answer, error) {
	s.mu.Lock()
	s.n++
	src := s.then
	if s.n == 1 {
		src = s.first
	}
	s.mu.Unlock()
	return src.Fetch(ctx, call)
}
