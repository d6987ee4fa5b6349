package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/citypopy/highway/internal/report"
	"github.com/citypopy/highway/internal/route"
	"github.com/citypopy/highway/internal/sse"
	"github.com/citypopy/highway/internal/upstream"
)

// streamEvents asks h for target as a stream and returns its events and
// their types in order, space-separated.
func streamEvents(t *testing.T, h http.Handler, target string) ([]*sse.Event, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", target, nil))
	events := readEvents(t, strings.NewReader(rec.Body.String()))
	return events, eventTypes(events)
}

// eventTypes are the types of events in order, space-separated.
func eventTypes(events []*sse.Event) string {
	types := make([]string, len(events))
	for i, e := range events {
		types[i] = e.Type
	}
	return strings.Join(types, " ")
}

func readEvents(t *testing.T, body io.Reader) []*sse.Event {
	t.Helper()
	events, err := sse.ReadAll(body)
	if err != nil {
		t.Fatal(err)
	}
	return events
}

func TestStreamSendsEachSourceAsItLandsThenTheReport(t *testing.T) {
	t.Parallel()
	for _, how := range []string{"accept", "query"} {
		synctest.Test(t, func(t *testing.T) {
			s := newServer(t, city+"heartbeat: 200ms\n")
			rec := httptest.NewRecorder()
			req := httptest.NewRequest("GET", "/city-report", nil)
			if how == "accept" {
				req.Header.Set("Accept", "text/event-stream")
			} else {
				req = httptest.NewRequest("GET", "/city-report?stream=1&lanes=3", nil)
			}
			s.ServeHTTP(rec, req)
			if rec.Code != 200 || rec.Header().Get("Content-Type") != "text/event-stream" || !rec.Flushed {
				t.Fatalf("%d %v", rec.Code, rec.Header())
			}
			if n := strings.Count(rec.Body.String(), ": heartbeat\n\n"); n < 3 {
				t.Errorf("%d heartbeats in 800ms at 200ms, want 3 or 4", n)
			}
			events := readEvents(t, strings.NewReader(rec.Body.String()))
			// Three lanes: the three starts at 0, then each source as it lands.
			for i, e := range events[:3] {
				var st struct {
					Name    string   `json:"name"`
					StartMS *float64 `json:"start_ms"`
				}
				if err := json.Unmarshal(e.Data, &st); err != nil || e.Type != "start" || e.ID != fmt.Sprint(i+1) || st.Name == "" || st.StartMS == nil || *st.StartMS != 0 {
					t.Fatalf("event %d: %+v %v", i, e, err)
				}
			}
			var order []string
			for i, e := range events[3:6] {
				var src report.SourceEntry
				if err := json.Unmarshal(e.Data, &src); err != nil || e.Type != "source" || e.ID != fmt.Sprint(i+4) || src.Status != "ok" {
					t.Fatalf("event %d: %+v %v", i+3, e, err)
				}
				order = append(order, fmt.Sprintf("%s@%v", src.Name, src.EndMS))
			}
			if got := strings.Join(order, " "); got != "weather@300 chat@500 image@800" {
				t.Errorf("completion order %s", got)
			}
			last := events[6]
			d, err := report.Decode(last.Data)
			if last.Type != "report" || last.ID != "7" || err != nil || d.TotalMS != 800 || !d.Complete || len(events) != 7 {
				t.Errorf("report event %+v: %v", last, err)
			}
		})
	}
}

func TestStreamBadRequestsAreStillJSON(t *testing.T) {
	t.Parallel()
	s := newServer(t, city)
	code, _, e := get(t, s, "GET", "/city-report?stream=maybe")
	if code != 400 || !strings.Contains(e["error"], `stream must be 1 or 0`) {
		t.Errorf("%d %v", code, e)
	}
}

// slowGate controls an upstream's /slow: it answers once open is
// closed; each call says so on arrived, and on gone if it was given up.
type slowGate struct{ open, arrived, gone chan struct{} }

// gate is an upstream whose /slow answers only once the test opens it.
func gate(t *testing.T) (*httptest.Server, slowGate) {
	g := slowGate{make(chan struct{}), make(chan struct{}, 4), make(chan struct{}, 4)}
	mux := http.NewServeMux()
	mux.HandleFunc("/fast", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, `"fast"`) })
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		g.arrived <- struct{}{}
		select {
		case <-g.open:
			io.WriteString(w, `"slow"`)
		case <-r.Context().Done():
			g.gone <- struct{}{}
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(func() { upstream.Pool.CloseIdleConnections(); srv.Close() })
	return srv, g
}

func TestStreamDeliversTheFirstSourceWhileTheSlowOneIsStillOut(t *testing.T) {
	t.Parallel()
	up, g := gate(t)
	s := newServer(t, fmt.Sprintf(`
sources:
  fast: {kind: http, url: "%[1]s/fast"}
  slow: {kind: http, url: "%[1]s/slow", timeout: 1m}
routes: [{path: /r, sources: [slow, fast], timeout: 1m}]
`, up.URL))
	front := httptest.NewServer(s)
	defer front.Close()
	resp, err := http.Get(front.URL + "/r?stream=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := sse.NewReader(resp.Body)
	first, err := nextLanded(r) // would hang here if the stream were buffered: slow is held until we have it
	if err != nil || !strings.Contains(string(first.Data), `"name":"fast"`) {
		t.Fatalf("%+v %v", first, err)
	}
	close(g.open)
	second, _ := nextLanded(r)
	final, _ := nextLanded(r)
	if !strings.Contains(string(second.Data), `"name":"slow"`) || final.Type != "report" {
		t.Errorf("%+v / %+v", second, final)
	}
	http.DefaultClient.CloseIdleConnections()
}

func TestClientLeavingMidStreamCancelsTheUpstreamCalls(t *testing.T) {
	t.Parallel()
	up, g := gate(t)
	s := newServer(t, fmt.Sprintf(`
sources:
  fast: {kind: http, url: "%[1]s/fast"}
  slow: {kind: http, url: "%[1]s/slow", timeout: 1m}
routes: [{path: /r, sources: [slow, fast], timeout: 1m}]
`, up.URL))
	front := httptest.NewServer(s)
	defer front.Close()
	ctx, cancel := context.WithCancel(t.Context())
	req, _ := http.NewRequestWithContext(ctx, "GET", front.URL+"/r", nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sse.NewReader(resp.Body).Next(); err != nil {
		t.Fatal(err)
	}
	await(t, g.arrived, 1, "the slow call to arrive") // leave only once it is out
	cancel()
	resp.Body.Close()
	await(t, g.gone, 1, "the slow upstream call to be cancelled when the client left")
	http.DefaultClient.CloseIdleConnections()
}

// nextLanded is the next event that is not a source starting.
func nextLanded(r *sse.Reader) (*sse.Event, error) {
	for {
		e, err := r.Next()
		if err != nil || e.Type != route.EventStart {
			return e, err
		}
	}
}
