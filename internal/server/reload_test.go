package server

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/citypopy/highway/internal/metrics"
)

// reload builds the server that replaces prev, as serve does on SIGHUP.
func reload(t *testing.T, prev *Server, yaml string) *Server {
	t.Helper()
	return newServerWith(t, yaml, Options{Registry: prev.registry})
}

func TestReloadKeepsTheCacheOfAnUnchangedSource(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		io.WriteString(w, `{"temp": 22}`)
	}))
	defer up.Close()
	config := func(ttl, extra string) string {
		return fmt.Sprintf(`
sources:
  weather: {kind: http, url: "%s", cache: {ttl: %s}}
  image:   {kind: mock, latency: 1ms, data: %s}
routes: [{path: /r, sources: [weather, image]}]
`, up.URL, ttl, extra)
	}
	s := newServer(t, config("1h", "1"))
	steps := []struct {
		name, config, wantImage string
		wantCalls               int32
	}{
		{"first request", "", "1", 1},
		{"reloaded, weather unchanged, image changed", config("1h", "2"), "2", 1},
		{"reloaded with another TTL: a new cache", config("2h", "2"), "2", 2},
	}
	for _, st := range steps {
		if st.config != "" {
			s = reload(t, s, st.config)
		}
		code, d, _ := get(t, s, "GET", "/r")
		if code != 200 || d.Sources.Get("weather").Status != "ok" || string(d.Sources.Get("image").Data) != st.wantImage {
			t.Errorf("%s: %d %+v", st.name, code, d.Sources)
		}
		if got := calls.Load(); got != st.wantCalls {
			t.Errorf("%s: %d upstream calls, want %d", st.name, got, st.wantCalls)
		}
	}
}

func TestReloadKeepsAnOpenBreakerOpen(t *testing.T) {
	t.Parallel()
	config := func(failures int) string {
		return fmt.Sprintf(`
sources:
  broken: {kind: mock, latency: 1ms, failure_rate: 1, breaker: {failures: %d, cooldown: 1h}}
  weather: {kind: mock, latency: 1ms, data: 1}
routes: [{path: /r, sources: [weather, broken], optional: [broken]}]
`, failures)
	}
	s := newServer(t, config(1))
	steps := []struct {
		name, config, wantReason string
	}{
		{"the failure that opens it", "", "failed"},
		{"open", "", "breaker_open"},
		{"reloaded unchanged: still open", config(1), "breaker_open"},
		{"reloaded with another threshold: a new breaker", config(2), "failed"},
	}
	for _, st := range steps {
		if st.config != "" {
			s = reload(t, s, st.config)
		}
		_, d, _ := get(t, s, "GET", "/r")
		if got := d.Sources.Get("broken").Reason; got != st.wantReason {
			t.Errorf("%s: reason %q, want %q", st.name, got, st.wantReason)
		}
	}
}

func TestReloadKeepsWhatAKeyHasUsedOfItsRate(t *testing.T) {
	t.Parallel()
	vars := map[string]string{"BOB_KEY": "bob-0123456789abcdef"}
	config := func(burst int) string {
		return fmt.Sprintf(`
clients: {keys: [{name: bob, key: "${BOB_KEY}", rate: 0.001, burst: %d}]}
sources: {weather: {kind: mock, latency: 1ms, data: 1}}
routes: [{path: /r, sources: [weather]}]
`, burst)
	}
	s := newServerEnv(t, config(1), vars, Options{})
	steps := []struct {
		name, config string
		want         int
	}{
		{"bob's one request", "", 200},
		{"reloaded unchanged: no fresh burst", config(1), 429},
		{"reloaded with a new burst: a new limiter", config(2), 200},
	}
	for _, st := range steps {
		if st.config != "" {
			s = newServerEnv(t, st.config, vars, Options{Registry: s.registry}) // a reload
		}
		req := httptest.NewRequest("GET", "/r", nil)
		req.Header.Set("X-API-Key", "bob-0123456789abcdef")
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code != st.want {
			t.Errorf("%s: %d %s, want %d", st.name, rec.Code, rec.Body, st.want)
		}
	}
}

