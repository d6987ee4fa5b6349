package server

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/citypopy/highway/internal/upstream"
)

func TestOptionalSourcesDoNotDecideTheStatus(t *testing.T) {
	t.Parallel()
	s := newServer(t, `
sources:
  weather: {kind: mock, latency: 300ms, data: 1}
  broken:  {kind: mock, latency: 100ms, failure_rate: 1}
  slow:    {kind: mock, latency: 2s, data: 2}
routes:
  - {path: /a, sources: [weather, broken], optional: [broken]}
  - {path: /b, sources: [weather, slow], optional: [slow], timeout: 1s}
  - {path: /c, sources: [broken, weather], optional: [weather]}
  - {path: /d, sources: [broken], optional: [broken]}
`)
	cases := []struct {
		path   string
		status int
	}{{"/a", 200}, {"/b", 200}, {"/c", 502}, {"/d", 502}}
	for _, c := range cases {
		synctest.Test(t, func(t *testing.T) {
			code, d, _ := get(t, s, "GET", c.path)
			if code != c.status || d.Complete {
				t.Errorf("%s: %d complete %v, want %d", c.path, code, d.Complete, c.status)
			}
			for _, src := range d.Sources {
				if src.Optional != (src.Name == "broken" && c.path != "/c" || src.Name == "slow" || src.Name == "weather" && c.path == "/c") {
					t.Errorf("%s: %s optional=%v", c.path, src.Name, src.Optional)
				}
			}
		})
	}
}

// scripted is an upstream whose answers follow a script by call number.
type scripted struct {
	calls atomic.Int32
	serve func(n int32, w http.ResponseWriter, r *http.Request)
}

func (s *scripted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.serve(s.calls.Add(1), w, r)
}

func TestPoliciesShowInTheReport(t *testing.T) {
	t.Parallel()
	flaky := &scripted{serve: func(n int32, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, `{"ok":true}`)
	}}
	tail := &scripted{serve: func(n int32, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			<-r.Context().Done() // the first call is stuck in the tail
			return
		}
		fmt.Fprint(w, `"fast"`)
	}}
	slow := &scripted{serve: func(n int32, w http.ResponseWriter, r *http.Request) {
		time.Sleep(200 * time.Millisecond)
		fmt.Fprint(w, `{"hits":3}`)
	}}
	failing := &scripted{serve: func(n int32, w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusInternalServerError)
	}}
	mux := http.NewServeMux()
	mux.Handle("/flaky", flaky)
	mux.Handle("/tail", tail)
	mux.Handle("/slow", slow)
	mux.Handle("/failing", failing)
	up := httptest.NewServer(mux)
	defer func() { upstream.Pool.CloseIdleConnections(); up.Close() }()

	s := newServer(t, fmt.Sprintf(`
sources:
  flaky:   {kind: http, url: "%[1]s/flaky", retry: {attempts: 3, backoff: 1ms}}
  tail:    {kind: http, url: "%[1]s/tail", hedge: {delay: 50ms, max_extra: 100%%}}
  search:  {kind: http, url: "%[1]s/slow", coalesce: true, cache: {ttl: 1h}}
  failing: {kind: http, url: "%[1]s/failing", retry: {attempts: 1}, breaker: {failures: 2, cooldown: 1h}}
routes:
  - {path: /flaky, sources: [flaky]}
  - {path: /tail, sources: [tail]}
  - {path: /search, sources: [search]}
  - {path: /failing, sources: [failing]}
`, up.URL))
	front := httptest.NewServer(s)
	defer front.Close()
	defer http.DefaultClient.CloseIdleConnections()

	if _, d := fetch(t, front.URL+"/flaky"); d.Sources[0].Attempts != 2 || d.Sources[0].Status != "ok" {
		t.Errorf("retry: %+v", d.Sources[0])
	}
	// The hedge needs its budget: one call earns it at 100%.
	fetch(t, front.URL+"/tail") // call 1 is stuck: the hedge (call 2) wins
	if tail.calls.Load() != 2 {
		t.Errorf("tail: %d calls, want the stuck one and its hedge", tail.calls.Load())
	}

	var wg sync.WaitGroup
	var coalesced atomic.Int32
	for range 20 {
		wg.Go(func() {
			if _, d := fetch(t, front.URL+"/search"); d.Sources[0].Coalesced {
				coalesced.Add(1)
			}
		})
	}
	wg.Wait()
	if slow.calls.Load() != 1 || coalesced.Load() == 0 {
		t.Errorf("coalesce: %d upstream calls for 20 requests, %d coalesced", slow.calls.Load(), coalesced.Load())
	}
	if _, d := fetch(t, front.URL+"/search"); !d.Sources[0].Cached || d.Sources[0].Attempts != 0 || slow.calls.Load() != 1 {
		t.Errorf("cache: %+v", d.Sources[0])
	}

	for range 2 {
		fetch(t, front.URL+"/failing")
	}
	code, d := fetch(t, front.URL+"/failing")
	if code != 502 || d.Sources[0].Reason != "breaker_open" || failing.calls.Load() != 2 {
		t.Errorf("breaker: %d %+v after %d upstream calls", code, d.Sources[0], failing.calls.Load())
	}
}

func TestHedgeWonIsReported(t *testing.T) {
	t.Parallel()
	s := newServer(t, `
sources:
  image: {kind: mock, latency: 50ms, tail: {rate: 100%, latency: 1s}, hedge: {delay: 100ms, max_extra: 100%}}
routes: [{path: /image, sources: [image]}]
`)
	synctest.Test(t, func(t *testing.T) {
		// Every call is in the tail, so the hedge cannot win; it is still
		// sent and reported.
		_, d, _ := get(t, s, "GET", "/image")
		if src := d.Sources[0]; !src.Hedged || src.HedgeWon || src.Attempts != 2 || src.EndMS != 1000 {
			t.Errorf("%+v", src)
		}
	})
}

