package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/citypopy/highway/internal/report"
	"github.com/citypopy/highway/internal/route"
	"github.com/citypopy/highway/internal/sse"
	"github.com/citypopy/highway/internal/upstream"
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
	t.Cleanup(func() { upstream.Pool.CloseIdleConnections(); srv.Close() })
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

// streamClient is one SSE client of the chat route, collecting its deltas.
type streamClient struct {
	mu     sync.Mutex
	deltas []string
	report *report.Document
	done   chan struct{}
	cancel context.CancelFunc
}

func (c *streamClient) text() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.deltas, "")
}

func streamChat(t *testing.T, url string) *streamClient {
	ctx, cancel := context.WithCancel(t.Context())
	c := &streamClient{done: make(chan struct{}), cancel: cancel}
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
			case route.EventDelta:
				var d struct{ Text string }
				json.Unmarshal(e.Data, &d)
				c.mu.Lock()
				c.deltas = append(c.deltas, d.Text)
				c.mu.Unlock()
			case route.EventReport:
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
	t.Parallel()
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
			clients := []*streamClient{first}
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

// A slow SSE client of a coalesced stream falls behind alone: with ten
// clients on one shared answer and one of them reading a byte a second,
// the other nine hear every token and their report while the slow one is
// still connected, far behind (its write timeout, a minute here, is what
// bounds it). The stream is large (4 MiB, more than the slow client's
// socket buffers hold on both sides: about 1.6 MiB on loopback), so that
// its writes block. The fast clients' source and report events, which
// carry the whole reply, are more than an event reader takes: they are
// judged by their deltas, every one of which they must hear.
func TestASlowClientOfACoalescedStreamFallsBehindAlone(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("x", 512<<10)
	step := make(chan struct{})
	var calls atomic.Int32
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "text/event-stream")
		for range 8 {
			select {
			case <-step:
			case <-r.Context().Done():
				return
			}
			fmt.Fprintf(w, "data: {\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":%q},\"finish_reason\":null}]}\n\n", big)
			w.(http.Flusher).Flush()
		}
		fmt.Fprint(w, "data: [DONE]\n\n")
	}))
	defer up.Close()
	defer upstream.Pool.CloseIdleConnections()
	s := newServer(t, fmt.Sprintf(`
server: {write_timeout: 1m}
sources:
  chat: {kind: openai, base_url: "%s/v1", model: m, user: "Hello?", stream: true, coalesce: true, max_bytes: 8000000, timeout: 2m}
routes: [{path: /chat, sources: [chat], timeout: 2m}]
`, up.URL))
	front := httptest.NewServer(s)
	defer front.Close()
	defer http.DefaultClient.CloseIdleConnections()
	url := front.URL + "/chat?stream=1"

	slow, read, hangUp := slowReader(t, front.Listener.Addr().String(), "/chat?stream=1")
	defer hangUp() // before the server closes, which waits for its handler
	waitUntil(t, "the upstream call", func() bool { return calls.Load() == 1 })
	var clients []*streamClient
	for range 9 {
		clients = append(clients, streamChat(t, url))
	}
	step <- struct{}{}
	for _, c := range clients {
		waitUntil(t, "the first token", func() bool { return c.text() == big })
	}
	for range 7 {
		step <- struct{}{}
	}
	for i, c := range clients {
		select {
		case <-c.done:
		case <-time.After(30 * time.Second): // only a stalled stream gets here
			t.Fatalf("client %d is held back: it has %d of %d bytes", i, len(c.text()), 8*len(big))
		}
		if len(c.text()) != 8*len(big) {
			t.Fatalf("client %d heard %d bytes", i, len(c.text()))
		}
	}
	if n := read.Load(); n >= 8*int64(len(big)) {
		t.Fatalf("the slow client read %d bytes: it was not slow", n)
	}
	select {
	case <-slow:
		t.Error("the slow client was cut before the others finished")
	default:
	}
	if calls.Load() != 1 {
		t.Errorf("%d upstream calls", calls.Load())
	}
}

// slowReader asks addr for path over a socket with a small receive
// buffer and reads its answer a byte a second, counting in read; done is
// closed once the connection ends. hangUp closes it.
func slowReader(t *testing.T, addr, path string) (done <-chan struct{}, read *atomic.Int64, hangUp func()) {
	small := func(_, _ string, c syscall.RawConn) error { // before the handshake, so the window is small from the start
		return c.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 1<<10) })
	}
	conn, err := (&net.Dialer{Control: small}).Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: highway\r\nAccept: text/event-stream\r\n\r\n", path); err != nil {
		t.Fatal(err)
	}
	closed, n, quit := make(chan struct{}), &atomic.Int64{}, make(chan struct{})
	go func() {
		defer close(closed)
		b := make([]byte, 1)
		for {
			if _, err := conn.Read(b); err != nil {
				return
			}
			n.Add(1)
			select {
			case <-time.After(time.Second):
			case <-quit:
				return
			}
		}
	}()
	return closed, n, func() { close(quit); conn.Close(); <-closed }
}
