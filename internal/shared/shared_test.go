package shared_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/citypopy/highway/internal/config"
	"github.com/citypopy/highway/internal/redistest"
	"github.com/citypopy/highway/internal/shared"
	"github.com/citypopy/highway/source"
)

func TestMain(m *testing.M) {
	// Load the system's roots once, before any test: the first TLS dial
	// does it on go-redis's dial goroutine, and on a loaded machine that
	// one-time load outlived the test that dialled, which goleak reported.
	x509.SystemCertPool()
	goleak.VerifyTestMain(m)
}

// watcher records what a Store reports: its log and its up/down changes.
type watcher struct {
	mu        sync.Mutex
	log       bytes.Buffer
	ups       []bool
	fallbacks map[string]int
}

func (w *watcher) options() shared.Options {
	w.fallbacks = map[string]int{}
	return shared.Options{
		Logger:   slog.New(slog.NewTextHandler(lockedWriter{w}, nil)),
		Up:       func(up bool) { w.mu.Lock(); w.ups = append(w.ups, up); w.mu.Unlock() },
		Fallback: func(f string) { w.mu.Lock(); w.fallbacks[f]++; w.mu.Unlock() },
	}
}

type lockedWriter struct{ w *watcher }

func (l lockedWriter) Write(p []byte) (int, error) {
	l.w.mu.Lock()
	defer l.w.mu.Unlock()
	return l.w.log.Write(p)
}

func (w *watcher) snapshot() (log string, ups []bool, fallbacks map[string]int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	f := map[string]int{}
	for k, v := range w.fallbacks {
		f[k] = v
	}
	return w.log.String(), append([]bool(nil), w.ups...), f
}

func redisConfig(addr string) config.Redis {
	return config.Redis{Addr: addr, Prefix: "test:", Timeout: config.Duration(200 * time.Millisecond),
		OnError: config.RedisFailOpen, MaxEntryBytes: 1 << 10}
}

func open(t *testing.T, cfg config.Redis, o shared.Options) *shared.Store {
	s := shared.Open(cfg, o)
	t.Cleanup(func() { s.Close() })
	return s
}

func TestARateHoldsAcrossStores(t *testing.T) {
	srv := redistest.Start(t)
	a := open(t, redisConfig(srv.Addr), shared.Options{})
	b := open(t, redisConfig(srv.Addr), shared.Options{})
	ctx := t.Context()
	// One request a second with a burst of 4: whichever replica is asked,
	// four go through at once and the fifth waits about a second.
	allowed := 0
	var wait time.Duration
	for i := range 8 {
		s := a
		if i%2 == 1 {
			s = b
		}
		ok, w, err := s.Allow(ctx, "alice", 1, 4)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			allowed++
		} else {
			wait = w
		}
	}
	if allowed != 4 {
		t.Errorf("allowed %d of 8 across two stores, want the burst of 4", allowed)
	}
	if wait <= 0 || wait > time.Second {
		t.Errorf("wait %v, want within one interval (1s)", wait)
	}
	// Another client's rate is its own.
	if ok, _, err := b.Allow(ctx, "bob", 1, 1); err != nil || !ok {
		t.Errorf("bob: allowed %v, err %v", ok, err)
	}
	// The key starts with the prefix, and expires once the bucket is full again.
	c := srv.Client()
	defer c.Close()
	ttl, err := c.PTTL(ctx, "test:rate:{alice}").Result()
	if err != nil || ttl <= 0 || ttl > 5*time.Second {
		t.Errorf("rate key ttl %v, %v; want a few seconds", ttl, err)
	}
}

func TestAFractionalRate(t *testing.T) {
	srv := redistest.Start(t)
	s := open(t, redisConfig(srv.Addr), shared.Options{})
	if ok, _, err := s.Allow(t.Context(), "slow", 0.5, 1); err != nil || !ok {
		t.Fatalf("first: %v %v", ok, err)
	}
	ok, wait, err := s.Allow(t.Context(), "slow", 0.5, 1)
	if err != nil || ok {
		t.Fatalf("second: allowed %v, err %v; want refused", ok, err)
	}
	if wait < time.Second || wait > 2*time.Second {
		t.Errorf("wait %v at half a request a second, want between 1s and 2s", wait)
	}
}

