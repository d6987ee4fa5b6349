package server

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
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
	var h struct {
		Sources []struct {
			Name      string
			Calls     int64
			ErrorRate float64  `json:"error_rate"`
			P50MS     *float64 `json:"p50_ms"`
		}
	}
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
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }
