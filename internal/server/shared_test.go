package server

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/citypopy/highway/internal/metrics"
	"github.com/citypopy/highway/internal/redistest"
	"github.com/citypopy/highway/internal/report"
)

// replicas are two servers of one config over real sockets, as two
// Highways behind a balancer, sharing the test's redis-server.
func replicas(t *testing.T, yaml string, logs *bytes.Buffer) (a, b *httptest.Server) {
	t.Helper()
	start := func(name string) *httptest.Server {
		o := Options{Instance: name, Metrics: metrics.NewFor(name)}
		if logs != nil {
			o.Logger = slog.New(slog.NewTextHandler(logs, nil)).With("instance", name)
		}
		ts := httptest.NewServer(newServerWith(t, yaml, o))
		t.Cleanup(ts.Close)
		return ts
	}
	return start("a"), start("b")
}

func call(t *testing.T, base, path, key string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", base+path, nil)
	if key != "" {
		req.Header.Set("X-API-Key", key)
	}
	return send(t, req)
}

// send is req's answer and its whole body.
func send(t *testing.T, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body)
}

// sharedCity has a limited client, an unlimited one, and a cached http
// source whose upstream counts its calls.
func sharedCity(redisAddr, upstream, onError string) string {
	return `
redis: {addr: "` + redisAddr + `", prefix: "t:", timeout: 500ms, on_error: ` + onError + `}
clients:
  keys:
    - {name: bob, key: bob-0123456789abcdef, rate: 0.01, burst: 3}
    - {name: alice, key: alice-0123456789abcdef}
sources:
  weather: {kind: http, url: "` + upstream + `/weather", cache: {ttl: 1m}}
routes: [{path: /r, sources: [weather]}]
`
}

