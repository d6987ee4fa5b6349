package dashboard

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/citypopy/highway/internal/config"
	"github.com/citypopy/highway/internal/report"
	"github.com/citypopy/highway/internal/sse"
	"github.com/citypopy/highway/internal/upstream"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// newDashboard is the dashboard of the config in yaml, keys or none as it
// says, on upstreams of its own.
func newDashboard(t *testing.T, yaml string) *Dashboard {
	t.Helper()
	cfg, err := config.Parse("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	ups, err := upstream.BuildAll(cfg, upstream.Options{})
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(cfg, ups, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// handler serves d, and 404 for what is not its own.
func handler(d *Dashboard) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !d.Serve(w, r) {
			http.NotFound(w, r)
		}
	})
}

func TestOneSurgeAtATime(t *testing.T) {
	t.Parallel()
	d := newDashboard(t, "sources: {m: {kind: mock, latency: 1ms}}\nroutes: [{path: /r, sources: [m]}]\ndashboard: {surge_max_users: 10, surge_max_duration: 2s}\n")
	d.surging.Store(true)
	rec := httptest.NewRecorder()
	handler(d).ServeHTTP(rec, httptest.NewRequest("GET", SurgePath+"?route=/r&users=1&duration=1s", nil))
	if rec.Code != http.StatusConflict || !strings.Contains(rec.Body.String(), "a surge is already running") {
		t.Errorf("a second surge: %d %s, want 409", rec.Code, rec.Body)
	}
}

func TestThePageIsGetOnlyAndTheRestIsNotItsOwn(t *testing.T) {
	t.Parallel()
	d := newDashboard(t, "sources: {m: {kind: mock, latency: 1ms}}\nroutes: [{path: /r, sources: [m]}]\n")
	for _, c := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/", 200}, {"HEAD", "/", 200}, {"GET", "/index.html", http.StatusMovedPermanently}, {"POST", "/", 405}, {"GET", "/r", 404}, {"GET", "/highway/static/app.js", 200},
	} {
		rec := httptest.NewRecorder()
		handler(d).ServeHTTP(rec, httptest.NewRequest(c.method, c.path, nil))
		if rec.Code != c.want {
			t.Errorf("%s %s: %d, want %d", c.method, c.path, rec.Code, c.want)
		}
	}
}

// Another site's page cannot start a surge, keys or no keys: its browser
// says where the request comes from. The server's own page, a user typing
// the URL and curl can.
func TestHostileCrossSiteSurge(t *testing.T) {
	t.Parallel()
	d := newDashboard(t, "sources: {m: {kind: mock, latency: 1ms}}\nroutes: [{path: /r, sources: [m]}]\n")
	front := httptest.NewServer(handler(d))
	defer front.Close()
	defer http.DefaultClient.CloseIdleConnections()
	d.surging.Store(true) // a surge let through answers 409 at once
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
	d := newDashboard(t, "sources: {w: {kind: mock, latency: 1ms, data: 1}}\nroutes: [{path: /r, sources: [w]}]\n")
	rec := httptest.NewRecorder()
	handler(d).ServeHTTP(rec, httptest.NewRequest("GET", AwaitPath+"?context=maybe", nil))
	if rec.Code != 400 || !strings.Contains(rec.Body.String(), "honoured or ignored") {
		t.Errorf("a bad context: %d %s", rec.Code, rec.Body)
	}
	for _, c := range []struct {
		context   string
		abandoned bool
	}{{"honoured", false}, {"ignored", true}} {
		synctest.Test(t, func(t *testing.T) {
			rec := httptest.NewRecorder()
			handler(d).ServeHTTP(rec, httptest.NewRequest("GET", AwaitPath+"?context="+c.context, nil))
			events, err := sse.ReadAll(rec.Body)
			if err != nil || len(events) == 0 {
				t.Fatalf("the demonstration's stream: %d events, %v", len(events), err)
			}
			got, err := report.Decode(events[len(events)-1].Data)
			if err != nil {
				t.Fatal(err)
			}
			chat := got.Sources.Get("chat")
			if got.TotalMS != 1000 || chat.Reason != "timeout" || chat.Abandoned != c.abandoned || got.Sources.Get("image").Status != "ok" {
				t.Errorf("context %s: total %.0f, chat %+v", c.context, got.TotalMS, chat)
			}
			time.Sleep(3 * time.Second) // the deaf district sleeps out its 3s (in the bubble's time) before the bubble may end
		})
	}
}
