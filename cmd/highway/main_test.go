package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/citypopy/highway/internal/surge"
)

// These tests build the real binary and drive it as a user would: from a
// shell, with curl, and with Ctrl-C.

// build returns the binary the tests run: built once for the package,
// with -race, so that the end-to-end tests check the server's own
// concurrency as well as the harness's.
func build(t *testing.T) string {
	t.Helper()
	binary.once.Do(func() {
		dir, err := os.MkdirTemp("", "highway-e2e-")
		if err != nil {
			binary.err = err
			return
		}
		binary.dir = dir
		binary.path = filepath.Join(dir, "highway")
		out, err := exec.Command("go", "build", "-race", "-o", binary.path, ".").CombinedOutput()
		if err != nil {
			binary.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binary.err != nil {
		t.Fatal(binary.err)
	}
	return binary.path
}

// binary is the one build of the package's tests.
var binary struct {
	once      sync.Once
	dir, path string
	err       error
}

// start runs highway serve on a free loopback port and returns its base URL
// and the lines it writes to stderr.
func start(t *testing.T, bin string, args ...string) (*exec.Cmd, string, <-chan string) {
	return startCommand(t, bin, "serve", args...)
}

// watch ends cmd with the test and hands its stderr over line by line.
func watch(t *testing.T, cmd *exec.Cmd, stderr io.Reader) <-chan string {
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	return lines
}

// startCommand runs a serving subcommand (serve, mock) on a free port.
func startCommand(t *testing.T, bin, sub string, args ...string) (*exec.Cmd, string, <-chan string) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{sub, "-addr", "127.0.0.1:0"}, args...)...)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := watch(t, cmd, stderr)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("highway %s exited before serving", sub)
			}
			var rec struct{ Msg string } // a line of -log json
			if json.Unmarshal([]byte(l), &rec) == nil {
				l = rec.Msg
			}
			if _, url, found := strings.Cut(l, " on http://"); found {
				return cmd, "http://" + url, lines
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("highway %s did not say where it serves", sub)
		}
	}
}

func curl(t *testing.T, args ...string) (int, map[string]any) {
	t.Helper()
	out, err := exec.Command("curl", append([]string{"-s", "-w", "\n%{http_code}"}, args...)...).Output()
	// Errorf, not Fatalf: curl is called from tests' goroutines too, where
	// Fatalf would not stop the test and could hang the package.
	if err != nil {
		t.Errorf("curl %v: %v", args, err)
		return 0, nil
	}
	body, code, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Errorf("curl %v: not JSON: %s", args, body)
		return 0, nil
	}
	var status int
	json.Unmarshal([]byte(code), &status)
	return status, m
}

func TestServeTheEmbeddedDefaultWithCurl(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("curl is needed (make test installs it)")
	}
	_, base, _ := start(t, build(t))
	for range 3 {
		code, m := curl(t, base+"/city-report")
		total, sum := m["total_ms"].(float64), m["sum_ms"].(float64)
		if code != 200 || m["slowest"] != "image" || m["mode"] != "concurrent" || total >= sum {
			t.Errorf("concurrent: %d %v", code, m)
		}
		if len(m["sources"].(map[string]any)) != 3 {
			t.Errorf("sources %v", m["sources"])
		}
	}
	code, m := curl(t, base+"/city-report?mode=sequential")
	if code != 200 || m["mode"] != "sequential" || m["total_ms"].(float64) < m["sum_ms"].(float64) {
		t.Errorf("sequential: %d %v", code, m)
	}
	for target, want := range map[string]int{"/city-report?mode=fast": 400, "/city-report?lanes=0": 400, "/elsewhere": 404} {
		if code, m := curl(t, base+target); code != want || m["error"] == nil {
			t.Errorf("%s: %d %v", target, code, m)
		}
	}
	if code, m := curl(t, "-X", "POST", base+"/city-report"); code != 405 || m["error"] == nil {
		t.Errorf("POST: %d %v", code, m)
	}
	// The dependent lanes: the brief waits for weather and search, and its
	// prompt is built from their answers (the fake LLM says it back).
	code, m = curl(t, base+"/city-brief?city=Paris")
	src := m["sources"].(map[string]any)
	lane := func(name, field string) float64 { return src[name].(map[string]any)[field].(float64) }
	brief := src["brief"].(map[string]any)
	reply, _ := brief["data"].(map[string]any)["reply"].(string)
	if code != 200 || lane("brief", "start_ms") < lane("weather", "end_ms") || lane("brief", "start_ms") < lane("search", "end_ms") ||
		lane("image", "start_ms") >= lane("weather", "end_ms") || !strings.Contains(reply, "Summarize for Paris: weather 22°C, top hits 3") {
		t.Errorf("/city-brief: %d %v", code, m)
	}
	if path := fmt.Sprint(m["critical_path"]); path != "[weather brief]" {
		t.Errorf("/city-brief critical path %s", path)
	}
}