func TestASurgeIsShedAtTheDoorWithRetryAfter(t *testing.T) {
	t.Parallel()
	// The server is made inside the bubble: its admission channel must
	// belong to it for waits on it to count as durably blocked.
	synctest.Test(t, func(t *testing.T) {
		s := newServer(t, `
admission: {max_inflight: 2, queue: 1, queue_timeout: 10ms}
sources: {slow: {kind: mock, latency: 200ms, data: 1}}
routes: [{path: /slow, sources: [slow]}]
`)
		var wg sync.WaitGroup
		var mu sync.Mutex
		codes := map[int]int{}
		start := time.Now()
		for range 10 {
			wg.Go(func() {
				rec := httptest.NewRecorder()
				s.ServeHTTP(rec, httptest.NewRequest("GET", "/slow", nil))
				mu.Lock()
				defer mu.Unlock()
				codes[rec.Code]++
				if rec.Code == 503 && (rec.Header().Get("Retry-After") != "2" || rec.Header().Get("Content-Type") != "application/json" || !strings.Contains(rec.Body.String(), `"error":"over capacity: 2 requests in flight and 1 queued; retry after 2s"`)) {
					t.Errorf("503 without Retry-After or JSON: %v", rec.Header())
				}
			})
		}
		wg.Wait()
		if codes[200] != 2 || codes[503] != 8 || time.Since(start) != 200*time.Millisecond {
			t.Errorf("codes %v after %v, want 2 served and 8 shed", codes, time.Since(start))
		}
		var shed dto.Metric
		s.metrics.Shed().Write(&shed)
		if shed.GetCounter().GetValue() != 8 || s.admission.InFlight() != 0 {
			t.Errorf("shed %v inflight %d", shed.GetCounter().GetValue(), s.admission.InFlight())
		}
	})
}

func TestAQueuedRequestIsServedWhenAPlaceFrees(t *testing.T) {
	t.Parallel()
	// The server is made inside the bubble: its admission channel must
	// belong to it for waits on it to count as durably blocked.
	synctest.Test(t, func(t *testing.T) {
		s := newServer(t, `
admission: {max_inflight: 1, queue: 5, queue_timeout: 1s}
sources: {slow: {kind: mock, latency: 200ms, data: 1}}
routes: [{path: /slow, sources: [slow]}]
`)
		var wg sync.WaitGroup
		var ok atomic.Int32
		for range 3 {
			wg.Go(func() {
				rec := httptest.NewRecorder()
				s.ServeHTTP(rec, httptest.NewRequest("GET", "/slow", nil))
				if rec.Code == 200 {
					ok.Add(1)
				}
			})
		}
		wg.Wait()
		if ok.Load() != 3 {
			t.Errorf("%d of 3 served; the queue should have held the others", ok.Load())
		}
	})
}

func TestACallThatNeverGetsPastTheConcurrencyLimitIsShed(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s := newServer(t, `
sources:
  busy: {kind: mock, latency: 100ms, data: 1, concurrency: 1}
routes:
  - {path: /long, sources: [busy], timeout: 1s}
  - {path: /short, sources: [busy], timeout: 30ms}
`)
		held := make(chan int)
		go func() {
			code, _, _ := get(t, s, "GET", "/long")
			held <- code
		}()
		synctest.Wait() // /long holds the only slot
		code, d, _ := get(t, s, "GET", "/short")
		if busy := d.Sources.Get("busy"); code != 504 || !busy.Shed || busy.Reason != "deadline" {
			t.Errorf("/short: %d %+v; want 504 and the call marked shed", code, busy)
		}
		if code := <-held; code != 200 {
			t.Errorf("/long: %d", code)
		}
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest("GET", MetricsPath, nil))
		if want := `highway_source_call_duration_seconds_count{outcome="shed",source="busy"} 1`; !strings.Contains(rec.Body.String(), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	})
}

// A client varying a free parameter cannot grow the cache past its bytes:
// a flood of distinct large answers, over real sockets, leaves it within
// cache.max_bytes; a reload that drops the source frees its entries.
func TestHostileCacheFlood(t *testing.T) {
	t.Parallel()
	answer := `{"text":"` + strings.Repeat("x", 8<<10) + `"}`
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, answer)
	}))
	defer func() { upstream.Pool.CloseIdleConnections(); up.Close() }()
	s := newServer(t, `
cache_max_bytes: 1MiB
sources:
  search: {kind: http, url: "`+up.URL+`/s?q={{.params.q}}", cache: {ttl: 1h, max_bytes: 256KiB}}
routes: [{path: /s, params: {q: {}}, sources: [search]}]
`)
	front := httptest.NewServer(s)
	defer front.Close()
	defer http.DefaultClient.CloseIdleConnections()
	for i := range 300 { // 2.4 MB of distinct answers
		resp, err := http.Get(front.URL + "/s?q=" + strconv.Itoa(i))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	cache := s.upstreams["search"].Cache
	if b := cache.Bytes(); b > 256<<10 || b == 0 {
		t.Errorf("the cache holds %d bytes after the flood, want at most 256 KiB", b)
	}
	newServerWith(t, "sources: {m: {kind: mock}}\nroutes: [{path: /m, sources: [m]}]\n", Options{Registry: s.registry})
	if b := cache.Bytes(); b != 0 {
		t.Errorf("a reload that dropped the source left %d bytes in its cache", b)
	}
}
