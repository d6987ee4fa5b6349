package server

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// reload builds the server that replaces prev, as serve does on SIGHUP.
func reload(t *testing.T, prev *Server, yaml string) *Server {
	t.Helper()
	return newServerWith(t, yaml, Options{Previous: prev})
}

func TestReloadKeepsTheCacheOfAnUnchangedSource(t *testing.T) {
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
	t.Setenv("BOB_KEY", "bob-0123456789abcdef")
	config := func(burst int) string {
		return fmt.Sprintf(`
clients: {keys: [{name: bob, key: "${BOB_KEY}", rate: 0.001, burst: %d}]}
sources: {weather: {kind: mock, latency: 1ms, data: 1}}
routes: [{path: /r, sources: [weather]}]
`, burst)
	}
	s := newServer(t, config(1))
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
			s = reload(t, s, st.config)
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
