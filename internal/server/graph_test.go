package server

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/citypopy/highway/internal/report"
	"github.com/citypopy/highway/internal/route"
	"github.com/citypopy/highway/internal/sse"
)

// upstreamRecorder is an HTTP upstream that records what each call sent.
type upstreamRecorder struct {
	mu    sync.Mutex
	calls []*http.Request
	body  []string
}

func (u *upstreamRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	u.mu.Lock()
	u.calls = append(u.calls, r)
	u.body = append(u.body, string(b))
	u.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(`{"summary":"done"}`))
}

func TestDependentSourceGetsItsNeedsInEveryPlace(t *testing.T) {
	t.Parallel()
	up := &upstreamRecorder{}
	srv := httptest.NewServer(up)
	defer srv.Close()
	defer http.DefaultClient.CloseIdleConnections()
	s := newServer(t, `
sources:
  weather: {kind: mock, latency: 30ms, data: {temp: 22, sky: "sun/rain & \"wind\""}}
  search:  {kind: mock, latency: 10ms, data: {hits: ["a", "b c"]}}
  image:   {kind: mock, latency: 20ms, data: {url: /img}}
  brief:
    kind: http
    url: `+srv.URL+`/brief/{{.weather.sky}}?t={{.weather.temp}}&city={{.params.city}}
    headers: {X-Sky: "{{.weather.sky}}"}
    needs: [weather, search]
    body: '{"prompt": "Summarize {{.params.city}}: {{.weather.sky}}, hits {{.search.hits}}"}'
routes:
  - path: /city-brief
    sources: [weather, search, brief, image]
    params: {city: {default: Citypopy}}
`)
	code, d, _ := get(t, s, "GET", "/city-brief?city=Paris")
	if code != 200 || !d.Complete {
		t.Fatalf("%d %+v", code, d)
	}
	if len(up.calls) != 1 {
		t.Fatalf("%d calls to the brief upstream", len(up.calls))
	}
	call := up.calls[0]
	const sky = `sun/rain & "wind"`
	if got, _ := strings.CutPrefix(call.URL.EscapedPath(), "/brief/"); got != "sun%2Frain%20&%20%22wind%22" {
		t.Errorf("path %q: the need's value must stay one escaped segment", call.URL.EscapedPath())
	}
	if q := call.URL.Query(); q.Get("t") != "22" || q.Get("city") != "Paris" {
		t.Errorf("query %q", call.URL.RawQuery)
	}
	if call.Header.Get("X-Sky") != sky || call.Method != "POST" {
		t.Errorf("%s with X-Sky %q", call.Method, call.Header.Get("X-Sky"))
	}
	var body map[string]string
	if err := json.Unmarshal([]byte(up.body[0]), &body); err != nil || body["prompt"] != `Summarize Paris: `+sky+`, hits ["a","b c"]` {
		t.Errorf("body %s: %v", up.body[0], err)
	}
	brief, weather, search := d.Sources.Get("brief"), d.Sources.Get("weather"), d.Sources.Get("search")
	if brief.StartMS < weather.EndMS || brief.StartMS < search.EndMS || !slices.Equal(brief.Needs, []string{"weather", "search"}) {
		t.Errorf("brief started at %.1fms, weather ended %.1fms, search %.1fms; needs %v", brief.StartMS, weather.EndMS, search.EndMS, brief.Needs)
	}
	if !slices.Equal(d.CriticalPath, []string{"weather", "brief"}) {
		t.Errorf("critical path %v, want [weather brief]", d.CriticalPath)
	}
}

const failingGraph = `
sources:
  search:  {kind: mock, latency: 40ms, failure_rate: 1}
  weather: {kind: mock, latency: 10ms, data: {temp: 22}}
  chat:    {kind: mock, latency: 20ms, data: {reply: hi}, needs: [search, weather]}
  brief:   {kind: mock, latency: 30ms, data: {summary: ok}, needs: [search], fallback: {search: {hits: []}}}
  after:   {kind: mock, latency: 5ms, data: 1, needs: [chat]}
routes:
  - {path: /g, sources: [search, weather, chat, brief, after], optional: [search, chat, after]}
  - {path: /required, sources: [search, weather, chat]}
`