func countingUpstream(t *testing.T) (*httptest.Server, *atomic.Int64) {
	var calls atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"sunny":true}`)
	}))
	t.Cleanup(up.Close)
	return up, &calls
}

func TestReplicasShareOneRateAndOneCacheThroughRedis(t *testing.T) {
	rs := redistest.Start(t)
	up, calls := countingUpstream(t)
	a, b := replicas(t, sharedCity(rs.Addr, up.URL, "open"), nil)

	// Bob's burst of 3 holds across both replicas, not 3 per replica.
	codes := map[int]int{}
	for i := range 8 {
		base := a.URL
		if i%2 == 1 {
			base = b.URL
		}
		resp, body := call(t, base, "/r", "bob-0123456789abcdef")
		codes[resp.StatusCode]++
		if resp.StatusCode == 429 && (resp.Header.Get("Retry-After") == "" || !strings.Contains(body, "rate limit of client bob")) {
			t.Errorf("429 without Retry-After or reason: %v %s", resp.Header, body)
		}
	}
	if codes[200] != 3 || codes[429] != 5 {
		t.Errorf("codes %v across two replicas, want 3 × 200 and 5 × 429", codes)
	}

	// The answer a fetched, b serves from the shared cache.
	resp, body := call(t, a.URL, "/r", "alice-0123456789abcdef")
	if resp.Header.Get("X-Highway-Instance") != "a" {
		t.Errorf("instance header %q, want a", resp.Header.Get("X-Highway-Instance"))
	}
	d, err := report.Decode([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	first := d.Sources.Get("weather")
	resp, body = call(t, b.URL, "/r", "alice-0123456789abcdef")
	if d, err = report.Decode([]byte(body)); err != nil {
		t.Fatal(err)
	}
	if second := d.Sources.Get("weather"); !second.Cached || string(second.Data) != string(first.Data) {
		t.Errorf("replica b: cached %v, data %s; want the answer a fetched, cached", second.Cached, second.Data)
	}
	// Bob's three answers and alice's first came from one upstream call.
	if n := calls.Load(); n != 1 {
		t.Errorf("upstream called %d times by two replicas, want 1", n)
	}
	if resp.Header.Get("X-Highway-Instance") != "b" {
		t.Errorf("instance header %q, want b", resp.Header.Get("X-Highway-Instance"))
	}
}

func TestRedisDownFailsOpenOrClosedAsConfigured(t *testing.T) {
	for _, mode := range []string{"open", "closed"} {
		t.Run(mode, func(t *testing.T) {
			rs := redistest.Start(t)
			up, calls := countingUpstream(t)
			var logs bytes.Buffer
			a, _ := replicas(t, sharedCity(rs.Addr, up.URL, mode), &logs)
			if resp, _ := call(t, a.URL, "/r", "bob-0123456789abcdef"); resp.StatusCode != 200 {
				t.Fatalf("with Redis up: %d", resp.StatusCode)
			}
			rs.Stop()
			bob := map[int]int{}
			for range 10 {
				resp, body := call(t, a.URL, "/r", "bob-0123456789abcdef")
				bob[resp.StatusCode]++
				if resp.StatusCode == 503 && !strings.Contains(body, "Redis") {
					t.Errorf("503 that does not say why: %s", body)
				}
				// A caller with no rate to check needs no Redis.
				if resp, _ := call(t, a.URL, "/r", "alice-0123456789abcdef"); resp.StatusCode != 200 {
					t.Errorf("alice with Redis down: %d", resp.StatusCode)
				}
			}
			switch mode {
			case "open": // the replica's own limiter stands in, with bob's burst of 3
				if bob[200] != 3 || bob[429] != 7 {
					t.Errorf("bob with Redis down, open: %v; want the replica's own limit (3 × 200, 7 × 429)", bob)
				}
			case "closed":
				if bob[503] != 10 {
					t.Errorf("bob with Redis down, closed: %v; want 10 × 503", bob)
				}
			}
			// The cache fell back to memory and the upstream: still one call.
			if n := calls.Load(); n != 1 {
				t.Errorf("upstream calls %d, want 1 (the replica's memory tier)", n)
			}
			if n := strings.Count(logs.String(), "redis does not answer"); n != 1 {
				t.Errorf("%d log lines for one outage, want 1:\n%s", n, logs.String())
			}
			_, m := call(t, a.URL, "/metrics", "alice-0123456789abcdef")
			for _, want := range []string{`highway_redis_up{instance="a"} 0`, `highway_redis_fallbacks_total{feature="rate_limit",instance="a"}`} {
				if !strings.Contains(m, want) {
					t.Errorf("metrics lack %s", want)
				}
			}
		})
	}
}

func TestNoRedisNoRedisMetrics(t *testing.T) {
	s := newServer(t, "sources: {w: {kind: mock, latency: 1ms, data: 1}}\nroutes: [{path: /r, sources: [w]}]\n")
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if strings.Contains(rec.Body.String(), "highway_redis") {
		t.Error("a server without Redis reports Redis metrics")
	}
	var d map[string]any
	rec = httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("GET", "/r", nil))
	if err := json.Unmarshal(rec.Body.Bytes(), &d); err != nil || rec.Header().Get("X-Highway-Instance") != "" {
		t.Errorf("no instance asked for: header %q, %v", rec.Header().Get("X-Highway-Instance"), err)
	}
}

func TestReplicasShareACallInFlightThroughRedis(t *testing.T) {
	rs := redistest.Start(t)
	var calls atomic.Int64
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		select { // slow enough for every replica's callers to miss at once
		case <-release:
		case <-r.Context().Done():
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"reply":"hello"}`)
	}))
	defer up.Close()
	a, b := replicas(t, `
redis: {addr: "`+rs.Addr+`", timeout: 200ms}
sources:
  chat: {kind: http, url: "`+up.URL+`/chat", cache: {ttl: 1m}, coalesce: true, timeout: 5s}
routes: [{path: /r, sources: [chat]}]
`, nil)
	type answer struct {
		instance string
		d        *report.Document
	}
	answers := make(chan answer, 10)
	for i := range 10 {
		base := a.URL
		if i%2 == 1 {
			base = b.URL
		}
		go func() {
			resp, body := call(t, base, "/r", "")
			d, err := report.Decode([]byte(body))
			if err != nil {
				t.Errorf("%s: %v", body, err)
			}
			answers <- answer{resp.Header.Get("X-Highway-Instance"), d}
		}()
	}
	// Every caller is waiting once the one upstream call is in; then it
	// answers.
	for calls.Load() == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	close(release)
	shared := map[string]int{}
	for range 10 {
		ans := <-answers
		if ans.d == nil {
			continue
		}
		chat := ans.d.Sources.Get("chat")
		if chat.Status != "ok" {
			t.Errorf("%s: chat %s", ans.instance, chat.Status)
		}
		if chat.Coalesced || chat.Cached { // a caller late to the flight finds the answer cached
			shared[ans.instance]++
		}
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("ten identical calls on two replicas made %d upstream calls, want 1", n)
	}
	if shared["a"]+shared["b"] != 9 || shared["a"] == 0 || shared["b"] == 0 {
		t.Errorf("shared answers by replica %v, want 9 on both replicas together", shared)
	}
}

