package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/citypopy/highway/internal/config"
	"github.com/citypopy/highway/internal/listener"
	"github.com/citypopy/highway/internal/report"
	"github.com/citypopy/highway/internal/upstream"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// city is the seed's districts without jitter, so that timings are exact
// under synctest.
const city = `
sources:
  weather: {kind: mock, latency: 300ms, data: {city: Citypopy, temp: "22°C"}}
  image:   {kind: mock, latency: 800ms, data: {url: "/img/popy.png"}}
  chat:    {kind: mock, latency: 500ms, data: {reply: "Hello from AI City!"}}
  broken:  {kind: mock, latency: 100ms, failure_rate: 1}
  slowchat: {kind: mock, latency: 900ms, timeout: 400ms}
routes:
  - {path: /city-report, sources: [weather, image, chat], timeout: 5s}
  - {path: /half, sources: [weather, slowchat]}
  - {path: /broken, sources: [broken]}
  - {path: /tight, sources: [weather, image], timeout: 500ms}
  - {path: /post, method: POST, sources: [weather]}
`

func newServer(t testing.TB, yaml string) *Server {
	t.Helper()
	return newServerWith(t, yaml, Options{})
}

func newServerWith(t testing.TB, yaml string, o Options) *Server {
	t.Helper()
	return newServerEnv(t, yaml, nil, o)
}

