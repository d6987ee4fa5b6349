package server

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

// admission bounds the requests worked on at once. A request takes a free
// place at once if there is one; else it may wait in a short queue for a
// bounded time; else it is shed at the door with 503, costing almost
// nothing, so that the requests admitted keep their normal latency instead
// of every request slowing down until memory runs out.
type admission struct {
	places     chan struct{}
	maxQueue   int64
	wait       time.Duration
	retryAfter string // seconds
	shedBody   []byte // encoded once: a shed must cost almost nothing

	queued atomic.Int64
	shed   prometheus.Counter
}

func newAdmission(c config.Admission, shed prometheus.Counter) *admission {
	secs := max(1, int((c.RetryAfter.Std()+time.Second-1)/time.Second))
	msg := "over capacity: " + strconv.Itoa(c.MaxInflight) + " requests in flight and " +
		strconv.Itoa(c.Queue) + " queued; retry after " + strconv.Itoa(secs) + "s"
	body, _ := json.Marshal(map[string]string{"error": msg})
	return &admission{
		places:     make(chan struct{}, c.MaxInflight),
		maxQueue:   int64(c.Queue),
		wait:       c.QueueTimeout.Std(),
		retryAfter: strconv.Itoa(secs),
		shedBody:   append(body, '\n'),
		shed:       shed,
	}
}

// admit takes a place, waiting in the queue if allowed; it reports false
// when the request must be shed. A true answer must be followed by release.
func (a *admission) admit(ctx context.Context) bool {
	select {
	case a.places <- struct{}{}:
		return true
	default:
	}
	if a.wait <= 0 || a.queued.Add(1) > a.maxQueue {
		if a.wait > 0 {
			a.queued.Add(-1)
		}
		a.shed.Inc()
		return false
	}
	defer a.queued.Add(-1)
	t := time.NewTimer(a.wait)
	defer t.Stop()
	select {
	case a.places <- struct{}{}:
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	a.shed.Inc()
	return false
}

func (a *admission) release() { <-a.places }

// inflight is how many requests hold a place now.
func (a *admission) inflight() int { return len(a.places) }

// shedHeaders are set on every shed answer.
var shedHeaders = []string{"application/json"}

// refuse answers a shed request: 503, Retry-After and a JSON error, all
// prepared in advance.
func (a *admission) refuse(w http.ResponseWriter) {
	h := w.Header()
	h["Content-Type"] = shedHeaders
	h["Retry-After"] = []string{a.retryAfter}
	w.WriteHeader(http.StatusServiceUnavailable)
	w.Write(a.shedBody)
}
