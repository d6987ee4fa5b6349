package surge

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestSurgeHoldsItsUsersInFlightAndCounts runs on synctest's clock, over
// in-memory connections: a busy machine cannot make its first tick late.
func TestSurgeHoldsItsUsersInFlightAndCounts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int64
		dial := pipeServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(20 * time.Millisecond)
			if n.Add(1)%4 == 0 {
				http.Error(w, "shed", http.StatusServiceUnavailable)
				return
			}
			w.Write([]byte(`{}`))
		}))
		var progress bytes.Buffer
		var ticks []TickStats
		s, err := Run(t.Context(), Options{URL: "http://127.0.0.1:9/", Dial: dial, Users: 40, Duration: 600 * time.Millisecond, Tick: 100 * time.Millisecond, Progress: &progress,
			OnTick: func(ts TickStats) { ticks = append(ticks, ts) }})
		if err != nil {
			t.Fatal(err)
		}
		if s.PeakInFlight != 40 || s.MeanInFlight < 30 {
			t.Errorf("in flight: peak %d mean %.1f, want the 40 users held", s.PeakInFlight, s.MeanInFlight)
		}
		if s.Requests == 0 || s.Statuses[200]+s.Statuses[503] != s.Requests || s.Shed != s.Statuses[503] || s.Shed == 0 || s.ErrorCount() != 0 {
			t.Errorf("%+v", s)
		}
		if s.Admitted.N != s.Statuses[200] || s.All.N != s.Requests || s.All.P50 < 20*time.Millisecond || s.All.Max < s.All.P99 || s.All.P99 < s.All.P50 {
			t.Errorf("percentiles %+v %+v", s.All, s.Admitted)
		}
		if int64(s.Requests) > n.Load() {
			t.Errorf("counted %d answers, server saw %d", s.Requests, n.Load())
		}
		if len(ticks) < 4 || ticks[len(ticks)-1].Requests == 0 || ticks[2].PerSec == 0 || ticks[2].P50MS < 20 {
			t.Errorf("ticks %+v", ticks)
		}
		if !strings.Contains(progress.String(), "users 40  in flight") {
			t.Errorf("progress %q", progress.String())
		}
	})
}

// pipeServer serves h over in-memory connections (net.Pipe) until the
// test ends, and returns the dial that reaches it.
func pipeServer(t *testing.T, h http.Handler) func(ctx context.Context, network, addr string) (net.Conn, error) {
	ln := &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
	srv := &http.Server{Handler: h}
	served := make(chan struct{})
	go func() { defer close(served); srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close(); <-served })
	return func(ctx context.Context, _, _ string) (net.Conn, error) {
		client, server := net.Pipe()
		select {
		case ln.conns <- server:
			return client, nil
		case <-ln.done:
			return nil, net.ErrClosed
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

type pipeListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error   { l.once.Do(func() { close(l.done) }); return nil }
func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }

func TestSurgeCountsSocketErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.Close()
	}))
	defer srv.Close()
	s, err := Run(t.Context(), Options{URL: srv.URL, Users: 3, Duration: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if s.ErrorCount() == 0 || s.Errors["connection closed"] == 0 || len(s.Statuses) != 0 {
		t.Errorf("errors %v statuses %v", s.Errors, s.Statuses)
	}
}

func TestSurgeStaysBounded(t *testing.T) {
	cases := []struct {
		opt  Options
		want string
	}{
		{Options{URL: "http://10.0.0.8/x", Users: 1, Duration: time.Second}, "not this machine"},
		{Options{URL: "http://example.com/x", Users: 1, Duration: time.Second}, "not this machine"},
		{Options{URL: "http://127.0.0.1:1/x", Users: 0, Duration: time.Second}, "users must be from 1"},
		{Options{URL: "http://127.0.0.1:1/x", Users: MaxUsers + 1, Duration: time.Second}, "users must be from 1"},
		{Options{URL: "http://[::1]:1/x", Users: 1, Duration: time.Hour}, "at most 10m"},
		{Options{URL: "ftp://127.0.0.1/", Users: 1, Duration: time.Second}, "want an http:// URL"},
	}
	for _, c := range cases {
		if err := c.opt.Check(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.opt, err, c.want)
		}
	}
	if err := (&Options{URL: "http://localhost:1/", Users: 1, Duration: time.Second}).Check(); err != nil {
		t.Error(err)
	}
}

// A surge that measures nothing stops early and says why: nothing
// listens, or the server refuses every request. Its users back off from
// a server they cannot reach instead of spinning.
func TestSurgeStopsWhenItMeasuresNothing(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	dead := closed.URL
	closed.Close()
	var calls atomic.Int64
	refuse := func(status int) *httptest.Server {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			http.Error(w, `{"error":"no"}`, status)
		}))
		t.Cleanup(srv.Close)
		return srv
	}
	for _, c := range []struct {
		url, want string
	}{
		{dead, "nothing listens there (connection refused)"},
		{refuse(404).URL, "404 Not Found: no such route"},
		{refuse(401).URL, "401 Unauthorized: it wants an API key"},
	} {
		// A StoppedError is the verdict's: a surge that ran its 5s out
		// would end with none.
		s, err := Run(t.Context(), Options{URL: c.url + "/city-report", Users: 50, Duration: 5 * time.Second})
		var stopped *StoppedError
		if !errors.As(err, &stopped) || !strings.Contains(err.Error(), c.want) || s == nil {
			t.Errorf("%s: %v, want it stopped early: %s", c.url, err, c.want)
		}
		if s != nil && s.Requests > 200 {
			t.Errorf("%s: %d requests before stopping: the users spun", c.url, s.Requests)
		}
	}
}

// A 429's Retry-After is honoured like a 503's: a limited user waits it.
func TestSurgeHonoursRetryAfterOn429(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) > 20 { // the first answers are good, so the surge does not stop
			w.Header().Set("Retry-After", "1")
			http.Error(w, `{"error":"rate limited"}`, http.StatusTooManyRequests)
			return
		}
		w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	s, err := Run(t.Context(), Options{URL: srv.URL, Users: 5, Duration: 1500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	// Each user: a few quick answers, then a 429 and a wait of 1 to 1.5s,
	// then at most one more 429 before the end.
	if s.Limited == 0 || s.Limited > 5*2 {
		t.Errorf("%d answers of 429 from 5 users in 1.5s: Retry-After not honoured (statuses %v)", s.Limited, s.Statuses)
	}
}

// Requests in flight when the surge ends are waited for and counted: a
// short surge of slow requests is not cut to its first round.
func TestSurgeCountsTheRequestsInFlightAtTheEnd(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		time.Sleep(300 * time.Millisecond)
		w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	s, err := Run(t.Context(), Options{URL: srv.URL, Users: 4, Duration: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if s.Requests != int(calls.Load()) || s.Statuses[200] != s.Requests || s.Requests < 8 || s.Elapsed < 600*time.Millisecond {
		t.Errorf("%d requests counted of %d sent, in %v", s.Requests, calls.Load(), s.Elapsed)
	}
}
