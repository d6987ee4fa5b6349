// Package admission bounds the requests a server works on at once: a
// request takes a free place, or waits in a short queue for a bounded
// time, or is shed at the door with a 503 that costs almost nothing.
package admission

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/citypopy/highway/internal/config"
)

// Gate bounds the requests worked on at once. A request takes a free
// place at once if there is one; else it may wait in a short queue for a
// bounded time; else it is shed at the door with 503, costing almost
// nothing, so that the requests admitted keep their normal latency instead
// of every request slowing down until memory runs out.
//
// The places taken and the queue are counted in a ledger that outlives
// reloads: requests in flight on the config a reload replaced count
// against the new one's limit, whatever it is.
type Gate struct {
	*Ledger
	maxInflight int64
	maxQueue    int64
	wait        time.Duration
	retryAfter  string // seconds
	shedBody    []byte // encoded once: a shed must cost almost nothing

	shed prometheus.Counter
	// queueing, when set (by a test), runs between a failed first take
	// and joining the queue: where a release used to be lost.
	queueing func()
}

// Ledger is the places taken and the requests queued, across reloads:
// every Gate built on one counts against the same places. Make one with
// NewLedger.
type Ledger struct {
	taken  atomic.Int64
	queued atomic.Int64
	// freed gets a token when a place is given back while requests wait,
	// so that one of them tries again; a spare token only costs a try.
	freed chan struct{}
}

// NewLedger is an empty ledger: nothing taken, nobody waiting.
func NewLedger() *Ledger { return &Ledger{freed: make(chan struct{}, 1024)} }

// take takes a place if fewer than max are taken.
func (l *Ledger) take(max int64) bool {
	for {
		n := l.taken.Load()
		if n >= max {
			return false
		}
		if l.taken.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// New is the gate c configures, keeping its places in l (shared with
// the gate it replaces on a reload) and counting each request it sheds
// in shed.
func New(c config.Admission, shed prometheus.Counter, l *Ledger) *Gate {
	secs := max(1, int((c.RetryAfter.Std()+time.Second-1)/time.Second))
	msg := "over capacity: " + strconv.Itoa(c.MaxInflight) + " requests in flight and " +
		strconv.Itoa(c.Queue) + " queued; retry after " + strconv.Itoa(secs) + "s"
	body, _ := json.Marshal(map[string]string{"error": msg})
	return &Gate{
		Ledger:      l,
		maxInflight: int64(c.MaxInflight),
		maxQueue:    int64(c.Queue),
		wait:        c.QueueTimeout.Std(),
		retryAfter:  strconv.Itoa(secs),
		shedBody:    append(body, '\n'),
		shed:        shed,
	}
}

// Admit takes a place, waiting in the queue if allowed; it reports false
// when the request must be shed. A true answer must be followed by Release.
func (a *Gate) Admit(ctx context.Context) bool {
	if a.take(a.maxInflight) {
		return true
	}
	if a.queueing != nil {
		a.queueing()
	}
	if a.wait <= 0 || a.queued.Add(1) > a.maxQueue {
		if a.wait > 0 {
			a.queued.Add(-1)
		}
		a.shed.Inc()
		return false
	}
	defer a.queued.Add(-1)
	// A place given back between the first take and joining the queue
	// sent no token (nobody was queued): take again now that release
	// will see us, or that place is lost to us until the queue times out.
	if a.take(a.maxInflight) {
		return true
	}
	t := time.NewTimer(a.wait)
	defer t.Stop()
	for {
		select {
		case <-a.freed:
			if a.take(a.maxInflight) {
				return true
			}
		case <-t.C:
			a.shed.Inc()
			return false
		case <-ctx.Done():
			a.shed.Inc()
			return false
		}
	}
}

// Release gives a place back, and tells a queued request.
func (a *Gate) Release() {
	a.taken.Add(-1)
	if a.queued.Load() > 0 {
		select {
		case a.freed <- struct{}{}:
		default: // enough tokens wait already
		}
	}
}

// InFlight is how many requests hold a place now, on any config.
func (a *Gate) InFlight() int { return int(a.taken.Load()) }

// Queued is how many requests wait for a place now.
func (a *Gate) Queued() int { return int(a.queued.Load()) }

// shedHeaders are set on every shed answer.
var shedHeaders = []string{"application/json"}

// Refuse answers a shed request: 503, Retry-After and a JSON error, all
// prepared in advance.
func (a *Gate) Refuse(w http.ResponseWriter) {
	h := w.Header()
	h["Content-Type"] = shedHeaders
	h["Retry-After"] = []string{a.retryAfter}
	w.WriteHeader(http.StatusServiceUnavailable)
	w.Write(a.shedBody)
}