// A Redis that stops answering without closing its connections (paused,
// as when it is overloaded) costs requests at most its timeout, and once
// it counts as down, nothing.
func TestAPausedRedisDoesNotHoldRequests(t *testing.T) {
	rs := redistest.Start(t)
	up, _ := countingUpstream(t)
	a, _ := replicas(t, sharedCity(rs.Addr, up.URL, "open"), nil)
	if resp, _ := call(t, a.URL, "/r", "alice-0123456789abcdef"); resp.StatusCode != 200 {
		t.Fatalf("with Redis up: %d", resp.StatusCode)
	}
	rs.Pause()
	defer rs.Resume()
	for i := range 20 {
		done := make(chan int, 1)
		go func() {
			resp, _ := call(t, a.URL, "/r", "bob-0123456789abcdef")
			done <- resp.StatusCode
		}()
		select {
		case code := <-done:
			if code != 200 && code != 429 {
				t.Errorf("request %d with Redis paused: %d", i, code)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("request %d hung on a paused Redis", i)
		}
	}
}

// A reload keeps the Redis connection while the redis section is the
// same, and the sources' shared caches with it; a changed section opens a
// new one and closes the old.
func TestAReloadKeepsRedisUnlessItsSectionChanged(t *testing.T) {
	rs := redistest.Start(t)
	cfg := func(prefix string) string {
		return `
redis: {addr: "` + rs.Addr + `", prefix: "` + prefix + `"}
sources: {w: {kind: mock, latency: 1ms, data: 1, cache: {ttl: 1m}}}
routes: [{path: /r, sources: [w]}]
`
	}
	first := newServerWith(t, cfg("a:"), Options{})
	same := newServerWith(t, cfg("a:"), Options{Registry: first.registry})
	if same.shared != first.shared || same.upstreams["w"] != first.upstreams["w"] {
		t.Error("an unchanged redis section did not keep its connection and the source its cache")
	}
	changed := newServerWith(t, cfg("b:"), Options{Registry: same.registry})
	if changed.shared == same.shared || changed.upstreams["w"] == same.upstreams["w"] {
		t.Error("a changed redis section kept the old connection")
	}
	if err := same.shared.Ping(t.Context()); err == nil {
		t.Error("the replaced connection is still open")
	}
	if err := changed.shared.Ping(t.Context()); err != nil {
		t.Errorf("the new connection: %v", err)
	}
}

// A client's token budget holds across replicas sharing a Redis.
func TestReplicasShareATokenBudget(t *testing.T) {
	rs := redistest.Start(t)
	llm := fakeProviders(t)
	a, b := replicas(t, `
redis: {addr: "`+rs.Addr+`", timeout: 500ms}
clients:
  keys: [{name: poet, key: poet-0123456789abcdef, tokens_per_minute: 40}]
sources:
  chat: {kind: openai, base_url: "`+llm.URL+`/openai/v1?token_delay=1ms", model: m, user: Write a short poem about the city.}
routes: [{path: /chat, sources: [chat]}]
`, nil)
	// Each answer takes about 20 tokens: whichever replica is asked, the
	// third request finds the 40 spent.
	var codes []int
	for i := range 4 {
		base := a.URL
		if i%2 == 1 {
			base = b.URL
		}
		resp, body := call(t, base, "/chat", "poet-0123456789abcdef")
		codes = append(codes, resp.StatusCode)
		if resp.StatusCode == 429 && !strings.Contains(body, "token budget (40 tokens a minute) of client poet ran out") {
			t.Errorf("429 says %s", body)
		}
	}
	if codes[0] != 200 || codes[3] != 429 {
		t.Errorf("codes %v across two replicas: the budget is not shared", codes)
	}
	c := rs.Client()
	defer c.Close()
	if n, err := c.Exists(t.Context(), "highway:budget:{poet:tokens}").Result(); err != nil || n != 1 {
		t.Errorf("budget key in Redis: %d, %v", n, err)
	}
}

// Through the front door too, two replicas behind a balancer share one
// Redis: a model's cached answer fetched by one is the other's hit (a
// streamed one replayed as a stream, the provider called once), and a
// key's token budget spent on one is spent on both.
func TestReplicasShareTheDoorsCacheAndBudgets(t *testing.T) {
	rs := redistest.Start(t)
	var calls atomic.Int64
	mock, err := url.Parse(mockUpstream(t))
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(mock)
	counted := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(counted.Close)
	a, b := replicas(t, `
redis: {addr: "`+rs.Addr+`", timeout: 500ms}
clients:
  keys: [{name: app, key: hw-app-key-0123456789, tokens_per_minute: 40}]
sources:
  oa: {kind: openai, base_url: "`+counted.URL+`/openai/v1?token_delay=1ms", model: popy-1}
models:
  cached: {use: [oa], cache: {ttl: 1m}}
  plain:  {use: [oa]}
`, nil)
	ask := func(front, model string) (*http.Response, string) {
		req, _ := http.NewRequest(http.MethodPost, front+"/v1/chat/completions",
			strings.NewReader(`{"model":"`+model+`","stream":true,"messages":[{"role":"user","content":"Hi there"}]}`))
		req.Header.Set("Authorization", "Bearer hw-app-key-0123456789")
		return send(t, req)
	}
	first, fromA := ask(a.URL, "cached")
	second, fromB := ask(b.URL, "cached")
	if first.StatusCode != 200 || second.StatusCode != 200 || second.Header.Get("X-Highway-Cache") != "hit" || calls.Load() != 1 {
		t.Fatalf("a: %s, b: %s (cache %q), provider called %d times", first.Status, second.Status, second.Header.Get("X-Highway-Cache"), calls.Load())
	}
	if fromB != fromA || !strings.HasPrefix(second.Header.Get("Content-Type"), "text/event-stream") || !strings.Contains(fromB, "data: [DONE]") {
		t.Errorf("the other replica's hit is not the same stream:\n%s\nwant:\n%s", fromB, fromA)
	}
	// About 13 tokens an answer, 40 a minute: asked of either replica in
	// turn, the budget runs out at the same count as on one.
	var codes []int
	for i := range 8 {
		front := a.URL
		if i%2 == 1 {
			front = b.URL
		}
		resp, body := ask(front, "plain")
		codes = append(codes, resp.StatusCode)
		if resp.StatusCode == 429 && (!strings.Contains(body, `"type":"rate_limit_error"`) && !strings.Contains(body, `"code":"rate_limit_exceeded"`) || resp.Header.Get("Retry-After") == "") {
			t.Errorf("429 in the OpenAI dialect, with Retry-After: %s %s", resp.Header, body)
		}
	}
	// Each replica on its own budget would answer about six.
	if ok := slices.Index(codes, 429); codes[0] != 200 || ok < 0 || ok > 4 || slices.Contains(codes[ok:], 200) {
		t.Errorf("codes %v across two replicas: the budget is not shared", codes)
	}
}
