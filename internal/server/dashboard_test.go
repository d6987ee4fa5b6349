package server

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/citypopy/highway/fanout"
	"github.com/citypopy/highway/internal/report"
)

func TestDashboardEndpoints(t *testing.T) {
	s := newServer(t, `
sources:
  weather: {kind: mock, latency: 5ms, data: 1}
  broken:  {kind: mock, latency: 5ms, failure_rate: 1}
routes:
  - {path: /r, sources: [weather, broken], optional: [broken], params: {city: {default: x}}}
  - {path: /p, method: POST, sources: [weather]}
dashboard: {surge_max_users: 10, surge_max_duration: 2s}
`)
	front := httptest.NewServer(s)
	defer front.Close()
	defer http.DefaultClient.CloseIdleConnections()
	get := func(path string) (int, string) {
		resp, err := http.Get(front.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/"); code != 200 || !strings.Contains(body, "<title>Highway") {
		t.Errorf("page: %d", code)
	}
	if code, body := get("/highway/static/app.js"); code != 200 || !strings.Contains(body, "runLanes") {
		t.Errorf("script: %d", code)
	}
	if code, body := get("/highway/routes"); code != 200 || !strings.Contains(body, `"path":"/r","method":"GET","sources":["weather","broken"],"optional":["broken"]`) || !strings.Contains(body, `"max_users":10`) {
		t.Errorf("routes: %d %s", code, body)
	}
	for range 25 { // percentiles need 20 recent calls
		get("/r")
	}
	_, body := get("/highway/sources")
	var h struct{ Sources []sourceHealth }
	json.Unmarshal([]byte(body), &h)
	if len(h.Sources) != 2 || h.Sources[0].Name != "broken" || h.Sources[0].ErrorRate != 1 || h.Sources[1].Calls != 25 || h.Sources[1].P50MS == nil || *h.Sources[1].P50MS < 5 || h.Sources[0].P50MS != nil {
		t.Errorf("sources: %s", body)
	}
	for target, want := range map[string]string{
		"/highway/surge?route=/nope&users=1&duration=1s": "400 route must be one of this server's GET routes",
		"/highway/surge?route=/p&users=1&duration=1s":    "400 route must be one of this server's GET routes",
		"/highway/surge?route=/r&users=11&duration=1s":   "400 users must be from 1 to 10",
		"/highway/surge?route=/r&users=1&duration=3s":    "400 duration must be above 0 and at most 2s",
		"/highway/surge?route=/r&users=1&duration=soon":  "400 duration must be",
	} {
		code, body := get(target)
		var e map[string]string
		json.Unmarshal([]byte(body), &e)
		if got := http.StatusText(code); !strings.HasPrefix(want, itoa(code)) || !strings.Contains(e["error"], strings.SplitN(want, " ", 2)[1]) {
			t.Errorf("%s: %d %s (%s), want %s", target, code, body, got, want)
		}
	}
	s.dash.surging.Store(true)
	if code, _ := get("/highway/surge?route=/r&users=1&duration=1s"); code != http.StatusConflict {
		t.Errorf("a second surge: %d, want 409", code)
	}
	s.dash.surging.Store(false)
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestHealthStatsKeepMocksPlanned(t *testing.T) {
	t.Parallel()
	s := newServer(t, "sources: {m: {kind: mock, latency: 1ms}, r: {kind: mock, retry: {attempts: 2}}}\nroutes: [{path: /m, sources: [m, r]}]\n")
	p := s.routes["/m"].newPass(nil, nil)
	if _, ok := p.tasks[0].Source.(fanout.Planned[json.RawMessage]); !ok {
		t.Error("a bare mock must reach the gather as fanout.Planned, or every call costs a goroutine")
	}
	if _, ok := p.tasks[1].Source.(fanout.Planned[json.RawMessage]); ok {
		t.Error("a mock behind a policy was planned: its policy would be skipped")
	}
}

// Another site's page cannot start a surge, keys or no keys: its browser
// says where the request comes from. The server's own page, a user typing
// the URL and curl can.
func TestHostileCrossSiteSurge(t *testing.T) {
	t.Parallel()
	s := newServer(t, "sources: {m: {kind: mock, latency: 1ms}}\nroutes: [{path: /r, sources: [m]}]\n")
	front := httptest.NewServer(s)
	defer front.Close()
	defer http.DefaultClient.CloseIdleConnections()
	s.dash.surging.Store(true) // a surge let through answers 409 at once
	for _, c := range []struct {
		header, value string
		want          int
	}{
		{"Sec-Fetch-Site", "cross-site", http.StatusForbidden},
		{"Sec-Fetch-Site", "same-site", http.StatusForbidden},
		{"Origin", "http://evil.example", http.StatusForbidden},
		{"Origin", "null", http.StatusForbidden},
		{"Sec-Fetch-Site", "same-origin", http.StatusConflict},
		{"Sec-Fetch-Site", "none", http.StatusConflict},
		{"Origin", front.URL, http.StatusConflict},
		{"", "", http.StatusConflict},
	} {
		req, _ := http.NewRequest("GET", front.URL+"/highway/surge?route=/r&users=1&duration=1s", nil)
		if c.header != "" {
			req.Header.Set(c.header, c.value)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("%s: %s: %d, want %d", c.header, c.value, resp.StatusCode, c.want)
		}
	}
}

// The await demonstration answers at the deadline either way; only the
// district that ignored its context is abandoned.
func TestTheAwaitDemonstration(t *testing.T) {
	t.Parallel()
	s := newServer(t, "sources: {w: {kind: mock, latency: 1ms, data: 1}}\nroutes: [{path: /r, sources: [w]}]\n")
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("GET", AwaitPath+"?context=maybe", nil))
	if rec.Code != 400 || !strings.Contains(rec.Body.String(), "honoured or ignored") {
		t.Errorf("a bad context: %d %s", rec.Code, rec.Body)
	}
	for _, c := range []struct {
		context   string
		abandoned bool
	}{{"honoured", false}, {"ignored", true}} {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest("GET", AwaitPath+"?context="+c.context, nil))
		events := readEvents(t, strings.NewReader(rec.Body.String()))
		d, err := report.Decode(events[len(events)-1].Data)
		if err != nil {
			t.Fatal(err)
		}
		chat := d.Sources.Get("chat")
		if d.TotalMS < 1000 || d.TotalMS > 1100 || chat.Reason != "timeout" || chat.Abandoned != c.abandoned || d.Sources.Get("image").Status != "ok" {
			t.Errorf("context %s: total %.0f, chat %+v", c.context, d.TotalMS, chat)
		}
	}
	time.Sleep(2100 * time.Millisecond) // the deaf district's goroutine sleeps out its 3s before goleak looks
}