func TestFailedNeedSkipsOrFallsBack(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s := newServer(t, failingGraph)
		code, d, _ := get(t, s, "GET", "/g")
		if code != 200 {
			t.Fatalf("status %d: only optional sources failed", code)
		}
		chat, after, brief := d.Sources.Get("chat"), d.Sources.Get("after"), d.Sources.Get("brief")
		if chat.Status != "skipped" || chat.Reason != "need_failed" || chat.Need != "search" || chat.Attempts != 0 || chat.StartMS != 40 {
			t.Errorf("chat %+v", chat)
		}
		if after.Status != "skipped" || after.Need != "chat" {
			t.Errorf("after %+v", after)
		}
		if brief.Status != "ok" || !slices.Equal(brief.FallbackFor, []string{"search"}) || brief.StartMS != 40 || brief.EndMS != 70 {
			t.Errorf("brief %+v", brief)
		}
		if d.TotalMS != 70 || !slices.Equal(d.CriticalPath, []string{"search", "brief"}) {
			t.Errorf("total %v path %v", d.TotalMS, d.CriticalPath)
		}
		code, d, _ = get(t, s, "GET", "/required")
		if code != 200 || d.Complete || d.Failed != 2 || d.Sources.Get("chat").Status != "skipped" {
			t.Errorf("a required source skipped, weather answered: %d complete %v failed %d %+v", code, d.Complete, d.Failed, d.Sources.Get("chat"))
		}
	})
}

func TestGraphRunsInSingleLaneAndStreamsInCompletionOrder(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s := newServer(t, failingGraph)
		code, d, _ := get(t, s, "GET", "/g?mode=sequential")
		if code != 200 || d.Mode != "sequential" || d.TotalMS != 80 {
			t.Errorf("sequential: %d mode %s total %v", code, d.Mode, d.TotalMS)
		}
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest("GET", "/g?stream=1", nil))
		var order []string
		for _, e := range readEvents(t, strings.NewReader(rec.Body.String())) {
			if e.Type == route.EventSource {
				var src report.SourceEntry
				json.Unmarshal(e.Data, &src)
				order = append(order, src.Name+":"+src.Status)
			}
		}
		want := []string{"weather:ok", "search:error", "chat:skipped", "after:skipped", "brief:ok"}
		if !slices.Equal(order, want) {
			t.Errorf("streamed %v, want %v", order, want)
		}
	})
}

func TestClientLeavingInTheMiddleOfAGraphStopsIt(t *testing.T) {
	t.Parallel()
	var started, finished atomic.Int32
	calling, cancelled := make(chan struct{}, 1), make(chan struct{}, 1)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started.Add(1)
		calling <- struct{}{}
		<-r.Context().Done() // held until Highway cancels the call
		finished.Add(1)
		cancelled <- struct{}{}
	}))
	defer slow.Close()
	defer http.DefaultClient.CloseIdleConnections()
	s := newServer(t, `
sources:
  search: {kind: mock, latency: 10ms, data: {hits: 1}}
  chat:   {kind: http, url: `+slow.URL+`, needs: [search], retry: {attempts: 1}}
  after:  {kind: mock, latency: 1ms, data: 1, needs: [chat]}
routes:
  - {path: /g, sources: [search, chat, after]}
`)
	front := httptest.NewServer(s)
	defer front.Close()
	req, _ := http.NewRequest("GET", front.URL+"/g?stream=1", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	first, err := sse.NewReader(resp.Body).Next() // search's event: chat is now in flight
	if err != nil || !strings.Contains(string(first.Data), `"name":"search"`) {
		t.Fatalf("first event %+v %v", first, err)
	}
	<-calling
	resp.Body.Close() // the client leaves
	front.Close()     // returns once every handler has: goleak checks the rest
	await(t, cancelled, 1, "the in-flight chat call to be cancelled when the client left")
	if started.Load() != 1 || finished.Load() != 1 {
		t.Errorf("chat calls started %d, finished %d: want the in-flight one cancelled", started.Load(), finished.Load())
	}
}

func TestCacheOfADependentIsKeyedByItsNeedsAnswers(t *testing.T) {
	t.Parallel()
	var weatherCalls atomic.Int32
	weather := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		temp := min(weatherCalls.Add(1), 2) // 1, then 2, 2, ...
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"temp": %d}`, temp)
	}))
	defer weather.Close()
	brief := &upstreamRecorder{}
	up := httptest.NewServer(brief)
	defer up.Close()
	defer http.DefaultClient.CloseIdleConnections()
	s := newServer(t, `
sources:
  weather: {kind: http, url: `+weather.URL+`}
  brief:   {kind: http, url: "`+up.URL+`/brief?t={{.weather.temp}}", needs: [weather], cache: {ttl: 1h}}
routes:
  - {path: /b, sources: [weather, brief]}
`)
	var cached []bool
	for range 3 {
		_, d, _ := get(t, s, "GET", "/b")
		cached = append(cached, d.Sources.Get("brief").Cached)
	}
	if len(brief.calls) != 2 || brief.calls[0].URL.RawQuery != "t=1" || brief.calls[1].URL.RawQuery != "t=2" || !slices.Equal(cached, []bool{false, false, true}) {
		t.Errorf("brief called %d times, cached %v: a new weather must miss the cache, the same weather hit it", len(brief.calls), cached)
	}
}
