package policy

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/citypopy/highway/fanout"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// flaky is an upstream scripted per call: call n (from 0) takes delays[n]
// (the last one repeats) and fails while n < fails.
type flaky struct {
	delays    []time.Duration
	fails     int
	err       error
	calls     atomic.Int32
	cancelled atomic.Int32
}

func (f *flaky) Fetch(ctx context.Context, _ string) (string, error) {
	n := int(f.calls.Add(1)) - 1
	d := f.delays[min(n, len(f.delays)-1)]
	if !sleep(ctx, d) {
		f.cancelled.Add(1)
		return "", ctx.Err()
	}
	if n < f.fails {
		return "", f.err
	}
	return "ok", nil
}

type transient struct{ after time.Duration }

func (transient) Error() string               { return "upstream answered 503" }
func (transient) Retryable() bool             { return true }
func (t transient) RetryAfter() time.Duration { return t.after }

var permanent = errors.New("upstream answered 404")

// traced runs src as a task would be run, with a trace to read.
func traced(ctx context.Context, src Source[string, string]) (string, error, *Trace) {
	tr := &Trace{}
	v, err := src.Fetch(WithTrace(ctx, tr), "q")
	return v, err, tr
}

func TestRetryBacksOffUntilASuccess(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		up := &flaky{delays: []time.Duration{10 * time.Millisecond}, fails: 2, err: transient{}}
		r := &Retry[string, string]{Next: &Count[string, string]{Next: up}, Attempts: 3, Backoff: 100 * time.Millisecond}
		start := time.Now()
		v, err, tr := traced(t.Context(), r)
		took := time.Since(start)
		if v != "ok" || err != nil || tr.Attempts() != 3 {
			t.Fatalf("%q %v attempts %d", v, err, tr.Attempts())
		}
		// three 10ms calls, and two waits drawn below 100ms and 200ms
		if took < 30*time.Millisecond || took > 330*time.Millisecond {
			t.Errorf("took %v", took)
		}
	})
}

func TestRetryGivesUp(t *testing.T) {
	cases := []struct {
		name     string
		err      error
		attempts int
		calls    int32
	}{
		{"after its attempts", transient{}, 3, 3},
		{"at once on a permanent error", permanent, 3, 1},
		{"never when not configured", transient{}, 0, 1},
	}
	for _, c := range cases {
		synctest.Test(t, func(t *testing.T) {
			up := &flaky{delays: []time.Duration{time.Millisecond}, fails: 10, err: c.err}
			_, err := (&Retry[string, string]{Next: up, Attempts: c.attempts}).Fetch(t.Context(), "q")
			if !errors.Is(err, c.err) || up.calls.Load() != c.calls {
				t.Errorf("%s: err %v after %d calls, want %d", c.name, err, up.calls.Load(), c.calls)
			}
		})
	}
}

func TestRetryHonoursRetryAfter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		up := &flaky{delays: []time.Duration{0}, fails: 1, err: transient{after: 2 * time.Second}}
		start := time.Now()
		v, err := (&Retry[string, string]{Next: up, Attempts: 2, Backoff: time.Millisecond}).Fetch(t.Context(), "q")
		if v != "ok" || err != nil || time.Since(start) != 2*time.Second {
			t.Errorf("%q %v after %v, want the 2s the upstream asked for", v, err, time.Since(start))
		}
	})
}

func TestRetryDoesNotWaitPastTheDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		up := &flaky{delays: []time.Duration{0}, fails: 1, err: transient{after: 2 * time.Second}}
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		start := time.Now()
		_, err := (&Retry[string, string]{Next: up, Attempts: 5}).Fetch(ctx, "q")
		if !errors.As(err, new(transient)) || time.Since(start) != 0 || up.calls.Load() != 1 {
			t.Errorf("err %v after %v and %d calls: should fail at once", err, time.Since(start), up.calls.Load())
		}
	})
}

func TestCancelDuringRetryBackoffReturnsAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		up := &flaky{delays: []time.Duration{0}, fails: 10, err: transient{after: time.Hour}}
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(30*time.Millisecond, cancel)
		start := time.Now()
		_, err := (&Retry[string, string]{Next: up, Attempts: 5}).Fetch(ctx, "q")
		if err == nil || time.Since(start) != 30*time.Millisecond || up.calls.Load() != 1 {
			t.Errorf("err %v after %v and %d calls", err, time.Since(start), up.calls.Load())
		}
	})
}

func TestHedgeCancelsSlowerAttempt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		up := &flaky{delays: []time.Duration{time.Second, 50 * time.Millisecond}}
		h := &Hedge[string, string]{Next: &Count[string, string]{Next: up}, Delay: 100 * time.Millisecond}
		start := time.Now()
		v, err, tr := traced(t.Context(), h)
		if v != "ok" || err != nil || time.Since(start) != 150*time.Millisecond {
			t.Fatalf("%q %v after %v, want the hedge's answer at 150ms", v, err, time.Since(start))
		}
		synctest.Wait() // the loser, cancelled, ends by itself
		if !tr.Marks().Has(Hedged|HedgeWon) || tr.Attempts() != 2 || up.cancelled.Load() != 1 {
			t.Errorf("marks %b attempts %d cancelled %d", tr.Marks(), tr.Attempts(), up.cancelled.Load())
		}
	})
}

// deaf answers after its delays whatever its context says, as a source
// that ignores cancellation does.
type deaf struct {
	delays []time.Duration
	calls  atomic.Int32
}

func (d *deaf) Fetch(ctx context.Context, _ string) (string, error) {
	n := int(d.calls.Add(1)) - 1
	time.Sleep(d.delays[min(n, len(d.delays)-1)])
	return "ok", nil
}

// TestAWinningHedgeAnswersAtOnce: a first attempt deaf to its context for
// 300ms must not hold the hedge's 10ms answer; it is abandoned, as fanout
// abandons such a source, and the trace says so.
func TestAWinningHedgeAnswersAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		up := &deaf{delays: []time.Duration{300 * time.Millisecond, 0}}
		h := &Hedge[string, string]{Next: &Count[string, string]{Next: up}, Delay: 10 * time.Millisecond}
		start := time.Now()
		v, err, tr := traced(t.Context(), h)
		if v != "ok" || err != nil || time.Since(start) != 10*time.Millisecond {
			t.Fatalf("%q %v after %v, want the hedge's answer at 10ms", v, err, time.Since(start))
		}
		if !tr.Marks().Has(Hedged | HedgeWon | HedgeAbandoned) {
			t.Errorf("marks %b, want hedged, won and the first attempt abandoned", tr.Marks())
		}
		time.Sleep(time.Second) // the deaf attempt ends by itself inside the bubble
	})
}

func TestHedgeIsNotSentWhenTheFirstAttemptIsQuick(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		up := &flaky{delays: []time.Duration{20 * time.Millisecond}}
		v, _, tr := traced(t.Context(), &Hedge[string, string]{Next: up, Delay: 100 * time.Millisecond})
		if v != "ok" || up.calls.Load() != 1 || tr.Marks() != 0 {
			t.Errorf("calls %d marks %b", up.calls.Load(), tr.Marks())
		}
	})
}

func TestHedgeWaitsForTheOtherAttemptWhenOneFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		up := &flaky{delays: []time.Duration{200 * time.Millisecond, 300 * time.Millisecond}, fails: 1, err: transient{}}
		v, err, tr := traced(t.Context(), &Hedge[string, string]{Next: up, Delay: 100 * time.Millisecond})
		if v != "ok" || err != nil || !tr.Marks().Has(HedgeWon) {
			t.Errorf("%q %v %b", v, err, tr.Marks())
		}
	})
}

func TestCancelDuringHedgeStopsBothAttempts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		up := &flaky{delays: []time.Duration{time.Hour}}
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(150*time.Millisecond, cancel)
		start := time.Now()
		_, err := (&Hedge[string, string]{Next: up, Delay: 100 * time.Millisecond}).Fetch(ctx, "q")
		if !errors.Is(err, context.Canceled) || time.Since(start) != 150*time.Millisecond || up.cancelled.Load() != 2 {
			t.Errorf("err %v after %v, %d of 2 attempts cancelled", err, time.Since(start), up.cancelled.Load())
		}
	})
}

func TestHedgeBudgetCapsExtraCalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		up := &flaky{delays: []time.Duration{200 * time.Millisecond}}
		h := &Hedge[string, string]{Next: up, Delay: 10 * time.Millisecond, Budget: &Budget{Ratio: 0.05, Burst: 2}}
		for range 1000 {
			h.Fetch(t.Context(), "q")
		}
		// 5% of 1000 calls, plus the 2 the budget starts with.
		if extra := up.calls.Load() - 1000; extra < 47 || extra > 52 {
			t.Errorf("%d hedges for 1000 slow calls, want about 5%%", extra)
		}
	})
}

func TestTheFirstSlowCallIsHedged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		up := &flaky{delays: []time.Duration{time.Second, 50 * time.Millisecond}}
		_, _, tr := traced(t.Context(), &Hedge[string, string]{Next: up, Delay: 100 * time.Millisecond, Budget: &Budget{Ratio: 0.05}})
		if !tr.Marks().Has(HedgeWon) {
			t.Error("a fresh budget must allow a hedge")
		}
	})
}

func TestHedgeAtAPercentileWaitsForEnoughSamples(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		up := &flaky{delays: []time.Duration{50 * time.Millisecond}}
		h := &Hedge[string, string]{Next: up, Percentile: 95, Observed: &Latencies{}}
		for range MinSamples {
			h.Fetch(t.Context(), "q")
		}
		if up.calls.Load() != MinSamples {
			t.Fatalf("hedged before having %d samples", MinSamples)
		}
		up.delays = []time.Duration{time.Second, 50 * time.Millisecond}
		up.calls.Store(0)
		start := time.Now()
		v, _, tr := traced(t.Context(), h)
		if v != "ok" || time.Since(start) != 105*time.Millisecond || !tr.Marks().Has(HedgeWon) {
			t.Errorf("%q after %v marks %b, want the hedge sent at p95 (50ms) plus 10%% winning at 105ms", v, time.Since(start), tr.Marks())
		}
	})
}

func TestLatenciesPercentiles(t *testing.T) {
	var l Latencies
	if _, ok := l.Percentile(50); ok {
		t.Fatal("answered with no samples")
	}
	for i := 1; i <= 100; i++ {
		l.Observe(time.Duration(i) * time.Millisecond)
	}
	for p, want := range map[float64]time.Duration{50: 50 * time.Millisecond, 95: 95 * time.Millisecond, 100: 100 * time.Millisecond} {
		if got, _ := l.Percentile(p); got != want {
			t.Errorf("p%v = %v, want %v", p, got, want)
		}
	}
}

func TestBreakerOpensFailsFastThenProbes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		up := &flaky{delays: []time.Duration{time.Millisecond}, fails: 5, err: transient{}}
		b := NewBreaker[string, string]("chat", up, 5, 10*time.Second)
		for range 5 {
			b.Fetch(t.Context(), "q")
		}
		if b.State() != "open" {
			t.Fatalf("state %s after 5 failures", b.State())
		}
		_, err, tr := traced(t.Context(), b)
		var open *BreakerOpenError
		if !errors.As(err, &open) || up.calls.Load() != 5 || !tr.Marks().Has(BreakerOpen) {
			t.Fatalf("open breaker: %v after %d calls", err, up.calls.Load())
		}
		time.Sleep(10*time.Second + time.Millisecond)
		if b.State() != "half-open" {
			t.Fatalf("state %s after the cooldown", b.State())
		}
		if v, err := b.Fetch(t.Context(), "q"); v != "ok" || err != nil || b.State() != "closed" {
			t.Errorf("probe: %q %v, state %s", v, err, b.State())
		}
	})
}

