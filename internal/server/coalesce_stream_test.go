package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/citypopy/highway/internal/report"
	"github.com/citypopy/highway/internal/sse"
)

// tokenGate is an OpenAI-compatible upstream that streams one token each
// time the test sends on step, and counts the calls it gets.
type tokenGate struct {
	step  chan struct{}
	calls atomic.Int32
}

var gateTokens = []string{"Hello", " from", " AI", " City", "!"}

func newTokenGate(t *testing.T) (*httptest.Server, *tokenGate) {
	g := &tokenGate{step: make(chan struct{})}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.calls.Add(1)
		w.Header().Set("Content-Type", "text/event-stream")
		for _, tok := range gateTokens {
			select {
			case <-g.step:
			case <-r.Context().Done():
				return
			}
			b, _ := json.Marshal(tok)
			fmt.Fprintf(w, "data: {\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":%s},\"finish_reason\":null}]}\n\n", b)
			w.(http.Flusher).Flush()
		}
		fmt.Fprint(w, "data: [DONE]\n\n")
	}))
	t.Cleanup(func() { pool.CloseIdleConnections(); srv.Close() })
	return srv, g
}

// lateWrites wraps a handler and counts writes to a response after its
// handler returned: there must never be one.
type lateWrites struct {
	next http.Handler
	late atomic.Int32
}

type watchedWriter struct {
	http.ResponseWriter
	returned *atomic.Bool
	late     *atomic.Int32
}

func (w *watchedWriter) Write(b []byte) (int, error) {
	if w.returned.Load() {
		w.late.Add(1)
	}
	return w.ResponseWriter.Write(b)
}

func (w *watchedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (l *lateWrites) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var returned atomic.Bool
	defer returned.Store(true)
	l.next.ServeHTTP(&watchedWriter{ResponseWriter: w, returned: &returned, late: &l.late}, r)
}

// listener is one SSE client of the chat route, collecting its deltas.
type listener struct {
	mu     sync.Mutex
	deltas []string
	report *report.Document
	done   chan struct{}
	cancel context.CancelFunc
}

func (c *listener) text() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.deltas, "")
}

func streamChat(t *testing.T, url string) *listener {
	ctx, cancel := context.WithCancel(t.Context())
	c := &listener{done: make(chan struct{}), cancel: cancel}
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(c.done)
		defer resp.Body.Close()
		r := sse.NewReader(resp.Body)
		for {
			e, err := r.Next()
			if err != nil {
				return
			}
			switch e.Type {
			case EventDelta:
				var d struct{ Text string }
				json.Unmarshal(e.Data, &d)
				c.mu.Lock()
				c.deltas = append(c.deltas, d.Text)
				c.mu.Unlock()
			case EventReport:
				c.report, _ = report.Decode(e.Data)
			}
		}
	}()
	return c
}

// A coalesced streaming chat source with two and with ten SSE clients:
// one upstream call, every client hears every token (a client that joins
// late is first replayed the tokens already streamed), a client that
// leaves mid-stream hears nothing more, and nothing is written to a
// response whose handler has returned.
func TestCoalescedStreamReachesEveryClient(t *testing.T) {
	for _, n := range []int{2, 10} {
		t.Run(fmt.Sprint(n, " clients"), func(t *testing.T) {
			up, g := newTokenGate(t)
			s := newServer(t, fmt.Sprintf(`
sources:
  chat: {kind: openai, base_url: "%s/v1", model: m, user: "Hello?", stream: true, coalesce: true}
routes: [{path: /chat, sources: [chat]}]
`, up.URL))
			guard := &lateWrites{next: s}
			front := httptest.NewServer(guard)
			defer front.Close()
			defer http.DefaultClient.CloseIdleConnections()
			url := front.URL + "/chat?stream=1"
			first := streamChat(t, url)
			waitUntil(t, "the upstream call", func() bool { return g.calls.Load() == 1 })
			g.step <- struct{}{}
			waitUntil(t, "the first token", func() bool { return first.text() == "Hello" })
			clients := []*listener{first}
			for range n - 1 { // they join the call in flight
				clients = append(clients, streamChat(t, url))
			}
			leaver := streamChat(t, url)
			for _, c := range append(clients, leaver) {
				waitUntil(t, "the replayed token", func() bool { return c.text() == "Hello" })
			}
			g.step <- struct{}{}
			waitUntil(t, "the second token", func() bool { return leaver.text() == "Hello from" })
			leaver.cancel()
			<-leaver.done
			for range gateTokens[2:] {
				g.step <- struct{}{}
			}
			for i, c := range clients {
				<-c.done
				if c.text() != "Hello from AI City!" || c.report == nil {
					t.Fatalf("client %d heard %q, report %v", i, c.text(), c.report)
				}
				chat := c.report.Sources.Get("chat")
				if chat.Status != "ok" || chat.Coalesced != (i > 0) || !strings.Contains(string(chat.Data), `"reply":"Hello from AI City!"`) {
					t.Errorf("client %d: %+v", i, chat)
				}
			}
			if got := leaver.text(); got != "Hello from" {
				t.Errorf("the client that left heard %q", got)
			}
			if g.calls.Load() != 1 || guard.late.Load() != 0 {
				t.Errorf("%d upstream calls, %d writes after a handler returned", g.calls.Load(), guard.late.Load())
			}
		})
	}
}

// waitUntil polls cond, for what another goroutine is about to make true,
// with a bound that only a stuck test reaches.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10s for %s", what)
		}
	}
}