// waitInFlight waits until the server at base reports n requests in
// flight in its metrics: a fixed sleep would race a slow machine.
func waitInFlight(t *testing.T, base string, n int) {
	t.Helper()
	want := fmt.Sprintf("highway_requests_in_flight %d\n", n)
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get(base + "/metrics")
		if err != nil {
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(b), want) {
			return
		}
	}
	t.Fatalf("the server never had %d requests in flight", n)
}

// Through the whole drain after SIGTERM, until the requests in flight
// have finished, the listener answers: /readyz says 503 to a new
// connection (a balancer's probe), and a new route request is refused
// with 503 and Retry-After, not by a closed port.
func TestReadyzAnswersThroughTheDrain(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "highway.yaml")
	os.WriteFile(cfg, []byte("sources: {slow: {kind: mock, latency: 3s, data: 1}}\nroutes: [{path: /slow, sources: [slow]}]\n"), 0o600)
	cmd, base, _ := start(t, build(t), "-config", cfg, "-drain-delay", "100ms", "-log", "off")
	got := make(chan int, 1)
	go func() {
		code, _ := curl(t, base+"/slow")
		got <- code
	}()
	waitInFlight(t, base, 1)
	cmd.Process.Signal(syscall.SIGTERM)
	time.Sleep(500 * time.Millisecond) // past the drain delay: draining now
	if code, m := curl(t, "-H", "Connection: close", base+"/readyz"); code != 503 || m["reason"] != "shutting down" {
		t.Errorf("/readyz during the drain: %d %v", code, m)
	}
	out, err := exec.Command("curl", "-s", "-i", base+"/slow").Output()
	if err != nil || !strings.Contains(string(out), "503 Service Unavailable") || !strings.Contains(string(out), "Retry-After: 1") ||
		!strings.Contains(string(out), "shutting down") {
		t.Errorf("a new request during the drain: %v\n%s", err, out)
	}
	if code := <-got; code != 200 {
		t.Errorf("the request in flight: %d", code)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("highway serve exited with %v", err)
	}
}

func TestCtrlCLetsTheRequestInFlightFinish(t *testing.T) {
	cmd, base, lines := start(t, build(t))
	type answer struct {
		code int
		m    map[string]any
	}
	got := make(chan answer, 1)
	go func() {
		code, m := curl(t, base+"/city-report?mode=sequential")
		got <- answer{code, m}
	}()
	waitInFlight(t, base, 1) // the request is now on the single lane
	cmd.Process.Signal(syscall.SIGINT)
	a := <-got
	if a.code != 200 || a.m["complete"] != true {
		t.Errorf("in-flight request during Ctrl-C: %d %v", a.code, a.m)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("highway serve exited with %v after Ctrl-C", err)
	}
	var said []string
	for l := range lines {
		said = append(said, l)
	}
	if !strings.Contains(strings.Join(said, "\n"), "shutting down") {
		t.Errorf("stderr after Ctrl-C: %q", said)
	}
}

func TestMain(m *testing.M) {
	// curl must talk to the local server, not to a proxy the machine has.
	for _, v := range []string{"http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"} {
		os.Unsetenv(v)
	}
	code := m.Run()
	if binary.dir != "" {
		os.RemoveAll(binary.dir)
	}
	os.Exit(code)
}