func TestBreakerDoesNotCountCancellations(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		up := &flaky{delays: []time.Duration{time.Hour}}
		b := NewBreaker[string, string]("chat", up, 2, time.Second)
		for range 5 {
			ctx, cancel := context.WithTimeout(t.Context(), time.Millisecond)
			b.Fetch(ctx, "q")
			cancel()
		}
		if b.State() != "closed" {
			t.Errorf("state %s after cancelled calls", b.State())
		}
		for range 2 { // the source's own timeout does count
			ctx, cancel := context.WithTimeoutCause(t.Context(), time.Millisecond, &fanout.TimeoutError{Timeout: time.Millisecond})
			b.Fetch(ctx, "q")
			cancel()
		}
		if b.State() != "open" {
			t.Errorf("state %s after the source's own timeouts", b.State())
		}
	})
}

func TestLimitBoundsCallsInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var now, peak atomic.Int32
		up := Func[string, string](func(ctx context.Context, _ string) (string, error) {
			n := now.Add(1)
			defer now.Add(-1)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
			sleep(ctx, 100*time.Millisecond)
			return "ok", nil
		})
		l := NewLimit[string, string](up, 3)
		var wg sync.WaitGroup
		for range 10 {
			wg.Go(func() { l.Fetch(t.Context(), "q") })
		}
		wg.Wait()
		if peak.Load() != 3 || time.Since(time.Unix(946684800, 0)) != 400*time.Millisecond {
			t.Errorf("peak %d, done after %v", peak.Load(), time.Since(time.Unix(946684800, 0)))
		}
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
		defer cancel()
		for range 3 {
			go l.Fetch(t.Context(), "q")
		}
		synctest.Wait()
		var tr Trace
		if _, err := l.Fetch(WithTrace(ctx, &tr), "q"); !errors.Is(err, context.DeadlineExceeded) || !tr.Marks().Has(Shed) {
			t.Errorf("waiting for a slot: %v, marks %b; want the context's error, marked shed", err, tr.Marks())
		}
	})
}

func TestCoalesceSharesOneUpstreamCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		up := &flaky{delays: []time.Duration{100 * time.Millisecond}}
		c := &Coalesce[string, string]{Next: up}
		var wg sync.WaitGroup
		var shared atomic.Int32
		for range 1000 {
			wg.Go(func() {
				v, err, tr := traced(t.Context(), c)
				if v != "ok" || err != nil {
					t.Errorf("%q %v", v, err)
				}
				if tr.Marks().Has(Coalesced) {
					shared.Add(1)
				}
			})
		}
		wg.Wait()
		if up.calls.Load() != 1 || shared.Load() != 999 {
			t.Errorf("%d upstream calls, %d shared answers", up.calls.Load(), shared.Load())
		}
	})
}

func TestCoalesceSurvivesTheFirstCallerCancelling(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		up := &flaky{delays: []time.Duration{100 * time.Millisecond}}
		c := &Coalesce[string, string]{Next: up}
		first, cancel := context.WithCancel(t.Context())
		go c.Fetch(first, "q")
		synctest.Wait()
		time.AfterFunc(50*time.Millisecond, cancel)
		v, err := c.Fetch(t.Context(), "q")
		if v != "ok" || err != nil || up.cancelled.Load() != 0 || up.calls.Load() != 1 {
			t.Errorf("%q %v: %d calls, %d cancelled", v, err, up.calls.Load(), up.cancelled.Load())
		}
	})
}

func TestCoalesceCancelsTheSharedCallWhenEveryCallerHasGone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		up := &flaky{delays: []time.Duration{time.Hour}}
		c := &Coalesce[string, string]{Next: up}
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
		defer cancel()
		var wg sync.WaitGroup
		for range 3 {
			wg.Go(func() { c.Fetch(ctx, "q") })
		}
		wg.Wait()
		synctest.Wait()
		if up.cancelled.Load() != 1 {
			t.Errorf("the abandoned shared call was not cancelled")
		}
	})
}