// A reload keeps admission's accounting: the requests in flight on the
// config it replaced count against the new limit, which a reload never
// resets, and the in-flight gauge tells the truth.
func TestHostileReloadUnderFullAdmission(t *testing.T) {
	t.Parallel()
	up, g := gate(t)
	m := metrics.New()
	cfg := func(max int) string {
		return fmt.Sprintf(`
admission: {max_inflight: %d, queue: 0, queue_timeout: 0s}
sources: {slow: {kind: http, url: "%s/slow", timeout: 1m}}
routes: [{path: /r, sources: [slow], timeout: 1m}]
`, max, up.URL)
	}
	old := newServerWith(t, cfg(2), Options{Metrics: m})
	var current atomic.Pointer[Server]
	current.Store(old)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { current.Load().ServeHTTP(w, r) }))
	defer front.Close()
	defer http.DefaultClient.CloseIdleConnections()
	codes := make(chan int, 2)
	for range 2 {
		go func() {
			resp, err := http.Get(front.URL + "/r")
			if err != nil {
				codes <- 0
				return
			}
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	await(t, g.arrived, 2, "both requests in flight")
	for _, max := range []int{2, 3} { // the same limit, then one more place
		current.Store(newServerWith(t, cfg(max), Options{Metrics: m, Registry: current.Load().registry}))
		resp, err := http.Get(front.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(b), "\nhighway_requests_in_flight 2\n") {
			t.Errorf("max %d: the gauge after the reload does not say 2 in flight", max)
		}
		if max == 2 {
			if resp, _ := http.Get(front.URL + "/r"); resp == nil || resp.StatusCode != 503 {
				t.Errorf("a request over the limit after the reload was let in")
			} else {
				resp.Body.Close()
			}
		}
	}
	close(g.open)
	for range 2 {
		if code := <-codes; code != 200 {
			t.Errorf("a request admitted before the reload: %d", code)
		}
	}
	if code, _ := fetch(t, front.URL+"/r"); code != 200 {
		t.Errorf("once they finished: %d", code)
	}
}

// TestReloadKeepsASourceWhoseOwnConfigIsUnchanged: what another source
// says must not rebuild this one. Adding a source with a cache and no
// max_bytes (every cache's share of cache_max_bytes moves), or naming
// this source in another's failover list, kept neither its cache nor its
// open breaker before.
func TestReloadKeepsASourceWhoseOwnConfigIsUnchanged(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.URL.Path == "/broken" {
			http.Error(w, `{"error":"down"}`, http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, `{"temp": 22}`)
	}))
	defer up.Close()
	base := fmt.Sprintf(`
sources:
  weather: {kind: http, url: "%[1]s/weather", cache: {ttl: 1h}}
  broken:  {kind: http, url: "%[1]s/broken", breaker: {failures: 1, cooldown: 1h}}
`, up.URL)
	routes := `routes: [{path: /r, sources: [weather, broken], optional: [broken]}]
`
	s := newServer(t, base+routes)
	for range 2 { // weather cached; broken fails once, then its breaker is open
		get(t, s, "GET", "/r")
	}
	steps := []struct{ name, add string }{
		{"another source with a cache and no max_bytes", `  search: {kind: mock, latency: 1ms, data: 1, cache: {ttl: 1h}}
`},
		{"another source failing over to both", `  search: {kind: mock, latency: 1ms, data: 1, cache: {ttl: 1h}}
  chat: {kind: http, url: "` + up.URL + `/chat", failover: [broken, weather]}
`},
	}
	for _, st := range steps {
		s = reload(t, s, base+st.add+routes)
		before := calls.Load()
		_, d, _ := get(t, s, "GET", "/r")
		if w := d.Sources.Get("weather"); !w.Cached {
			t.Errorf("%s: weather %+v, want its cache kept", st.name, w)
		}
		if got := d.Sources.Get("broken").Reason; got != "breaker_open" {
			t.Errorf("%s: broken's reason %q, want its breaker kept open", st.name, got)
		}
		if n := calls.Load() - before; n != 0 {
			t.Errorf("%s: %d upstream calls, want none", st.name, n)
		}
	}
}