func TestServeAgainstHighwayMockUpstreams(t *testing.T) {
	bin := build(t)
	_, up, _ := startCommand(t, bin, "mock")
	cfg := filepath.Join(t.TempDir(), "highway.yaml")
	os.WriteFile(cfg, []byte(`
sources:
  weather: {kind: http, url: "`+up+`/weather?latency=50ms"}
  broken:  {kind: http, url: "`+up+`/chat?failure_rate=1&failure_status=500", retry: {attempts: 1}}
  html:    {kind: http, url: "`+up+`/image?fault=html"}
  stuck:   {kind: http, url: "`+up+`/search?fault=hang", timeout: 300ms}
routes:
  - {path: /city-report, sources: [weather, broken, html, stuck]}
  - {path: /down, sources: [broken, html]}
`), 0o600)
	_, base, _ := start(t, bin, "-config", cfg)
	code, m := curl(t, base+"/city-report")
	src := m["sources"].(map[string]any)
	reason := func(name string) any { return src[name].(map[string]any)["reason"] }
	if code != 200 || m["failed"] != 3.0 || src["weather"].(map[string]any)["status"] != "ok" ||
		reason("broken") != "failed" || reason("html") != "failed" || reason("stuck") != "timeout" {
		t.Errorf("%d %v", code, m)
	}
	if code, _ := curl(t, base+"/down"); code != 502 {
		t.Errorf("all failed: %d", code)
	}
}

func TestStreamWithCurlN(t *testing.T) {
	_, base, _ := start(t, build(t))
	out, err := exec.Command("curl", "-sN", "-H", "Accept: text/event-stream", base+"/city-report").Output()
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	if strings.Count(s, "event: source\n") != 3 || strings.Count(s, "event: report\n") != 1 ||
		strings.Index(s, `"name":"weather"`) > strings.Index(s, `"name":"image"`) {
		t.Errorf("curl -N got:\n%s", s)
	}
}

