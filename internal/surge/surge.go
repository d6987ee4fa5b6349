// Package surge is a closed-loop load generator for the seed's "Stabilize
// AI City" scene: it holds a number of users, each sending its next request
// the moment the last one is answered, for a bounded time, and summarises
// what they saw. It stops by itself and, unless told otherwise, only
// targets this machine.
package surge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Limits keep a surge bounded.
const (
	MaxUsers    = 50000
	MaxDuration = 10 * time.Minute
)

// Options configures a surge.
type Options struct {
	// URL is requested by every user, again and again.
	URL string
	// Users is how many requests are kept in flight.
	Users int
	// Duration bounds the surge.
	Duration time.Duration
	// Timeout bounds each request; 0 means 30s.
	Timeout time.Duration
	// Header is sent with every request, e.g. the API key of the client
	// the surge plays. Read only.
	Header http.Header
	// AllowRemote permits a target that is not on this machine.
	AllowRemote bool
	// IgnoreRetryAfter makes users retry a 503 or 429 at once, as a
	// hostile or naive client would, instead of waiting the Retry-After
	// it carries.
	IgnoreRetryAfter bool
	// Warmup is how long after the start answers are not recorded: the
	// connection storm of thousands of users dialling at once is not the
	// steady state.
	Warmup time.Duration
	// OnTick, if set, gets the last Tick's numbers each Tick, for a live
	// chart.
	OnTick func(TickStats)
	// Progress, if set, gets a live line each Tick (\r-rewritten).
	Progress io.Writer
	// Tick is the progress and sampling period; 0 means one second.
	Tick time.Duration
	// Dial, if set, makes the users' connections in place of TCP: a test
	// serves the surge over in-memory pipes, on synctest's clock.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Summary is what the users saw.
type Summary struct {
	URL      string
	Users    int
	Elapsed  time.Duration
	Requests int // answered, whatever the status, plus transport errors
	PerSec   float64
	// Latency of every answered request, and of the admitted (2xx) ones.
	All, Admitted Percentiles
	Statuses      map[int]int
	Shed          int            // 503 answers
	Limited       int            // 429 answers
	Errors        map[string]int // transport errors, by kind
	// PeakInFlight and MeanInFlight are sampled each Tick: a closed loop
	// should hold them at Users.
	PeakInFlight int
	MeanInFlight float64
}

// TickStats are one Tick's numbers.
type TickStats struct {
	ElapsedS float64 `json:"elapsed_s"`
	PerSec   float64 `json:"per_sec"`
	P50MS    float64 `json:"p50_ms"`
	P99MS    float64 `json:"p99_ms"`
	InFlight int     `json:"in_flight"`
	Shed     int64   `json:"shed"`
	Errors   int64   `json:"errors"`
	Requests int64   `json:"requests"`
}

// window collects one Tick's latencies, when OnTick wants them.
type window struct {
	mu  sync.Mutex
	lat []time.Duration
}

func (w *window) add(d time.Duration) {
	if w == nil {
		return
	}
	w.mu.Lock()
	w.lat = append(w.lat, d)
	w.mu.Unlock()
}

func (w *window) take() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	l := w.lat
	w.lat = nil
	return l
}

// Percentiles summarises latencies.
type Percentiles struct {
	N                  int
	P50, P90, P99, Max time.Duration
}

// ErrorCount is the number of transport errors.
func (s *Summary) ErrorCount() int {
	n := 0
	for _, c := range s.Errors {
		n += c
	}
	return n
}

// Check validates opt as Run would.
func (o *Options) Check() error {
	u, err := url.Parse(o.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("want an http:// URL, got %q", o.URL)
	}
	if !o.AllowRemote && !loopback(u.Hostname()) {
		return fmt.Errorf("%s is not this machine; a surge targets loopback unless -allow-remote is given", u.Hostname())
	}
	if o.Users < 1 || o.Users > MaxUsers {
		return fmt.Errorf("users must be from 1 to %d, got %d", MaxUsers, o.Users)
	}
	if o.Duration <= 0 || o.Duration > MaxDuration {
		return fmt.Errorf("duration must be above 0 and at most %v, got %v", MaxDuration, o.Duration)
	}
	return nil
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// user is one closed-loop client's own record, merged at the end.
type user struct {
	all, ok  []time.Duration
	statuses map[int]int
	errors   map[string]int
}

func (u *user) record(status int, took time.Duration, err error) {
	if err != nil {
		u.errors[errorKind(err)]++
		return
	}
	u.all = append(u.all, took)
	u.statuses[status]++
	if status >= 200 && status < 300 {
		u.ok = append(u.ok, took)
	}
}

// Run holds the surge and returns its summary. Cancelling ctx ends it early.
func Run(ctx context.Context, opt Options) (*Summary, error) {
	if err := opt.Check(); err != nil {
		return nil, err
	}
	if opt.Timeout <= 0 {
		opt.Timeout = 30 * time.Second
	}
	if opt.Tick <= 0 {
		opt.Tick = time.Second
	}
	dial := opt.Dial
	if dial == nil {
		dial = (&net.Dialer{Timeout: 10 * time.Second}).DialContext
	}
	transport := &http.Transport{
		DialContext:         dial,
		MaxIdleConnsPerHost: opt.Users,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
	}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: opt.Timeout}

	// The surge's end stops users starting requests (stop); a request
	// already sent is waited for and counted, bounded by its timeout, and
	// ends early only when the caller's ctx does.
	stop, cancelStop := context.WithCancelCause(ctx)
	defer cancelStop(nil)
	stopAt := time.AfterFunc(opt.Duration, func() { cancelStop(nil) })
	defer stopAt.Stop()
	var inflight, done, shed, failed atomic.Int64
	var win *window
	if opt.OnTick != nil {
		win = &window{}
	}
	verdict := &verdict{}
	users := make([]user, opt.Users)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range users {
		u := &users[i]
		u.statuses, u.errors = map[int]int{}, map[string]int{}
		wg.Go(func() {
			backoff := time.Duration(0)
			for stop.Err() == nil {
				inflight.Add(1)
				status, took, wait, err := once(ctx, client, opt.URL, opt.Header)
				inflight.Add(-1)
				if ctx.Err() != nil {
					return // the caller ended the surge: not an answer
				}
				if why := verdict.add(status, err); why != nil {
					cancelStop(why)
				}
				if time.Since(start) >= opt.Warmup {
					done.Add(1)
					u.record(status, took, err)
					if err == nil {
						win.add(took)
					}
					if err != nil {
						failed.Add(1)
					} else if status == http.StatusServiceUnavailable {
						shed.Add(1)
					}
				}
				switch {
				case err != nil:
					// A client backs off from a server it cannot reach
					// rather than spin: 50ms, doubling to 1s, jittered.
					backoff = min(max(2*backoff, 50*time.Millisecond), time.Second)
					pause(stop, backoff/2+time.Duration(rand.Int64N(int64(backoff/2)+1)))
				case (status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests) && wait > 0 && !opt.IgnoreRetryAfter:
					// Real clients spread their retries; without jitter every
					// shed user would come back in one wave.
					backoff = 0
					pause(stop, wait+time.Duration(rand.Int64N(int64(wait)/2+1)))
				default:
					backoff = 0
				}
			}
		})
	}
	peak, samples, sum := watch(stop, opt, start, win, &inflight, &done, &shed, &failed)
	wg.Wait()
	elapsed := time.Since(start)
	if opt.Progress != nil {
		fmt.Fprintln(opt.Progress)
	}
	s := merge(users, opt, elapsed-min(opt.Warmup, elapsed))
	s.PeakInFlight = peak
	if samples > 0 {
		s.MeanInFlight = sum / float64(samples)
	}
	var stopped *StoppedError
	if errors.As(context.Cause(stop), &stopped) {
		return s, stopped
	}
	return s, nil
}

// StoppedError is a surge that stopped early because its answers show it
// measures nothing: nothing listens at the URL, or the server refuses
// every request (no route, no key). The Summary returned with it says
// what was seen.
type StoppedError struct {
	Reason string
}

// Error says why the surge stopped.
func (e *StoppedError) Error() string { return "stopped early: " + e.Reason }

// verdict watches the first answers of a surge for signs that it measures
// nothing: of the first sampleSize outcomes, nine in ten refused
// connections, or nine in ten 401, 403 or 404 answers.
type verdict struct {
	mu                       sync.Mutex
	n, refused, unauthorized int
	forbidden, notFound      int
	decided                  bool
}

const sampleSize = 20

