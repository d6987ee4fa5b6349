package server

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/citypopy/highway/internal/config"
	"github.com/citypopy/highway/internal/upstream"
)

// echo answers with what it was asked: path as sent, query and a header.
func echo(t *testing.T) (*httptest.Server, *atomic.Int32) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		json.NewEncoder(w).Encode(map[string]any{"path": r.URL.EscapedPath(), "query": r.URL.Query(), "city": r.Header.Get("X-City"), "host": r.Host})
	}))
	t.Cleanup(func() { upstream.Pool.CloseIdleConnections(); srv.Close() })
	return srv, &calls
}

func TestParametersReachSourcesEscapedForWhereTheyGo(t *testing.T) {
	t.Parallel()
	up, calls := echo(t)
	llm := mockUpstream(t)
	s := newServer(t, fmt.Sprintf(`
sources:
  forecast: {kind: http, url: "%[1]s/forecast/{{.params.city}}?days={{.params.days}}&q={{.params.city}}", headers: {X-City: "{{.params.city}}"}}
  cached:   {kind: http, url: "%[1]s/cached?city={{.params.city}}", cache: {ttl: 1h}}
  chat:     {kind: openai, base_url: "%[2]s/openai/v1?token_delay=1ms", model: m, user: "Weather for {{.params.city}}?"}
routes:
  - path: /forecast
    params:
      city: {pattern: "(?s).{1,60}"}
      days: {type: int, default: "1"}
    sources: [forecast, chat]
  - {path: /cached, params: {city: {default: Citypopy}}, sources: [cached]}
`, up.URL, llm))
	front := httptest.NewServer(s)
	defer front.Close()
	defer http.DefaultClient.CloseIdleConnections()

	city := "Paris/../x?y=1&z=#\r\nEvil: 1"
	code, d := fetch(t, front.URL+"/forecast?city="+url.QueryEscape(city)+"&days=3")
	var got struct {
		Path, City, Host string
		Query            url.Values
	}
	if d.Sources.Get("forecast") == nil {
		t.Fatalf("%d %+v", code, d)
	}
	json.Unmarshal(d.Sources.Get("forecast").Data, &got)
	if code != 200 || got.Path != "/forecast/"+url.PathEscape(city) || got.Query.Get("q") != city || got.Query.Get("days") != "3" ||
		got.City != "Paris/../x?y=1&z=#Evil: 1" || got.Host != strings.TrimPrefix(up.URL, "http://") {
		t.Errorf("%d %+v", code, got)
	}
	var chat struct{ Reply string }
	json.Unmarshal(d.Sources.Get("chat").Data, &chat)
	// the fake LLM echoes the prompt word by word, folding whitespace
	if !strings.HasSuffix(chat.Reply, strings.Join(strings.Fields("Weather for "+city+"?"), " ")) {
		t.Errorf("prompt: %q", chat.Reply)
	}

	for target, want := range map[string]string{
		"/forecast":                                 "missing parameter city; this route takes mode, lanes, stream, city, days",
		"/forecast?city=Rome&days=many":             `parameter days: want an integer, got "many"`,
		"/forecast?city=Rome&country=IT":            `unknown query parameter "country"`,
		"/forecast?city=" + strings.Repeat("x", 61): `does not match (?s).{1,60}`,
	} {
		if code, _, e := get(t, s, "GET", target); code != 400 || !strings.Contains(e["error"], want) {
			t.Errorf("%s: %d %q, want %q", target, code, e["error"], want)
		}
	}

	for _, c := range []string{"Paris", "Rome", "Paris", ""} {
		target := front.URL + "/cached"
		if c != "" {
			target += "?city=" + c
		}
		fetch(t, target)
	}
	if calls.Load() != 1+3 { // one forecast, then Paris, Rome and the default: the second Paris is cached
		t.Errorf("%d upstream calls; the cache must tell parameters apart", calls.Load())
	}
}