func TestReloadOnSIGHUPAndWatch(t *testing.T) {
	bin := build(t)
	cfg := filepath.Join(t.TempDir(), "highway.yaml")
	write := func(body string) {
		if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	const a = "sources: {slow: {kind: mock, latency: 400ms, data: 1}}\nroutes:\n  - {path: /a, sources: [slow]}\n"
	write(a)
	cmd, base, lines := start(t, bin, "-config", cfg, "-watch", "-log", "off")
	waitFor := func(what string) string {
		t.Helper()
		deadline := time.After(15 * time.Second)
		for {
			select {
			case l := <-lines:
				if strings.Contains(l, what) {
					return l
				}
			case <-deadline:
				t.Fatalf("highway never said %q", what)
			}
		}
	}
	inFlight := make(chan int, 1)
	go func() { code, _ := curl(t, base+"/a"); inFlight <- code }()
	waitInFlight(t, base, 1)

	write(a + "  - {path: /b, sources: [slow]}\n")
	cmd.Process.Signal(syscall.SIGHUP)
	waitFor("reloaded the config (SIGHUP)")
	if code := <-inFlight; code != 200 {
		t.Errorf("a request in flight across the reload got %d", code)
	}
	if code, _ := curl(t, base+"/b"); code != 200 {
		t.Errorf("/b after the reload: %d", code)
	}

	write("sources: {slow: {kind: mock, latency: soon}}\nroutes: [{path: /c, sources: [slow]}]\n")
	cmd.Process.Signal(syscall.SIGHUP)
	waitFor("reload (SIGHUP) refused, still serving the old config")
	waitFor(`sources.slow.latency: invalid duration "soon"`)
	if code, _ := curl(t, base+"/b"); code != 200 {
		t.Errorf("the old config stopped serving after a bad reload: %d", code)
	}

	time.Sleep(1100 * time.Millisecond) // a different modification time for -watch to see
	write("sources: {slow: {kind: mock, latency: 1ms, data: 1}}\nroutes: [{path: /d, sources: [slow]}]\n")
	waitFor("reloaded the config (the file changed)")
	if code, _ := curl(t, base+"/d"); code != 200 {
		t.Errorf("/d after -watch saw the change: %d", code)
	}
}

func TestSIGTERMDuringASurgeDropsNoAdmittedRequest(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "highway.yaml")
	os.WriteFile(cfg, []byte("sources: {a: {kind: mock, latency: 50ms, data: 1}, b: {kind: mock, latency: 80ms, data: 2}}\nroutes: [{path: /r, sources: [a, b]}]\n"), 0o600)
	cmd, base, lines := start(t, build(t), "-config", cfg, "-log", "json")
	var logged []string
	drained := make(chan struct{})
	go func() {
		for l := range lines {
			logged = append(logged, l)
		}
		close(drained)
	}()
	time.AfterFunc(time.Second, func() { cmd.Process.Signal(syscall.SIGTERM) })
	s, err := surge.Run(t.Context(), surge.Options{URL: base + "/r", Users: 50, Duration: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("highway exited with %v", err)
	}
	<-drained
	served, refused := 0, 0
	for _, l := range logged {
		if strings.Contains(l, `"msg":"request"`) {
			switch {
			case strings.Contains(l, `"status":200`):
				served++
			case strings.Contains(l, `"status":503`): // a new request while the admitted ones finish
				refused++
			default:
				t.Errorf("the server answered other than 200, or 503 while draining: %s", l)
			}
		}
	}
	if served == 0 || s.Statuses[200] != served || s.Statuses[503] != refused || len(s.Statuses) > 2 {
		t.Errorf("the server answered %d requests and refused %d; the clients got %v (errors after the listener closed: %v)", served, refused, s.Statuses, s.Errors)
	}
}

func TestServeExportsTracesToTheOTLPEndpoint(t *testing.T) {
	var mu sync.Mutex
	names := map[string]bool{}
	var service string
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req coltracepb.ExportTraceServiceRequest
		if r.URL.Path != "/v1/traces" || proto.Unmarshal(body, &req) != nil {
			http.Error(w, "not an OTLP trace export", http.StatusBadRequest)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		for _, rs := range req.ResourceSpans {
			for _, kv := range rs.Resource.GetAttributes() {
				if kv.Key == "service.name" {
					service = kv.Value.GetStringValue()
				}
			}
			for _, ss := range rs.ScopeSpans {
				for _, sp := range ss.Spans {
					names[sp.Name] = true
				}
			}
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer collector.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.URL)
	cmd, base, _ := start(t, build(t), "-log", "off")
	if code, m := curl(t, base+"/city-report"); code != 200 {
		t.Fatalf("/city-report: %d %v", code, m)
	}
	cmd.Process.Signal(syscall.SIGTERM) // the exit flushes the spans
	if err := cmd.Wait(); err != nil {
		t.Fatalf("highway serve exited with %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, want := range []string{"GET /city-report", "source weather", "attempt weather", "source image", "source chat", "attempt chat"} {
		if !names[want] {
			t.Errorf("no span %q exported; got %v", want, names)
		}
	}
	if service != "highway" {
		t.Errorf("service.name %q, want highway", service)
	}
}

func TestAdminAddrKeepsMetricsOffTheMainListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	admin := ln.Addr().String()
	ln.Close() // free again for highway to take
	_, base, _ := start(t, build(t), "-admin-addr", admin, "-log", "off")
	if code, _ := curl(t, base+"/city-report"); code != 200 {
		t.Fatalf("/city-report: %d", code)
	}
	if code, m := curl(t, base+"/metrics"); code != 404 || m["error"] == nil {
		t.Errorf("main /metrics: %d %v, want a JSON 404", code, m)
	}
	out, err := exec.Command("curl", "-sf", "http://"+admin+"/metrics").Output()
	if err != nil || !strings.Contains(string(out), `highway_requests_total{code="200",route="/city-report"} 1`) {
		t.Errorf("admin /metrics: %v\n%s", err, out)
	}
	if code, m := curl(t, "http://"+admin+"/readyz"); code != 200 || m["ready"] != true {
		t.Errorf("admin /readyz: %d %v", code, m)
	}
}

// SIGHUPs from the first milliseconds of the process on never end it. Go
// can act on a signal only from its runtime's start, so the child starts
// with SIGHUP ignored, as nohup or a supervisor starts a daemon; from the
// first instruction of main Highway holds the signal itself, and one that
// arrives while serve is starting reloads once it serves.
func TestHostileSIGHUPWhileStarting(t *testing.T) {
	bin := build(t)
	// The shell ignores SIGHUP and execs the binary in its place (same
	// process): the ignore is inherited until Highway's main takes over,
	// and the test process's own signal handling is never touched.
	cmd := exec.Command("/bin/sh", "-c", `trap "" HUP; echo "SIGHUP ignored" >&2; exec "$0" serve -addr 127.0.0.1:0 -log off`, bin)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := watch(t, cmd, stderr)
	if l := <-lines; l != "SIGHUP ignored" { // from here on, until main holds it
		t.Fatalf("the shell said %q", l)
	}
	var base string
	reloaded := false
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	deadline := time.After(30 * time.Second)
	for base == "" || !reloaded {
		select {
		case <-tick.C:
			if base == "" { // hang up on it all through its start
				if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
					t.Fatalf("the process ended under SIGHUPs while starting: %v", err)
				}
			}
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("highway serve ended under SIGHUPs while starting: %v", cmd.Wait())
			}
			if _, url, found := strings.Cut(l, " on http://"); found {
				base = "http://" + url
			}
			reloaded = reloaded || strings.Contains(l, "reloaded the config (SIGHUP)")
		case <-deadline:
			t.Fatal("highway serve never served and reloaded")
		}
	}
	if code, _ := curl(t, base+"/city-report"); code != 200 {
		t.Errorf("after SIGHUPs while starting: %d", code)
	}
}

// highway check names every problem without showing a secret, whether it
// came from the environment or sits in a URL.
func TestHostileCheckShowsNoSecret(t *testing.T) {
	bin := build(t)
	cfg := filepath.Join(t.TempDir(), "highway.yaml")
	os.WriteFile(cfg, []byte(`
sources:
  chat: {kind: openai, base_url: "http://me:pa55word@127.0.0.1:1/v1?key=${CHECK_SECRET}", model: m, user: hi, max_tokens: "${CHECK_SECRET}"}
  up:   {kind: http, url: "ftp://127.0.0.1/x?token=topsecret"}
routes: [{path: /r, sources: [chat, up]}]
`), 0o600)
	cmd := exec.Command(bin, "check", "-config", cfg)
	cmd.Env = append(os.Environ(), "CHECK_SECRET=sk-check-0123456789")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("check accepted it: %s", out)
	}
	for _, secret := range []string{"sk-check-0123456789", "pa55word", "topsecret"} {
		if strings.Contains(string(out), secret) {
			t.Errorf("check shows %q:\n%s", secret, out)
		}
	}
	if !strings.Contains(string(out), "sources.chat.max_tokens") {
		t.Errorf("check lost the problem:\n%s", out)
	}
}

// Clients sending a POST's body one byte at a time hold no admission
// place: the body is read, within server.body_timeout, before a place is
// taken, so a GET route is served at once beside them and the slow ones
// get a 408.
func TestHostileSlowBodiesHoldNoPlace(t *testing.T) {
	bin := build(t)
	cfg := filepath.Join(t.TempDir(), "highway.yaml")
	os.WriteFile(cfg, []byte(`
admission: {max_inflight: 4, queue: 0, queue_timeout: 0s}
server: {body_timeout: 1500ms}
sources: {m: {kind: mock, latency: 5ms, data: 1}}
routes:
  - {path: /get, sources: [m]}
  - {path: /post, method: POST, sources: [m]}
`), 0o600)
	_, base, _ := start(t, bin, "-config", cfg, "-log", "off")
	host := strings.TrimPrefix(base, "http://")
	answers := make(chan string, 8)
	for range 8 { // twice as many as there are places
		conn, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "POST /post HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{", host)
		go func() {
			for range 3 { // a byte a second, far slower than the body timeout allows
				time.Sleep(time.Second)
				if _, err := conn.Write([]byte(" ")); err != nil {
					break
				}
			}
			b := make([]byte, 512)
			n, _ := conn.Read(b)
			answers <- string(b[:n])
		}()
	}
	time.Sleep(300 * time.Millisecond) // every slow body is in
	for i := range 3 {
		if code, _ := curl(t, base+"/get"); code != 200 {
			t.Errorf("GET %d beside the slow bodies: %d", i, code)
		}
	}
	for range 8 {
		select {
		case a := <-answers:
			if !strings.HasPrefix(a, "HTTP/1.1 408") || !strings.Contains(a, "body_timeout") {
				t.Errorf("a slow body got %q", a)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a slow body was never answered")
		}
	}
}