func TestCacheAnswersWithinItsTTL(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		up := &flaky{delays: []time.Duration{10 * time.Millisecond}, fails: 1, err: transient{}}
		c := &Cache[string, string]{Next: up, TTL: 30 * time.Second}
		defer c.Close()
		if _, err := c.Fetch(t.Context(), "q"); err == nil {
			t.Fatal("want the first failure")
		}
		c.Fetch(t.Context(), "q") // a success, cached
		_, _, tr := traced(t.Context(), c)
		if up.calls.Load() != 2 || !tr.Marks().Has(CacheHit) || tr.Attempts() != 0 {
			t.Errorf("calls %d marks %b attempts %d: failures must not be cached, successes must", up.calls.Load(), tr.Marks(), tr.Attempts())
		}
		time.Sleep(31 * time.Second)
		c.Fetch(t.Context(), "q")
		if up.calls.Load() != 3 {
			t.Errorf("calls %d: the entry outlived its TTL", up.calls.Load())
		}
	})
}

// A cache holds at most its bytes, however many distinct answers flood
// it, and drops an expired entry whether or not it is asked for again.
func TestCacheIsBoundedInBytesAndDropsExpiredEntries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		answer := strings.Repeat("x", 1000)
		up := Func[string, string](func(context.Context, string) (string, error) { return answer, nil })
		c := &Cache[string, string]{Next: up, TTL: time.Minute, Key: func(k string) string { return k },
			MaxBytes: 64 << 10, Size: func(v string) int { return len(v) }}
		defer c.Close()
		for i := range 10_000 {
			c.Fetch(t.Context(), strconv.Itoa(i))
		}
		if b := c.Bytes(); b > 64<<10 || b < 32<<10 {
			t.Errorf("%d bytes held after a flood of 10 MB, want at most 64 KiB (and not nothing)", b)
		}
		time.Sleep(2 * time.Minute)
		c.store.CleanUp()
		if b := c.Bytes(); b != 0 {
			t.Errorf("%d bytes held two TTLs later", b)
		}
	})
}

// sharedMap is a SharedCache in memory, standing for Redis: entries
// expire by the clock.
type sharedMap struct {
	mu     sync.Mutex
	m      map[string]sharedEntry
	leases map[string]sharedLease
	taken  int
}

type sharedLease struct {
	token string
	until time.Time
}

func (s *sharedMap) Lease(_ context.Context, key string, ttl time.Duration) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.leases == nil {
		s.leases = map[string]sharedLease{}
	}
	if l, held := s.leases[key]; held && time.Now().Before(l.until) {
		return "", false
	}
	s.taken++
	token := strconv.Itoa(s.taken)
	s.leases[key] = sharedLease{token: token, until: time.Now().Add(ttl)}
	return token, true
}

func (s *sharedMap) Unlease(_ context.Context, key, token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.leases[key].token == token {
		delete(s.leases, key)
	}
}

type sharedEntry struct {
	v     string
	until time.Time
}

func (s *sharedMap) Get(_ context.Context, key string) (string, time.Duration, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[key]
	left := time.Until(e.until)
	if !ok || left <= 0 {
		return "", 0, false
	}
	return e.v, left, true
}

func (s *sharedMap) Set(_ context.Context, key, v string, ttl time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[key] = sharedEntry{v, time.Now().Add(ttl)}
}

// Caches with one shared tier answer each other's calls, and an answer
// taken from the shared tier lives in memory only for what it had left.
func TestCachesShareATierAndItsTTL(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		up := &flaky{delays: []time.Duration{10 * time.Millisecond}}
		tier := &sharedMap{m: map[string]sharedEntry{}}
		replica := func() *Cache[string, string] {
			c := &Cache[string, string]{Next: up, TTL: 30 * time.Second, Shared: tier}
			t.Cleanup(c.Close)
			return c
		}
		a, b := replica(), replica()
		a.Fetch(t.Context(), "q")
		if _, _, tr := traced(t.Context(), b); up.calls.Load() != 1 || !tr.Marks().Has(CacheHit) {
			t.Fatalf("calls %d, marks %b: the second replica did not hit the shared tier", up.calls.Load(), tr.Marks())
		}
		time.Sleep(20 * time.Second)
		c := replica()
		c.Fetch(t.Context(), "q") // from the shared tier, with 10s left
		time.Sleep(11 * time.Second)
		c.Fetch(t.Context(), "q")
		if up.calls.Load() != 2 {
			t.Errorf("calls %d: an answer outlived its TTL in a replica's memory", up.calls.Load())
		}
	})
}