// A parameter that lands in an upstream path as a whole segment may not
// be . or ..: a 400 naming it, whatever its pattern admits, and no call.
// In a query value they are plain text; a need's answer rendering one
// fails that source instead.
func TestHostileDotSegments(t *testing.T) {
	t.Parallel()
	up, calls := echo(t)
	s := newServer(t, fmt.Sprintf(`
sources:
  forecast: {kind: http, url: "%[1]s/api/v1/{{.params.city}}/profile?q={{.params.q}}"}
  hop:      {kind: mock, data: {next: ".."}}
  climb:    {kind: http, url: "%[1]s/api/{{.hop.next}}/admin", needs: [hop]}
routes:
  - {path: /f, params: {city: {pattern: ".*"}, q: {default: x}}, sources: [forecast]}
  - {path: /climb, sources: [hop, climb], optional: [climb]}
`, up.URL))
	front := httptest.NewServer(s)
	defer front.Close()
	defer http.DefaultClient.CloseIdleConnections()
	for _, v := range []string{"..", "."} {
		resp, err := http.Get(front.URL + "/f?city=" + url.QueryEscape(v))
		if err != nil {
			t.Fatal(err)
		}
		var e struct{ Error string }
		json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if resp.StatusCode != 400 || !strings.Contains(e.Error, "parameter city") || !strings.Contains(e.Error, "dot segment") {
			t.Errorf("city=%s: %d %q", v, resp.StatusCode, e.Error)
		}
	}
	if code, _ := fetch(t, front.URL+"/f?city=Paris&q=.."); code != 200 {
		t.Errorf("a query value of ..: %d", code)
	}
	_, d := fetch(t, front.URL+"/climb")
	if c := d.Sources.Get("climb"); c.Status != "error" || !strings.Contains(c.Error, ". or .. segment") {
		t.Errorf("a need's answer rendering ..: %+v", c)
	}
	if calls.Load() != 1 {
		t.Errorf("%d upstream calls, want the one with city=Paris", calls.Load())
	}
}

// A parameter printed outside the quotes of a JSON body must be declared
// a number or a boolean (highway check refuses a string), and a value
// that is not a JSON one of its type is a 400: it can never change the
// body's shape.
func TestHostileUnquotedBodyValues(t *testing.T) {
	t.Parallel()
	var got []string
	var mu sync.Mutex
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, string(b))
		mu.Unlock()
		io.WriteString(w, `{}`)
	}))
	defer func() { upstream.Pool.CloseIdleConnections(); up.Close() }()
	_, err := config.Parse("t.yaml", []byte(`
sources: {s: {kind: http, url: "`+up.URL+`", body: '{"n": {{.params.n}}}'}}
routes: [{path: /r, params: {n: {}}, sources: [s]}]
`))
	if err == nil || !strings.Contains(err.Error(), "sources.s.body: {{.params.n}} stands outside JSON quotes") {
		t.Fatalf("an untyped unquoted parameter: %v", err)
	}
	s := newServer(t, `
sources: {s: {kind: http, url: "`+up.URL+`", body: '{"n": {{.params.n}}, "ok": {{.params.ok}}, "q": "{{.params.q}}"}'}}
routes: [{path: /r, params: {n: {type: float}, ok: {type: bool, default: "true"}, q: {default: x}}, sources: [s]}]
`)
	front := httptest.NewServer(s)
	defer front.Close()
	defer http.DefaultClient.CloseIdleConnections()
	for _, bad := range []string{"n=[1,2]", "n={}", "n=true", "n=%2B5", "n=0x10", "n=01", "n=1&ok=T", "n=1&ok=1"} {
		resp, err := http.Get(front.URL + "/r?" + bad)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Errorf("%s: %d, want 400", bad, resp.StatusCode)
		}
	}
	if code, _ := fetch(t, front.URL+"/r?n=-2.5e3&q=[1,2]"); code != 200 {
		t.Fatalf("good values: %d", code)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || got[0] != `{"n": -2.5e3, "ok": true, "q": "[1,2]"}` {
		t.Errorf("bodies sent: %q", got)
	}
}