// Clients that pipeline requests and never read the answers cannot hold
// the admission places: every answer has a write deadline, so each such
// connection is cut within server.write_timeout of a write it does not
// take, its place freed, and honest clients are served.
func TestHostileClientsThatNeverRead(t *testing.T) {
	bin := build(t)
	cfg := filepath.Join(t.TempDir(), "highway.yaml")
	os.WriteFile(cfg, []byte(`
admission: {max_inflight: 4, queue: 0, queue_timeout: 0s}
server: {write_timeout: 500ms}
sources:
  big:   {kind: mock, latency: 1ms, data: "`+strings.Repeat("x", 32<<10)+`"}
  small: {kind: mock, latency: 1ms, data: 1}
  tiny:  {kind: mock, data: "`+strings.Repeat("x", 1<<10)+`"}
routes:
  - {path: /big, sources: [big]}
  - {path: /small, sources: [small]}
  - {path: /tiny, sources: [tiny]}
`), 0o600)
	_, base, _ := start(t, bin, "-config", cfg, "-log", "off")
	host := strings.TrimPrefix(base, "http://")
	pipelined := strings.Repeat("GET /big HTTP/1.1\r\nHost: "+host+"\r\n\r\n", 400) // 12.8 MB of answers
	small := strings.Repeat("GET /tiny HTTP/1.1\r\nHost: "+host+"\r\n\r\n", 60_000) // small answers, at once, many
	// A small receive buffer set before connecting, so the kernel does not
	// grow it to hold every answer.
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	for range 20 {
		conn, err := d.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		go io.WriteString(conn, pipelined) // and never read
	}
	// One more that asks only for small answers: they never hold a place,
	// but their writes too have a deadline, so the server cuts it. Each is
	// a kilobyte, so that the socket's buffers (a send buffer grows to
	// megabytes on loopback) fill within a few thousand answers even from
	// a race build on a busy machine.
	smallConn, err := d.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	defer smallConn.Close()
	go io.WriteString(smallConn, small)
	// The writes block, and their deadlines pass: the places come back.
	// Without the deadlines they never would; the wait is bounded by 15s,
	// room for a busy machine, not a timing assertion.
	var inflight string
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		out, _ := exec.Command("curl", "-s", base+"/metrics").Output()
		inflight = ""
		for _, l := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(l, "highway_requests_in_flight ") {
				inflight = l
			}
		}
		if inflight == "highway_requests_in_flight 0" {
			break
		}
	}
	if inflight != "highway_requests_in_flight 0" {
		t.Errorf("never-reading clients still hold places after their write timeout: %s", inflight)
	}
	for i := range 5 {
		if code, _ := curl(t, "--max-time", "5", base+"/small"); code != 200 {
			t.Errorf("honest request %d beside never-reading clients: %d", i, code)
		}
	}
	// The server cuts the connection once one of its writes has waited
	// write_timeout; the client's own patience only bounds the test.
	smallConn.SetWriteDeadline(time.Now().Add(15 * time.Second))
	var werr error
	for werr == nil {
		_, werr = io.WriteString(smallConn, "GET /tiny HTTP/1.1\r\nHost: "+host+"\r\n\r\n")
		time.Sleep(10 * time.Millisecond)
	}
	if ne, ok := werr.(net.Error); ok && ne.Timeout() {
		t.Errorf("a client that never reads small answers is still connected: the server never cut it")
	}
}

