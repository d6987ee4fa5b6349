package server

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/citypopy/highway/internal/metrics"
)

func scrape(t *testing.T, base string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

// sample is a value a family must have for the labels given.
type sample struct {
	fam    string
	labels map[string]string
	want   float64
}

// expectSamples checks each sample against what was scraped.
func expectSamples(t *testing.T, fams map[string]*dto.MetricFamily, samples []sample) {
	t.Helper()
	for _, c := range samples {
		if got, ok := value(fams, c.fam, c.labels); !ok || got != c.want {
			t.Errorf("%s%v = %v (found %v), want %v", c.fam, c.labels, got, ok, c.want)
		}
	}
}

// value finds the sample of fam whose labels include want.
func value(fams map[string]*dto.MetricFamily, fam string, want map[string]string) (float64, bool) {
	f := fams[fam]
	if f == nil {
		return 0, false
	}
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		match := true
		for k, v := range want {
			match = match && have[k] == v
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

func TestMetricsAfterKnownTraffic(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	s := newServerWith(t, `
admission: {max_inflight: 100, queue: 0, queue_timeout: 0s}
sources:
  weather: {kind: mock, latency: 5ms, data: 1}
  broken:  {kind: mock, latency: 5ms, failure_rate: 1, breaker: {failures: 2, cooldown: 1h}}
  slow:    {kind: mock, latency: 1s, timeout: 20ms}
  cached:  {kind: mock, latency: 5ms, data: 2, cache: {ttl: 1h}}
routes:
  - {path: /r, sources: [weather, broken, slow, cached], optional: [broken]}
`, Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	front := httptest.NewServer(s)
	defer front.Close()
	defer http.DefaultClient.CloseIdleConnections()
	for range 3 {
		resp, err := http.Get(front.URL + "/r")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.Header.Get("X-Request-Id") == "" {
			t.Error("no X-Request-Id")
		}
	}
	req, _ := http.NewRequest("GET", front.URL+"/r?mode=fast", nil)
	req.Header.Set("X-Request-Id", "abc-123")
	resp, _ := http.DefaultClient.Do(req)
	resp.Body.Close()
	if resp.Header.Get("X-Request-Id") != "abc-123" {
		t.Errorf("request id %q", resp.Header.Get("X-Request-Id"))
	}
	if resp, err := http.Get(front.URL + "/nowhere?secret=leak"); err == nil {
		resp.Body.Close()
	}

	fams := scrape(t, front.URL)
	expectSamples(t, fams, []sample{
		{"highway_requests_total", map[string]string{"route": "/r", "code": "200"}, 3},
		{"highway_requests_total", map[string]string{"route": "/r", "code": "400"}, 1},
		{"highway_requests_total", map[string]string{"route": "(unmatched)", "code": "404"}, 1},
		{"highway_request_duration_seconds", map[string]string{"route": "/r"}, 4},
		{"highway_source_call_duration_seconds", map[string]string{"source": "weather", "outcome": "ok"}, 3},
		{"highway_source_call_duration_seconds", map[string]string{"source": "broken", "outcome": "failed"}, 2},
		{"highway_source_call_duration_seconds", map[string]string{"source": "broken", "outcome": "breaker_open"}, 1},
		{"highway_source_call_duration_seconds", map[string]string{"source": "slow", "outcome": "timeout"}, 3},
		{"highway_source_cache_hits_total", map[string]string{"source": "cached"}, 2},
		{"highway_breaker_state", map[string]string{"source": "broken"}, 2},
		{"highway_requests_in_flight", nil, 0},
		{"highway_requests_shed_total", nil, 0},
	})
	body := logs.String()
	if strings.Count(body, `"msg":"request"`) != 5 || !strings.Contains(body, `"id":"abc-123"`) || !strings.Contains(body, `"slow":"timeout 2`) ||
		strings.Contains(body, "secret=leak") {
		t.Errorf("logs:\n%s", body)
	}
}

func TestMetricsGoOnAcrossAReload(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	old := newServerWith(t, `
sources:
  weather: {kind: mock, latency: 1ms, data: 1}
  broken:  {kind: mock, latency: 1ms, failure_rate: 1, breaker: {failures: 1, cooldown: 1h}}
routes: [{path: /r, sources: [weather, broken], optional: [broken]}]
`, Options{Metrics: m})
	for range 2 {
		get(t, old, "GET", "/r")
	}
	// The reload: a new config, a new server, the same Metrics. Building
	// it must not panic on instruments already registered.
	reloaded := newServerWith(t, `
sources:
  weather: {kind: mock, latency: 1ms, data: 1}
  other:   {kind: mock, latency: 1ms, data: 2, breaker: {failures: 5}}
routes: [{path: /r, sources: [weather, other]}]
`, Options{Metrics: m})
	get(t, reloaded, "GET", "/r")
	front := httptest.NewServer(reloaded)
	defer front.Close()
	defer http.DefaultClient.CloseIdleConnections()
	fams := scrape(t, front.URL)
	expectSamples(t, fams, []sample{
		{"highway_requests_total", map[string]string{"route": "/r", "code": "200"}, 3},
		{"highway_source_call_duration_seconds", map[string]string{"source": "weather", "outcome": "ok"}, 3},
		{"highway_breaker_state", map[string]string{"source": "other"}, 0},
	})
	if _, ok := value(fams, "highway_breaker_state", map[string]string{"source": "broken"}); ok {
		t.Error("the replaced server's breaker is still reported")
	}
}

func TestHealthAndReadiness(t *testing.T) {
	t.Parallel()
	s := newServer(t, city)
	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200} {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != want {
			t.Errorf("%s: %d", path, rec.Code)
		}
	}
	s.Drain()
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	if rec.Code != 503 || !strings.Contains(rec.Body.String(), "shutting down") {
		t.Errorf("draining: %d %s", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	if rec.Code != 200 {
		t.Errorf("healthz while draining: %d", rec.Code)
	}
}

func TestAdminOptionMovesMetricsAndReadinessOffTheRoutes(t *testing.T) {
	t.Parallel()
	s := newServerWith(t, `
sources:
  weather: {kind: mock, latency: 1ms, data: 1}
routes:
  - {path: /r, sources: [weather]}
`, Options{Admin: true})
	cases := []struct {
		admin bool
		path  string
		want  int
	}{
		{false, "/metrics", 404},
		{false, "/readyz", 404},
		{false, "/debug/pprof/", 404},
		{false, "/healthz", 200},
		{false, "/r", 200},
		{true, "/metrics", 200},
		{true, "/readyz", 200},
		{true, "/healthz", 200},
		{true, "/debug/pprof/", 200},
		{true, "/debug/pprof/cmdline", 200},
		{true, "/r", 404},
	}
	for _, c := range cases {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", c.path, nil)
		if c.admin {
			s.ServeAdmin(rec, req)
		} else {
			s.ServeHTTP(rec, req)
		}
		if rec.Code != c.want {
			t.Errorf("admin=%v %s: %d, want %d", c.admin, c.path, rec.Code, c.want)
		}
		if rec.Code == 404 && !strings.Contains(rec.Body.String(), `"error"`) {
			t.Errorf("admin=%v %s: 404 body %q, want a JSON error", c.admin, c.path, rec.Body)
		}
	}
	s.Drain()
	rec := httptest.NewRecorder()
	s.ServeAdmin(rec, httptest.NewRequest("GET", "/readyz", nil))
	if rec.Code != 503 {
		t.Errorf("admin /readyz while draining: %d, want 503", rec.Code)
	}
}

// A client that leaves: the source it left running is canceled and the
// one a single lane never started is not_started, in the report, the log
// and the metrics alike, spelt the same; never timeout.
func TestOutcomesOfADepartedClientAreSpeltAlike(t *testing.T) {
	t.Parallel()
	logs := &lockedBuffer{}
	up, g := gate(t)
	s := newServerWith(t, fmt.Sprintf(`
sources:
  first:  {kind: http, url: "%s/slow", timeout: 1m}
  second: {kind: mock, latency: 10ms}
routes: [{path: /r, sources: [first, second], lanes: 1, timeout: 1m}]
`, up.URL), Options{Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	front := httptest.NewServer(s)
	defer front.Close()
	ctx, cancel := context.WithCancel(t.Context())
	req, _ := http.NewRequestWithContext(ctx, "GET", front.URL+"/r?stream=1", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	await(t, g.arrived, 1, "the first source's call")
	cancel()
	resp.Body.Close()
	await(t, g.gone, 1, "the first call to be cancelled")
	http.DefaultClient.CloseIdleConnections()
	waitUntil(t, "the request's log line", func() bool { return strings.Contains(logs.String(), `"msg":"request"`) })
	fams := scrape(t, front.URL)
	expectSamples(t, fams, []sample{
		{"highway_source_call_duration_seconds", map[string]string{"source": "first", "outcome": "canceled"}, 1},
		{"highway_source_call_duration_seconds", map[string]string{"source": "second", "outcome": "not_started"}, 1},
	})
	if l := logs.String(); !strings.Contains(l, `"first":"canceled`) || !strings.Contains(l, `"second":"not_started`) || strings.Contains(l, "timeout") {
		t.Errorf("log: %s", l)
	}
}

// lockedBuffer is a log a test reads while the server writes it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