// Replicas sharing a tier share a call in flight: the second waits for the
// first's answer; when the first fails, or hangs past FlightWait, the
// second calls the source itself.
func TestCachesShareACallInFlight(t *testing.T) {
	for _, c := range []struct {
		name      string
		up        *flaky
		wantCalls int32
		wantTook  time.Duration // of the second replica's call, which starts 10ms after the first
		wantMark  bool
	}{
		{"the holder answers", &flaky{delays: []time.Duration{time.Second}}, 1, 995 * time.Millisecond, true},
		{"the holder fails", &flaky{delays: []time.Duration{time.Second, 100 * time.Millisecond}, fails: 1, err: permanent}, 2, 1100 * time.Millisecond, false},
		{"the holder hangs", &flaky{delays: []time.Duration{time.Hour, 100 * time.Millisecond}}, 2, 2100 * time.Millisecond, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tier := &sharedMap{m: map[string]sharedEntry{}}
				replica := func() *Cache[string, string] {
					r := &Cache[string, string]{Next: c.up, TTL: time.Minute, Shared: tier, FlightWait: 2 * time.Second}
					t.Cleanup(r.Close)
					return r
				}
				a, b := replica(), replica()
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				go a.Fetch(ctx, "q")
				time.Sleep(10 * time.Millisecond)
				start := time.Now()
				v, err, tr := traced(t.Context(), b)
				took := time.Since(start)
				if err != nil || v != "ok" {
					t.Fatalf("second replica: %q, %v", v, err)
				}
				if took < c.wantTook-5*time.Millisecond || took > c.wantTook+100*time.Millisecond {
					t.Errorf("second replica took %v, want about %v", took, c.wantTook)
				}
				if n := c.up.calls.Load(); n != c.wantCalls {
					t.Errorf("upstream calls %d, want %d", n, c.wantCalls)
				}
				if tr.Marks().Has(Coalesced) != c.wantMark {
					t.Errorf("coalesced mark %v, want %v", tr.Marks().Has(Coalesced), c.wantMark)
				}
				cancel()
				synctest.Wait()
			})
		})
	}
}

// Failover asks the next source after a failure it accepts, records each
// source it moved on from, and never moves on from a refused failure.
func TestFailoverMovesOnAndSaysSo(t *testing.T) {
	down := Func[string, string](func(context.Context, string) (string, error) { return "", transient{} })
	bad := Func[string, string](func(context.Context, string) (string, error) { return "", permanent })
	up := Func[string, string](func(context.Context, string) (string, error) { return "ok", nil })
	onlyTransient := func(err error) bool { return IsRetryable(err) }
	f := &Failover[string, string]{Next: down, Name: "a", On: onlyTransient,
		Alternates: []Alternate[string, string]{{"b", down}, {"c", up}}}
	v, err, tr := traced(t.Context(), f)
	steps, by := tr.Failovers()
	if v != "ok" || err != nil || by != "c" || len(steps) != 2 || steps[0].Name != "a" || steps[1].Name != "b" {
		t.Errorf("%q %v: served by %q after %+v", v, err, by, steps)
	}
	f = &Failover[string, string]{Next: bad, Name: "a", On: onlyTransient, Alternates: []Alternate[string, string]{{"c", up}}}
	if _, err, tr := traced(t.Context(), f); err != permanent {
		t.Errorf("a refused failure moved on: %v", err)
	} else if steps, _ := tr.Failovers(); len(steps) != 0 {
		t.Errorf("steps %+v", steps)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	f = &Failover[string, string]{Next: down, Name: "a", Alternates: []Alternate[string, string]{{"c", up}}}
	if _, err, _ := traced(ctx, f); err == nil {
		t.Error("a call whose context ended moved on")
	}
}