// Keys on, against the real binary: what names the server's insides
// needs a key; dot segments and untyped values that would reshape a body
// are 400s naming the parameter; a flood of distinct answers leaves the
// cache, and the process, within bounds.
func TestHostileRequestsAgainstTheBinary(t *testing.T) {
	bin := build(t)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"q": %q, "text": %q}`, r.URL.Query().Get("q"), strings.Repeat("x", 32<<10))
	}))
	defer up.Close()
	cfg := filepath.Join(t.TempDir(), "highway.yaml")
	os.WriteFile(cfg, []byte(`
clients: {keys: [{name: ops, key: "${HOSTILE_KEY}"}]}
cache_max_bytes: 1MiB
sources:
  path:  {kind: http, url: "http://127.0.0.1:1/api/{{.params.id}}/profile"}
  body:  {kind: http, url: "http://127.0.0.1:1/n", body: '{"n": {{.params.n}}}'}
  big:   {kind: http, url: "`+up.URL+`/big?q={{.params.q}}", cache: {ttl: 1h}}
routes:
  - {path: /path, params: {id: {pattern: ".*"}}, sources: [path]}
  - {path: /body, params: {n: {type: int}}, sources: [body]}
  - {path: /big, params: {q: {}}, sources: [big]}
`), 0o600)
	const key = "hostile-0123456789abcdef"
	cmd := exec.Command(bin, "serve", "-addr", "127.0.0.1:0", "-config", cfg, "-log", "off")
	cmd.Env = append(os.Environ(), "HOSTILE_KEY="+key)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := watch(t, cmd, stderr)
	var base string
	for base == "" {
		l, ok := <-lines
		if !ok {
			t.Fatal("highway serve ended")
		}
		if _, url, found := strings.Cut(l, " on http://"); found {
			base = "http://" + url
		}
	}
	auth := "Authorization: Bearer " + key
	for _, p := range []string{"/metrics", "/readyz"} {
		if code, _ := curl(t, base+p); code != 401 {
			t.Errorf("%s without a key: %d", p, code)
		}
	}
	if code, body := curl(t, base+"/nowhere"); code != 404 || fmt.Sprint(body) != "map[error:no route /nowhere]" {
		t.Errorf("404 without a key: %d %v", code, body)
	}
	for _, c := range []struct{ path, param string }{
		{"/path?id=..", "parameter id"}, {"/path?id=.", "parameter id"},
		{"/body?n=%5B1,2%5D", "parameter n"}, {"/body?n=%2B5", "parameter n"},
	} {
		if code, body := curl(t, "-H", auth, base+c.path); code != 400 || !strings.Contains(fmt.Sprint(body["error"]), c.param) {
			t.Errorf("%s: %d %v", c.path, code, body)
		}
	}
	rss := func() int {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
				n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
				return n << 10
			}
		}
		return 0
	}
	before := rss()
	client := &http.Client{}
	for i := range 2000 { // 64 MB of distinct answers
		req, _ := http.NewRequest("GET", base+"/big?q="+strconv.Itoa(i), nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	client.CloseIdleConnections()
	grew := rss() - before
	t.Logf("the process grew by %d MB under the flood", grew>>20)
	if grew > 40<<20 {
		t.Errorf("a flood of 64 MB of distinct answers grew the process by %d MB; its caches may hold 1 MiB", grew>>20)
	}
}

// A SIGHUP with every admission place taken lets no one more in: the
// requests in flight on the old config count against the new one, and
// the in-flight gauge says so.
func TestHostileReloadUnderFullAdmission(t *testing.T) {
	bin := build(t)
	cfg := filepath.Join(t.TempDir(), "highway.yaml")
	os.WriteFile(cfg, []byte(`