func (v *verdict) add(status int, err error) *StoppedError {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.decided {
		return nil
	}
	v.n++
	switch {
	case err != nil && errorKind(err) == "connection refused":
		v.refused++
	case err != nil:
	case status == http.StatusUnauthorized:
		v.unauthorized++
	case status == http.StatusForbidden:
		v.forbidden++
	case status == http.StatusNotFound:
		v.notFound++
	}
	if v.n < sampleSize {
		return nil
	}
	v.decided = true
	most := func(k int) bool { return k*10 >= v.n*9 }
	switch {
	case most(v.refused):
		return &StoppedError{Reason: "nothing listens there (connection refused): start the server, or give -url"}
	case most(v.unauthorized):
		return &StoppedError{Reason: "the server answers 401 Unauthorized: it wants an API key (set HIGHWAY_API_KEY)"}
	case most(v.forbidden):
		return &StoppedError{Reason: "the server answers 403 Forbidden: this key may not use the route"}
	case most(v.notFound):
		return &StoppedError{Reason: "the server answers 404 Not Found: no such route (check the path in -url)"}
	case most(v.unauthorized + v.forbidden + v.notFound):
		return &StoppedError{Reason: "the server refuses nearly every request (401, 403, 404)"}
	}
	return nil
}

// watch samples in-flight requests and prints progress until ctx ends.
func watch(ctx context.Context, opt Options, start time.Time, win *window, inflight, done, shed, failed *atomic.Int64) (peak, samples int, sum float64) {
	t := time.NewTicker(opt.Tick)
	defer t.Stop()
	var last int64
	lastTick := start
	for {
		final := false
		select {
		case <-ctx.Done():
			// The last period, however short, gets its tick too: N ticks
			// for N seconds, the last one the moment the surge ends.
			final = true
		case <-t.C:
		}
		now := time.Now()
		n := int(inflight.Load())
		if !final {
			peak, samples, sum = max(peak, n), samples+1, sum+float64(n)
		}
		if opt.OnTick != nil && (!final || now.Sub(lastTick) > opt.Tick/10) {
			p := percentiles(win.take())
			d := done.Load()
			opt.OnTick(TickStats{ElapsedS: now.Sub(start).Seconds(), PerSec: float64(p.N) / now.Sub(lastTick).Seconds(),
				P50MS: ms(p.P50), P99MS: ms(p.P99), InFlight: n, Shed: shed.Load(), Errors: failed.Load(), Requests: d})
		}
		lastTick = now
		if final {
			return peak, samples, sum
		}
		if opt.Progress != nil {
			d := done.Load()
			fmt.Fprintf(opt.Progress, "\r%5.0fs  users %d  in flight %d  requests %d  %.0f req/s  shed %d  errors %d   ",
				time.Since(start).Seconds(), opt.Users, n, d, float64(d-last)/opt.Tick.Seconds(), shed.Load(), failed.Load())
			last = d
		}
	}
}

// once makes one request: its status, latency, and the Retry-After it
// asked for.
func once(ctx context.Context, client *http.Client, target string, header http.Header) (int, time.Duration, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return 0, 0, 0, err
	}
	if header != nil {
		req.Header = header.Clone() // the transport may add to it
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return 0, 0, 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, time.Since(start), retryAfter(resp.Header.Get("Retry-After")), err
}

// retryAfter is the wait a Retry-After header asks for: seconds, or an
// HTTP date; 0 when it asks for none. It is capped at a minute, so that
// one answer cannot park a user for the whole surge.
func retryAfter(v string) time.Duration {
	var d time.Duration
	if s, err := strconv.Atoi(v); err == nil && s > 0 {
		d = time.Duration(s) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = time.Until(t)
	}
	return min(max(d, 0), time.Minute)
}

// pause waits d unless ctx ends first.
func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// errorKind names a transport error briefly, for counting.
func errorKind(err error) string {
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed"
	}
	return "other"
}

func merge(users []user, opt Options, elapsed time.Duration) *Summary {
	s := &Summary{URL: opt.URL, Users: opt.Users, Elapsed: elapsed, Statuses: map[int]int{}, Errors: map[string]int{}}
	var all, ok []time.Duration
	for i := range users {
		u := &users[i]
		all, ok = append(all, u.all...), append(ok, u.ok...)
		for k, v := range u.statuses {
			s.Statuses[k] += v
		}
		for k, v := range u.errors {
			s.Errors[k] += v
		}
	}
	s.Requests = len(all) + s.ErrorCount()
	s.Shed = s.Statuses[http.StatusServiceUnavailable]
	s.Limited = s.Statuses[http.StatusTooManyRequests]
	s.PerSec = float64(s.Requests) / elapsed.Seconds()
	s.All, s.Admitted = percentiles(all), percentiles(ok)
	return s
}

func percentiles(d []time.Duration) Percentiles {
	if len(d) == 0 {
		return Percentiles{}
	}
	slices.Sort(d)
	at := func(p float64) time.Duration { return d[min(int(float64(len(d))*p), len(d)-1)] }
	return Percentiles{N: len(d), P50: at(0.50), P90: at(0.90), P99: at(0.99), Max: d[len(d)-1]}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