// newServerEnv is newServerWith with the config's ${NAME}s looked up in
// vars alone, not the process's environment.
func newServerEnv(t testing.TB, yaml string, vars map[string]string, o Options) *Server {
	t.Helper()
	cfg, err := config.ParseEnv("test.yaml", []byte(yaml), config.Vars(vars))
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(cfg, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// get serves one request in process and decodes the answer.
func get(t *testing.T, h http.Handler, method, target string) (int, *report.Document, map[string]string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s %s: Content-Type %q", method, target, ct)
	}
	if rec.Code >= 400 && rec.Code != 502 && rec.Code != 504 {
		var e map[string]string
		if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e["error"] == "" {
			t.Fatalf("%s %s: %d with body %q, want a JSON error", method, target, rec.Code, rec.Body)
		}
		e["Allow"] = rec.Header().Get("Allow")
		return rec.Code, nil, e
	}
	d, err := report.Decode(rec.Body.Bytes())
	if err != nil {
		t.Fatalf("%s %s: %v in %s", method, target, err, rec.Body)
	}
	return rec.Code, d, nil
}

func TestCityReportTakesTheSlowestInEveryMode(t *testing.T) {
	t.Parallel()
	cases := []struct {
		query       string
		mode        string
		total, sum  float64
		startOfChat float64
		lanes       int
		path        string
	}{
		{"", "concurrent", 800, 1600, 0, 3, "[image]"},
		{"?mode=concurrent", "concurrent", 800, 1600, 0, 3, "[image]"},
		{"?mode=sequential", "sequential", 1600, 1600, 1100, 1, "[weather image chat]"},
		{"?lanes=1", "sequential", 1600, 1600, 1100, 1, "[weather image chat]"},
		{"?lanes=2", "concurrent", 800, 1600, 300, 2, "[image]"},
		{"?lanes=2&mode=concurrent", "concurrent", 800, 1600, 300, 2, "[image]"},
	}
	s := newServer(t, city)
	for _, c := range cases {
		synctest.Test(t, func(t *testing.T) {
			code, d, _ := get(t, s, "GET", "/city-report"+c.query)
			if code != 200 || d.Mode != c.mode || d.TotalMS != c.total || d.SumMS != c.sum || d.Lanes != c.lanes || !d.Complete || d.Slowest != "image" || fmt.Sprint(d.CriticalPath) != c.path {
				t.Errorf("%s: %d %+v", c.query, code, d)
			}
			if chat := d.Sources.Get("chat"); chat.StartMS != c.startOfChat || chat.LatencyMS != 500 || string(chat.Data) != `{"reply":"Hello from AI City!"}` {
				t.Errorf("%s: chat %+v", c.query, chat)
			}
		})
	}
}

func TestFailuresAreDataWithTheRightStatus(t *testing.T) {
	t.Parallel()
	s := newServer(t, city)
	synctest.Test(t, func(t *testing.T) {
		code, d, _ := get(t, s, "GET", "/half")
		sc := d.Sources.Get("slowchat")
		if code != 200 || d.Complete || d.Failed != 1 || sc.Reason != "timeout" || sc.Error != "timeout after 400ms" || sc.EndMS != 400 {
			t.Errorf("one source timed out: %d %+v %+v", code, d, sc)
		}
		if w := d.Sources.Get("weather"); w.Status != "ok" {
			t.Errorf("weather %+v", w)
		}

		code, d, _ = get(t, s, "GET", "/broken")
		if code != 502 || d.Sources.Get("broken").Error != "mock failure (failure_rate 1)" {
			t.Errorf("all failed: %d %+v", code, d)
		}

		code, d, _ = get(t, s, "GET", "/tight")
		img := d.Sources.Get("image")
		if code != 504 || d.TotalMS != 500 || img.Reason != "deadline" || d.Sources.Get("weather").Status != "ok" {
			t.Errorf("deadline: %d %+v %+v", code, d, img)
		}

		code, d, _ = get(t, s, "GET", "/tight?mode=sequential")
		if code != 504 || d.Sources.Get("image").Reason != "deadline" || d.Sources.Get("image").StartMS != 300 {
			t.Errorf("deadline, single lane: %d %+v", code, d)
		}
	})
}

func TestBadRequestsGetAJSONErrorAndTheRightStatus(t *testing.T) {
	t.Parallel()
	s := newServer(t, city)
	cases := []struct {
		method, target string
		status         int
		want           string
	}{
		{"GET", "/city-report?mode=fast", 400, `unknown mode "fast"`},
		{"GET", "/city-report?lanes=0", 400, `lanes must be a positive integer, got "0"`},
		{"GET", "/city-report?lanes=-2", 400, `lanes must be a positive integer`},
		{"GET", "/city-report?lanes=many", 400, `lanes must be a positive integer`},
		{"GET", "/city-report?mode=sequential&lanes=3", 400, `cannot have lanes=3`},
		{"GET", "/city-report?lanes=1&lanes=2", 400, `given more than once`},
		{"GET", "/city-report?cty=Paris", 400, `unknown query parameter "cty"`},
		{"GET", "/city-report?%zz", 400, `malformed query string`},
		{"GET", "/nowhere", 404, `no route /nowhere; routes: /city-report, /half, /broken, /tight, /post`},
		{"POST", "/city-report", 405, `method POST not allowed on /city-report; use GET`},
		{"DELETE", "/post", 405, `use POST`},
	}
	for _, c := range cases {
		code, _, e := get(t, s, c.method, c.target)
		if code != c.status || !strings.Contains(e["error"], c.want) {
			t.Errorf("%s %s: %d %q, want %d %q", c.method, c.target, code, e["error"], c.status, c.want)
		}
		if c.status == 405 && e["Allow"] == "" {
			t.Errorf("%s %s: 405 without Allow", c.method, c.target)
		}
	}
}

// upstreams is a real local service with the faults a gateway meets.
// neverCalls reports the calls to an upstream that never answers: each
// one on arrived when it reaches the upstream, and on cancelled when
// the caller gives it up.
type neverCalls struct{ arrived, cancelled chan string }

// await waits, with a bound that only a stuck call reaches, for n
// values on ch; what says what the test was waiting for.
func await[T any](t *testing.T, ch chan T, n int, what string) {
	t.Helper()
	for range n {
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			t.Fatalf("waited 10s for %s", what)
		}
	}
}

// drain empties ch and says how many values it held: a call that
// arrived must then be cancelled, one that never left cannot be.
func drain(ch chan string) int {
	for n := 0; ; n++ {
		select {
		case <-ch:
		default:
			return n
		}
	}
}

func upstreams(t *testing.T) (*httptest.Server, neverCalls) {
	never := neverCalls{make(chan string, 16), make(chan string, 16)}
	mux := http.NewServeMux()
	mux.HandleFunc("/weather", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(20 * time.Millisecond)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"temp": "22°C"}`)
	})
	mux.HandleFunc("/fail", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"error":"overloaded"}`, 500)
	})
	mux.HandleFunc("/html", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<html>maintenance</html>")
	})
	mux.HandleFunc("/never", func(w http.ResponseWriter, r *http.Request) {
		never.arrived <- r.URL.Path
		<-r.Context().Done()
		never.cancelled <- r.URL.Path
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		upstream.Pool.CloseIdleConnections()
		srv.Close()
	})
	return srv, never
}