admission: {max_inflight: 2, queue: 0, queue_timeout: 0s}
sources: {slow: {kind: mock, latency: 3s, data: 1}}
routes: [{path: /slow, sources: [slow], timeout: 10s}]
`), 0o600)
	cmd, base, lines := start(t, bin, "-config", cfg, "-log", "off")
	codes := make(chan int, 2)
	for range 2 {
		go func() { code, _ := curl(t, base+"/slow"); codes <- code }()
	}
	waitInFlight(t, base, 2)
	cmd.Process.Signal(syscall.SIGHUP)
	for deadline := time.After(10 * time.Second); ; {
		select {
		case l := <-lines:
			if !strings.Contains(l, "reloaded the config (SIGHUP)") {
				continue
			}
		case <-deadline:
			t.Fatal("no reload")
		}
		break
	}
	if code, _ := curl(t, base+"/slow"); code != 503 {
		t.Errorf("a request over the limit after the reload: %d, want 503", code)
	}
	waitInFlight(t, base, 2)
	for range 2 {
		if code := <-codes; code != 200 {
			t.Errorf("a request admitted before the reload: %d", code)
		}
	}
}

// With -log json every line serve writes is JSON: where it serves, where
// tracing exports to, and the exporter's errors (a collector that refuses
// the spans) as records of the request log.
func TestEveryLineFollowsLogJSON(t *testing.T) {
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no spans here", http.StatusBadRequest)
	}))
	defer collector.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.URL)
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "50") // export at once, so the refusal comes soon
	cmd := exec.Command(build(t), "serve", "-addr", "127.0.0.1:0", "-log", "json")
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := watch(t, cmd, stderr)
	var tracingOn, exportFailed, asked bool
	deadline := time.After(20 * time.Second)
	for !exportFailed {
		select {
		case l := <-lines:
			var rec struct{ Msg, Level, Endpoint string }
			if err := json.Unmarshal([]byte(l), &rec); err != nil {
				t.Fatalf("a line that is not JSON under -log json: %s", l)
			}
			tracingOn = tracingOn || strings.HasPrefix(rec.Msg, "tracing on") && rec.Endpoint == collector.URL+"/v1/traces"
			exportFailed = strings.HasPrefix(rec.Msg, "tracing: export failed") && rec.Level == "ERROR"
			if _, url, found := strings.Cut(rec.Msg, " on http://"); found && !asked {
				asked = true
				if code, _ := curl(t, "http://"+url+"/city-report"); code != 200 {
					t.Fatalf("/city-report: %d", code)
				}
			}
		case <-deadline:
			t.Fatal("no record of the refused export")
		}
	}
	if !tracingOn {
		t.Error("no record saying where the spans go")
	}
	cmd.Process.Signal(syscall.SIGTERM)
	for l := range lines {
		if !json.Valid([]byte(l)) {
			t.Errorf("a line that is not JSON while shutting down: %s", l)
		}
	}
}

// A config may be a front door alone: models and their sources, no
// routes. The binary serves it, says what to try, and answers curl.
func TestServeAModelsOnlyConfig(t *testing.T) {
	bin := build(t)
	_, up, _ := startCommand(t, bin, "mock")
	cfg := filepath.Join(t.TempDir(), "highway.yaml")
	os.WriteFile(cfg, []byte(`
sources:
  fake: {kind: openai, base_url: "`+up+`/openai/v1?token_delay=1ms", model: popy-mock}
models:
  door-chat: {use: [fake]}
`), 0o600)
	_, base, lines := start(t, bin, "-config", cfg)
	var banner []string
	for l := range lines {
		banner = append(banner, l)
		if strings.Contains(l, "try ") {
			break
		}
	}
	if got := strings.Join(banner, "\n"); !strings.Contains(got, "models door-chat") || !strings.Contains(got, "curl -s "+base+"/v1/models") || strings.Contains(got, "routes") {
		t.Errorf("the banner of a models-only config:\n%s", got)
	}
	code, m := curl(t, "-H", "Content-Type: application/json", "-d", `{"model":"door-chat","messages":[{"role":"user","content":"Hello"}]}`, base+"/v1/chat/completions")
	// The answer names the provider's model that served it, as gateways do.
	if choices, _ := m["choices"].([]any); code != 200 || len(choices) != 1 || m["model"] != "popy-mock" {
		t.Errorf("%d %v", code, m)
	}
}