func TestAnAnswerIsSharedUntilItsTTL(t *testing.T) {
	srv := redistest.Start(t)
	a := open(t, redisConfig(srv.Addr), shared.Options{})
	b := open(t, redisConfig(srv.Addr), shared.Options{})
	weather := &config.Source{Kind: config.KindMock, Spec: &config.Mock{Latency: config.Duration(time.Second)}}
	ca, cb := a.Cache("weather", weather), b.Cache("weather", weather)
	ctx := t.Context()
	if _, _, ok := cb.Get(ctx, "city=Paris"); ok {
		t.Fatal("hit before anything was stored")
	}
	ca.Set(ctx, "city=Paris", source.Whole(json.RawMessage(`{"sunny":true}`)), time.Minute)
	got, left, ok := cb.Get(ctx, "city=Paris")
	if !ok {
		t.Fatal("other store: a miss; want the answer")
	}
	if v, err := got.Value(ctx); string(v) != `{"sunny":true}` || err != nil {
		t.Fatalf("other store: %s, %v; want the answer", v, err)
	}
	if left <= 0 || left > time.Minute {
		t.Errorf("left %v, want within the minute", left)
	}
	if _, _, ok := cb.Get(ctx, "city=Rome"); ok {
		t.Error("another call's key hit")
	}
	// A source configured differently never reads the old answer.
	changed := *weather
	changed.Spec = &config.Mock{Latency: config.Duration(2 * time.Second)}
	if _, _, ok := b.Cache("weather", &changed).Get(ctx, "city=Paris"); ok {
		t.Error("a changed source read the old source's answer")
	}
	if _, _, ok := b.Cache("search", weather).Get(ctx, "city=Paris"); ok {
		t.Error("another source read weather's answer")
	}
	// A streamed answer is shared with its tokens: another replica replays it.
	streamed, w := source.NewStream("chat")
	w.Token("Hel")
	w.Token("lo")
	w.End(json.RawMessage(`{"reply":"Hello"}`), &source.Usage{InputTokens: 1, OutputTokens: 2}, nil)
	ca.Set(ctx, "chat", streamed, time.Minute)
	if got, _, ok := cb.Get(ctx, "chat"); !ok || strings.Join(slices.Collect(got.Tokens(ctx)), "|") != "Hel|lo" {
		t.Errorf("the stream was not shared with its tokens: %v", ok)
	} else if u, _ := got.Usage(); u.OutputTokens != 2 {
		t.Errorf("usage %+v", u)
	}
	// Entries are bounded: a big answer stays out of Redis.
	big := json.RawMessage(`"` + strings.Repeat("x", 2<<10) + `"`)
	ca.Set(ctx, "big", source.Whole(big), time.Minute)
	if _, _, ok := cb.Get(ctx, "big"); ok {
		t.Error("an answer over max_entry_bytes was shared")
	}
	// Every key starts with the prefix.
	c := srv.Client()
	defer c.Close()
	keys, err := c.Keys(ctx, "*").Result()
	if err != nil || len(keys) != 2 || !strings.HasPrefix(keys[0], "test:cache:{weather:") || !strings.HasPrefix(keys[1], "test:cache:{weather:") {
		t.Errorf("keys %q, %v; want two under test:cache:{weather:", keys, err)
	}
}

func TestRedisGoingAwayIsSaidOnceAndComesBack(t *testing.T) {
	srv := redistest.Start(t)
	var w watcher
	s := open(t, redisConfig(srv.Addr), w.options())
	ctx := t.Context()
	if _, _, err := s.Allow(ctx, "k", 100, 100); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	failures := 0
	cache := s.Cache("weather", &config.Source{Kind: config.KindMock})
	for range 50 {
		if _, _, err := s.Allow(ctx, "k", 100, 100); err != nil {
			failures++
		}
		if _, _, ok := cache.Get(ctx, "x"); ok {
			t.Fatal("a hit from a stopped Redis")
		}
	}
	if failures != 50 {
		t.Errorf("%d of 50 calls failed with Redis stopped", failures)
	}
	log, ups, fb := w.snapshot()
	if n := strings.Count(log, "redis does not answer"); n != 1 {
		t.Errorf("%d log lines for one outage, want 1:\n%s", n, log)
	}
	if len(ups) != 2 || !ups[0] || ups[1] {
		t.Errorf("up changes %v, want [true false]", ups)
	}
	if fb["rate_limit"] != 50 || fb["cache"] != 50 {
		t.Errorf("fallbacks %v, want 50 of each", fb)
	}
	srv.Restart()
	// The store probes again once a second: poll until it is back.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if ok, _, err := s.Allow(ctx, "k", 100, 100); err == nil && ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the store did not come back within 10s of Redis restarting")
		}
		time.Sleep(100 * time.Millisecond)
	}
	log, ups, _ = w.snapshot()
	if strings.Count(log, "redis answers again") != 1 || len(ups) != 3 || !ups[2] {
		t.Errorf("after the restart: ups %v, log:\n%s", ups, log)
	}
}

func TestAPausedRedisCostsAtMostTheTimeout(t *testing.T) {
	srv := redistest.Start(t)
	cfg := redisConfig(srv.Addr)
	cfg.Timeout = config.Duration(50 * time.Millisecond)
	s := open(t, cfg, shared.Options{})
	if _, _, err := s.Allow(t.Context(), "k", 100, 100); err != nil {
		t.Fatal(err)
	}
	srv.Pause()
	defer srv.Resume()
	done := make(chan error, 1)
	go func() { _, _, err := s.Allow(context.Background(), "k", 100, 100); done <- err }()
	select {
	case err := <-done:
		if err == nil {
			t.Error("a paused Redis answered")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("an operation on a paused Redis did not return: the timeout is not applied")
	}
}

// parsed is the redis section of a config that says yaml, as Highway
// loads it (the CA file read, the test's environment expanded).
func parsed(t *testing.T, yaml string) config.Redis {
	t.Helper()
	cfg, err := config.ParseEnv("test.yaml", []byte(yaml+"\nsources: {a: {kind: mock}}\nroutes: [{path: /r, sources: [a]}]\n"),
		config.Vars(map[string]string{"REDIS_PASSWORD": "s3cret-pass-word"}))
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Redis
}

func TestTLSWithAPrivateCAAndAPassword(t *testing.T) {
	srv := redistest.StartTLS(t, "--requirepass", "s3cret-pass-word")
	ok := parsed(t, `redis: {addr: "`+srv.Addr+`", tls: true, tls_ca_file: "`+srv.TLS().CAFile+`", password: "${REDIS_PASSWORD}", timeout: 2s}`)
	if allowed, _, err := open(t, ok, shared.Options{}).Allow(t.Context(), "k", 10, 10); err != nil || !allowed {
		t.Fatalf("TLS with the CA and the password: allowed %v, %v", allowed, err)
	}
	for name, yaml := range map[string]string{
		"the system's roots": `redis: {addr: "` + srv.Addr + `", tls: true, password: "${REDIS_PASSWORD}"}`,
		"no TLS":             `redis: {addr: "` + srv.Addr + `", password: "${REDIS_PASSWORD}"}`,
		"the wrong password": `redis: {addr: "` + srv.Addr + `", tls: true, tls_ca_file: "` + srv.TLS().CAFile + `", password: wrong-password}`,
	} {
		if _, _, err := open(t, parsed(t, yaml), shared.Options{}).Allow(t.Context(), "k", 10, 10); err == nil {
			t.Errorf("%s: Redis answered", name)
		}
	}
}

// TestALeaseIsReleasedOnlyByItsOwner: replica a's lease runs out (here it
// is deleted, as its expiry would) and replica b takes it; a, finishing
// late, must not drop b's lease, or a third replica would call the
// upstream beside b.
func TestALeaseIsReleasedOnlyByItsOwner(t *testing.T) {
	srv := redistest.Start(t)
	a := open(t, redisConfig(srv.Addr), shared.Options{})
	b := open(t, redisConfig(srv.Addr), shared.Options{})
	weather := &config.Source{Kind: config.KindMock, Spec: &config.Mock{Latency: config.Duration(time.Second)}}
	ca, cb := a.Cache("weather", weather), b.Cache("weather", weather)
	ctx := t.Context()
	tokenA, ok := ca.Lease(ctx, "city=Paris", time.Minute)
	if !ok {
		t.Fatal("a could not take a free lease")
	}
	if _, ok := cb.Lease(ctx, "city=Paris", time.Minute); ok {
		t.Fatal("b took a lease a holds")
	}
	c := srv.Client()
	defer c.Close()
	keys, err := c.Keys(ctx, "test:cache:*:lease").Result()
	if err != nil || len(keys) != 1 {
		t.Fatalf("lease keys %q, %v; want one", keys, err)
	}
	c.Del(ctx, keys[0]) // a's lease runs out
	tokenB, ok := cb.Lease(ctx, "city=Paris", time.Minute)
	if !ok || tokenB == tokenA {
		t.Fatalf("b: taken %v with token %q (a's %q); want its own lease", ok, tokenB, tokenA)
	}
	ca.Unlease(ctx, "city=Paris", tokenA) // a finishes late
	if _, ok := ca.Lease(ctx, "city=Paris", time.Minute); ok {
		t.Fatal("a's late Unlease dropped the lease b holds")
	}
	cb.Unlease(ctx, "city=Paris", tokenB)
	if _, ok := ca.Lease(ctx, "city=Paris", time.Minute); !ok {
		t.Fatal("b's Unlease left its lease held")
	}
}