func TestHTTPSourcesThroughARealUpstream(t *testing.T) {
	// Not parallel: its upstream answers in 20ms against a 100ms route
	// deadline, real time that a loaded machine can eat.
	up, never := upstreams(t)
	s := newServer(t, fmt.Sprintf(`
sources:
  weather: {kind: http, url: "%[1]s/weather"}
  fail:    {kind: http, url: "%[1]s/fail"}
  html:    {kind: http, url: "%[1]s/html"}
  never:   {kind: http, url: "%[1]s/never", timeout: 200ms}
routes:
  - {path: /mixed, sources: [weather, fail, html, never]}
  - {path: /fail, sources: [fail, html]}
  - {path: /stuck, sources: [weather, never], timeout: 100ms}
`, up.URL))
	front := httptest.NewServer(s)
	defer front.Close()

	code, d := fetch(t, front.URL+"/mixed")
	if code != 200 || d.Failed != 3 || string(d.Sources.Get("weather").Data) != `{"temp": "22°C"}` {
		t.Errorf("mixed: %d %+v", code, d)
	}
	for name, want := range map[string]string{
		"fail":  `upstream answered 500 Internal Server Error: {"error":"overloaded"}`,
		"html":  `upstream answered non-JSON (Content-Type "text/html")`,
		"never": `timeout after 200ms`,
	} {
		if e := d.Sources.Get(name); !strings.Contains(e.Error, want) {
			t.Errorf("%s: %q, want %q", name, e.Error, want)
		}
	}
	await(t, never.cancelled, drain(never.arrived), "the never-answering upstream's call to be cancelled")

	if code, d = fetch(t, front.URL+"/fail"); code != 502 || d.Failed != 2 {
		t.Errorf("fail: %d %+v", code, d)
	}
	if code, d = fetch(t, front.URL+"/stuck"); code != 504 || d.Sources.Get("never").Reason != "deadline" || d.Sources.Get("weather").Status != "ok" {
		t.Errorf("stuck: %d %+v", code, d)
	}
	await(t, never.cancelled, drain(never.arrived), "the stuck route's call to be cancelled")
}

func fetch(t *testing.T, url string) (int, *report.Document) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	d, err := report.Decode(b)
	if err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return resp.StatusCode, d
}

func TestClientHangingUpCancelsEveryUpstreamCall(t *testing.T) {
	t.Parallel()
	up, never := upstreams(t)
	s := newServer(t, fmt.Sprintf(`
sources:
  a: {kind: http, url: "%[1]s/never", timeout: 1m}
  b: {kind: http, url: "%[1]s/never", timeout: 1m}
routes: [{path: /wait, sources: [a, b], timeout: 1m}]
`, up.URL))
	front := httptest.NewServer(s)
	defer front.Close()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, "GET", front.URL+"/wait", nil)
		_, err := http.DefaultClient.Do(req)
		done <- err
	}()
	// Hang up only once both calls are out, however slow the machine.
	await(t, never.arrived, 2, "both upstream calls to arrive")
	cancel()
	if err := <-done; err == nil {
		t.Fatal("request should have been cut off by the client")
	}
	await(t, never.cancelled, 2, "both upstream calls to be cancelled after the client left")
	http.DefaultClient.CloseIdleConnections()
}

func TestServeDrainsInFlightRequestsOnShutdown(t *testing.T) {
	t.Parallel()
	s := newServer(t, `
sources: {slow: {kind: mock, latency: 300ms, data: 1}}
routes: [{path: /slow, sources: [slow]}]
`)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(t.Context())
	served := make(chan error, 1)
	go func() { served <- listener.Serve(ctx, ln, s, 5*time.Second, config.DefaultServer) }()

	answered := make(chan int, 1)
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String() + "/slow")
		if err != nil {
			answered <- -1
			return
		}
		resp.Body.Close()
		answered <- resp.StatusCode
	}()
	waitUntil(t, "the request in flight", func() bool { return s.admission.InFlight() == 1 })
	stop()
	if code := <-answered; code != 200 {
		t.Errorf("in-flight request got %d during shutdown, want 200", code)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
	if _, err := http.Get("http://" + ln.Addr().String() + "/slow"); err == nil {
		t.Error("still accepting after shutdown")
	}
	http.DefaultClient.CloseIdleConnections()
}