// The registry keeps what the server now in use refers to and releases
// the rest: a source dropped by a reload loses its cache, one kept keeps
// its upstream, and the registry hands the same state to the next server
// built on it, with nothing handed over from the server before.
func TestTheRegistryKeepsWhatTheServerInUseRefersTo(t *testing.T) {
	t.Parallel()
	reg := &Registry{}
	defer reg.Close()
	both := `
sources:
  kept:    {kind: mock, cache: {ttl: 1m}}
  dropped: {kind: mock, cache: {ttl: 1m}}
routes: [{path: /r, sources: [kept, dropped]}]
`
	cached := func(s *Server) (kept, dropped bool) {
		_, d, _ := get(t, s, "GET", "/r")
		return d.Sources.Get("kept").Cached, d.Sources.Get("dropped").Cached
	}
	first := newServerWith(t, both, Options{Registry: reg})
	cached(first)
	if k, d := cached(first); !k || !d {
		t.Fatalf("cached %v %v: the caches do not work", k, d)
	}
	second := newServerWith(t, "sources:\n  kept: {kind: mock, cache: {ttl: 1m}}\nroutes: [{path: /r, sources: [kept]}]\n", Options{Registry: reg})
	if second.upstreams["kept"] != first.upstreams["kept"] || second.admission.Ledger != first.admission.Ledger {
		t.Error("the kept source, or the admission ledger, was built again")
	}
	third := newServerWith(t, both, Options{Registry: reg})
	if third.upstreams["dropped"] == first.upstreams["dropped"] || third.upstreams["kept"] != first.upstreams["kept"] {
		t.Error("a released upstream came back, or a kept one was rebuilt")
	}
	if k, d := cached(third); !k || d {
		t.Errorf("cached %v %v: want the kept source's answer cached, the dropped one's gone", k, d)
	}
}

// A front-door model configured as before, on sources configured as
// before, is the same model after a reload: its cache answers, its
// traffic goes on. Changed, it starts afresh.
func TestAReloadKeepsAnUnchangedModel(t *testing.T) {
	up := mockUpstream(t)
	config := func(ttl string) string {
		return fmt.Sprintf(`
sources:
  oa: {kind: openai, base_url: "%[1]s/openai/v1?token_delay=1ms", model: popy-1}
models:
  cached: {use: [oa], cache: {ttl: %[2]s}}
`, up, ttl)
	}
	ask := func(s *Server) (cache string) {
		front := httptest.NewServer(s)
		defer front.Close()
		resp, err := http.Post(front.URL+"/v1/chat/completions", "application/json",
			strings.NewReader(`{"model":"cached","messages":[{"role":"user","content":"Hi there"}]}`))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s", resp.Status)
		}
		return resp.Header.Get("X-Highway-Cache")
	}
	requests := func(s *Server) int64 { return s.door.Traffic().Models[0].Requests }
	s := newServer(t, config("1m"))
	if c := ask(s); c != "" {
		t.Errorf("the first answer came from the cache (%q)", c)
	}
	s = reload(t, s, config("1m")+"  other: {use: [oa]}\n")
	if c, n := ask(s), requests(s); c != "hit" || n != 2 {
		t.Errorf("after a reload that left it as it was: cache %q, %d requests counted, want a hit and 2", c, n)
	}
	s = reload(t, s, config("2m"))
	if c, n := ask(s), requests(s); c != "" || n != 1 {
		t.Errorf("after a reload that changed it: cache %q, %d requests counted, want a miss and 1", c, n)
	}
}
