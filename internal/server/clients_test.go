package server

import (
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/citypopy/highway/internal/config"
	"github.com/citypopy/highway/internal/dashboard"
)

func TestClientKeysAnswer401And429WithRetryAfter(t *testing.T) {
	t.Parallel()
	const aliceKey, bobKey = "alice-0123456789abcdef", "bob-0123456789abcdef"
	bobHash := config.HashKey(bobKey)
	s := newServerEnv(t, `
clients:
  keys:
    - {name: alice, key: "${ALICE_KEY}"}
    - {name: bob, sha256: "`+hex.EncodeToString(bobHash[:])+`", rate: 0.001, burst: 2}
sources: {weather: {kind: mock, latency: 1ms, data: 1}}
routes: [{path: /r, sources: [weather]}]
`, map[string]string{"ALICE_KEY": aliceKey}, Options{})
	cases := []struct {
		name, path, header, value string
		want                      int
		retryAfter                string
	}{
		{"no key", "/r", "", "", 401, ""},
		{"wrong key", "/r", "Authorization", "Bearer alice-0123456789abcdeX", 401, ""},
		{"a hash is not a key", "/r", "X-API-Key", hex.EncodeToString(bobHash[:]), 401, ""},
		{"alice by bearer", "/r", "Authorization", "Bearer " + aliceKey, 200, ""},
		{"alice again, no limit", "/r", "Authorization", "bearer " + aliceKey, 200, ""},
		{"bob by X-API-Key", "/r", "X-API-Key", bobKey, 200, ""},
		{"bob's burst", "/r", "X-API-Key", bobKey, 200, ""},
		{"bob over his rate", "/r", "X-API-Key", bobKey, 429, "1000"},
		{"dashboard data needs a key", dashboard.RoutesPath, "", "", 401, ""},
		{"dashboard data with a key", dashboard.SourcesPath, "Authorization", "Bearer " + aliceKey, 200, ""},
		{"the page is public", "/", "", "", 200, ""},
		{"health is public", "/healthz", "", "", 200, ""},
	}
	for _, c := range cases {
		req := httptest.NewRequest("GET", c.path, nil)
		if c.header != "" {
			req.Header.Set(c.header, c.value)
		}
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code != c.want {
			t.Errorf("%s: %d %s, want %d", c.name, rec.Code, rec.Body, c.want)
			continue
		}
		if got := rec.Header().Get("Retry-After"); got != c.retryAfter {
			t.Errorf("%s: Retry-After %q, want %q", c.name, got, c.retryAfter)
		}
		if c.want >= 400 && !strings.HasPrefix(rec.Body.String(), `{"error":`) {
			t.Errorf("%s: body %q, want a JSON error", c.name, rec.Body)
		}
		if c.want == 401 && rec.Header().Get("WWW-Authenticate") == "" {
			t.Errorf("%s: 401 without WWW-Authenticate", c.name)
		}
		if strings.Contains(rec.Body.String(), "0123456789") {
			t.Errorf("%s: the answer shows a key: %s", c.name, rec.Body)
		}
	}
	rec := httptest.NewRecorder()
	scrape := httptest.NewRequest("GET", MetricsPath, nil)
	scrape.Header.Set("X-API-Key", aliceKey) // with keys on, metrics need one
	s.ServeHTTP(rec, scrape)
	for _, want := range []string{
		`highway_client_refused_total{client="bob",reason="rate_limited"} 1`,
		`highway_client_refused_total{client="(none)",reason="unauthorized"} 4`,
		`highway_client_refused_total{client="alice",reason="rate_limited"} 0`,
	} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func TestDashboardSurgePlaysTheCallersKey(t *testing.T) {
	const key = "carol-0123456789abcdef"
	s := newServerEnv(t, `
clients:
  keys: [{name: carol, key: "${CAROL_KEY}"}]
sources: {weather: {kind: mock, latency: 1ms, data: 1}}
routes: [{path: /r, sources: [weather]}]
`, map[string]string{"CAROL_KEY": key}, Options{})
	front := httptest.NewServer(s)
	defer front.Close()
	defer http.DefaultClient.CloseIdleConnections()
	req, _ := http.NewRequest("GET", front.URL+dashboard.SurgePath+"?route=/r&users=2&duration=300ms", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body strings.Builder
	_, _ = io.Copy(&body, resp.Body)
	if !strings.Contains(body.String(), `"statuses":{"200":`) || strings.Contains(body.String(), `"401"`) {
		t.Errorf("surge with carol's key: %s", body.String())
	}
}

// With keys asked for and no operator listener, what names clients,
// routes and sources is for callers with a key: /metrics, /readyz, and
// the list of routes in a 404. /healthz stays open, for probes.
func TestHostileKeysOnHideTheServer(t *testing.T) {
	t.Parallel()
	const key = "carol-0123456789abcdef"
	s := newServerEnv(t, `
clients: {keys: [{name: carol, key: "${CAROL_KEY}"}]}
sources: {weather: {kind: mock, latency: 1ms, data: 1}}
routes: [{path: /secret-route, sources: [weather]}]
`, map[string]string{"CAROL_KEY": key}, Options{})
	front := httptest.NewServer(s)
	defer front.Close()
	defer http.DefaultClient.CloseIdleConnections()
	get := func(path, k string) (int, string) {
		req, _ := http.NewRequest("GET", front.URL+path, nil)
		if k != "" {
			req.Header.Set("Authorization", "Bearer "+k)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, p := range []string{MetricsPath, ReadyzPath} {
		if code, body := get(p, ""); code != 401 || strings.Contains(body, "carol") || strings.Contains(body, "weather") {
			t.Errorf("%s without a key: %d %s", p, code, body)
		}
		if code, _ := get(p, key); code != 200 {
			t.Errorf("%s with a key: %d", p, code)
		}
	}
	if code, body := get("/nowhere", ""); code != 404 || strings.Contains(body, "secret-route") {
		t.Errorf("404 without a key: %d %s", code, body)
	}
	if code, body := get("/nowhere", key); code != 404 || !strings.Contains(body, "secret-route") {
		t.Errorf("404 with a key: %d %s", code, body)
	}
	if code, _ := get(HealthzPath, ""); code != 200 {
		t.Errorf("/healthz without a key: %d", code)
	}
}
