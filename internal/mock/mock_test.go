package mock

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/citypopy/highway/internal/config"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newMock(t *testing.T) *Server {
	t.Helper()
	cfg, err := config.Parse("m.yaml", []byte(`
sources:
  weather: {kind: mock, latency: 30ms, data: {temp: "22°C"}}
  flaky:   {kind: mock, latency: 10ms, failure_rate: 100%, failure_status: 503, retry_after: 2s}
  stuck:   {kind: mock, fault: hang}
  remote:  {kind: http, url: "http://127.0.0.1:1/x"}
`))
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func call(m *Server, target string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	m.ServeHTTP(rec, httptest.NewRequest("GET", target, nil))
	return rec
}

func TestMockServesEachSourceWithItsFaults(t *testing.T) {
	m := newMock(t)
	cases := []struct {
		target      string
		status      int
		took        time.Duration
		contentType string
		body        string
		retryAfter  string
	}{
		{"/weather", 200, 30 * time.Millisecond, "application/json", `{"temp":"22°C"}`, ""},
		{"/weather?latency=2s", 200, 2 * time.Second, "application/json", `{"temp":"22°C"}`, ""},
		{"/weather?failure_rate=1&failure_status=429&retry_after=3s", 429, 30 * time.Millisecond, "application/json", `mock failure`, "3"},
		{"/weather?tail_rate=100%25&tail_latency=1s", 200, time.Second, "application/json", `22°C`, ""},
		{"/weather?fault=html", 200, 30 * time.Millisecond, "text/html; charset=utf-8", "<html>", ""},
		{"/weather?fault=huge&size=100", 200, 30 * time.Millisecond, "application/json", `"xxxx`, ""},
		{"/flaky", 503, 10 * time.Millisecond, "application/json", `mock failure (failure_rate 1)`, "2"},
		{"/weather?latency=soon", 400, 0, "application/json", `latency=\"soon\": want a duration`, ""},
		{"/weather?city=Paris&days=3", 200, 30 * time.Millisecond, "application/json", `{"temp":"22°C"}`, ""},
		{"/weather/Paris?latency=1s", 200, time.Second, "application/json", `{"temp":"22°C"}`, ""},
		{"/remote", 404, 0, "application/json", `no mock source at /remote; paths: /flaky, /stuck, /weather`, ""},
	}
	for _, c := range cases {
		synctest.Test(t, func(t *testing.T) {
			start := time.Now()
			rec := call(m, c.target)
			if rec.Code != c.status || time.Since(start) != c.took || rec.Header().Get("Content-Type") != c.contentType ||
				!strings.Contains(rec.Body.String(), c.body) || rec.Header().Get("Retry-After") != c.retryAfter {
				t.Errorf("%s: %d after %v, %q %q Retry-After %q", c.target, rec.Code, time.Since(start), rec.Header().Get("Content-Type"), rec.Body.String()[:min(rec.Body.Len(), 80)], rec.Header().Get("Retry-After"))
			}
		})
	}
	if rec := call(m, "/weather?colour=red&days=3"); rec.Header().Get("X-Mock-Ignored-Params") != "colour, days" {
		t.Errorf("an upstream's own parameters are named: %q", rec.Header().Get("X-Mock-Ignored-Params"))
	}
	if rec := call(m, "/weatherman"); rec.Code != 404 {
		t.Errorf("/weatherman: %d", rec.Code)
	}
	if rec := call(m, "/weather?fault=huge&size=100"); rec.Body.Len() != 100 || !json.Valid(rec.Body.Bytes()) {
		t.Errorf("huge body: %d bytes, valid %v", rec.Body.Len(), json.Valid(rec.Body.Bytes()))
	}
}

func TestMockHangsUntilTheClientLeaves(t *testing.T) {
	srv := httptest.NewServer(newMock(t))
	defer srv.Close()
	client := &http.Client{Timeout: 100 * time.Millisecond}
	if _, err := client.Get(srv.URL + "/stuck"); err == nil {
		t.Error("a hanging source answered")
	}
	if _, err := client.Get(srv.URL + "/weather?fault=hang"); err == nil {
		t.Error("fault=hang answered")
	}
	resp, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `"weather":"/weather"`) || !strings.Contains(string(b), `"stuck":1`) {
		t.Errorf("index %s", b)
	}
	client.CloseIdleConnections()
	http.DefaultClient.CloseIdleConnections()
}

func TestNoMockSourcesIsAnError(t *testing.T) {
	cfg, _ := config.Parse("m.yaml", []byte("sources: {remote: {kind: http, url: 'http://127.0.0.1:1/'}}\n"))
	if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), "no mock sources") {
		t.Errorf("err = %v", err)
	}
}

func FuzzFaultQuery(f *testing.F) {
	for _, q := range []string{"latency=2s", "failure_rate=0.5&failure_status=503", "tail_rate=1%25&tail_latency=1s", "fault=huge&size=10", "%zz", "size=-1", "latency=-1s"} {
		f.Add(q)
	}
	e := &endpoint{failureStatus: 500, size: DefaultHugeSize}
	f.Fuzz(func(t *testing.T, q string) {
		c, _, err := e.with(q)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		if c.mock.Latency < 0 || c.mock.FailureRate < 0 || c.mock.FailureRate > 1 || c.size < 2 || c.size > maxHugeSize ||
			c.failureStatus < 400 || c.failureStatus > 599 {
			t.Fatalf("%q accepted out of range: %+v", q, c)
		}
	})
}
