// Package metrics is Highway's Prometheus instrumentation, on a registry
// of its own. Every label value comes from the configuration (route paths,
// source names) or from a fixed set (status codes, outcomes), never from
// request data, so the series stay bounded whatever clients send.
package metrics

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/citypopy/highway/fanout"
)

// Outcomes of a source call, as the outcome label names them.
const (
	OutcomeOK          = "ok"
	OutcomeError       = "error"
	OutcomeTimeout     = "timeout"
	OutcomeCancelled   = "cancelled"
	OutcomeBreakerOpen = "breaker_open"
	OutcomeSkipped     = "skipped" // a need failed: not called
	OutcomeShed        = "shed"    // the source's concurrency limit stayed full
)

// Metrics holds Highway's instruments. Make it with New.
type Metrics struct {
	registry       *prometheus.Registry
	requests       *prometheus.CounterVec
	duration       *prometheus.HistogramVec
	sourceDuration *prometheus.HistogramVec
	hedges         *prometheus.CounterVec
	retries        *prometheus.CounterVec
	coalesced      *prometheus.CounterVec
	cacheHits      *prometheus.CounterVec
}

// Buckets for request and call durations, in seconds: AI calls run from
// milliseconds to a minute.
var buckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

// New makes the instruments, with Go and process collectors, on their own
// registry.
func New() *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "highway_requests_total",
			Help: "Requests answered, by route and status code."}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "highway_request_duration_seconds",
			Help: "Time to answer a request, by route.", Buckets: buckets}, []string{"route"}),
		sourceDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "highway_source_call_duration_seconds",
			Help: "Duration of each source call as a route saw it, by source and outcome.", Buckets: buckets}, []string{"source", "outcome"}),
		hedges: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "highway_hedges_total",
			Help: "Hedged attempts, by source and whether the hedge was sent or won."}, []string{"source", "result"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "highway_source_retries_total",
			Help: "Attempts beyond the first, hedges aside, by source."}, []string{"source"}),
		coalesced: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "highway_source_coalesced_total",
			Help: "Answers shared from an identical call in flight, by source."}, []string{"source"}),
		cacheHits: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "highway_source_cache_hits_total",
			Help: "Answers served from the cache, by source."}, []string{"source"}),
	}
	m.registry.MustRegister(m.requests, m.duration, m.sourceDuration, m.hedges, m.retries, m.coalesced, m.cacheHits,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the registry in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// Route is a route's instruments, resolved once: looking label values up
// on every request costs a hash per series.
type Route struct {
	duration prometheus.Observer
	codes    sync.Map // status code -> prometheus.Counter
	path     string
	m        *Metrics
}

// Route returns the instruments of the route at path.
func (m *Metrics) Route(path string) *Route {
	return &Route{duration: m.duration.WithLabelValues(path), path: path, m: m}
}

// Observe records one answered request.
func (r *Route) Observe(code int, d time.Duration) {
	c, ok := r.codes.Load(code)
	if !ok {
		c, _ = r.codes.LoadOrStore(code, r.m.requests.WithLabelValues(r.path, strconv.Itoa(code)))
	}
	c.(prometheus.Counter).Inc()
	r.duration.Observe(d.Seconds())
}

// ObserveRequest records one answered request of a route without
// resolved instruments.
func (m *Metrics) ObserveRequest(route string, code int, d time.Duration) {
	m.requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
	m.duration.WithLabelValues(route).Observe(d.Seconds())
}

// Source is a source's call-duration instruments, by outcome, resolved
// once.
type Source struct {
	name     string
	outcomes map[string]prometheus.Observer
	m        *Metrics
}

// Source returns the instruments of the named source.
func (m *Metrics) Source(name string) *Source {
	s := &Source{name: name, m: m, outcomes: map[string]prometheus.Observer{}}
	for _, o := range []string{OutcomeOK, OutcomeError, OutcomeTimeout, OutcomeCancelled, OutcomeBreakerOpen, OutcomeSkipped, OutcomeShed} {
		s.outcomes[o] = m.sourceDuration.WithLabelValues(name, o)
	}
	return s
}

// Observe records one call of the source in a route's gather.
func (s *Source) Observe(outcome string, d time.Duration, attempts int, marks fanout.Mark) {
	s.outcomes[outcome].Observe(d.Seconds())
	if attempts == 1 && marks == 0 {
		return // the common case: nothing more to count
	}
	s.m.ObserveSource(s.name, "", d, attempts, marks)
}

// ObserveSource records what the policies did in one source call, and its
// duration unless outcome is "".
func (m *Metrics) ObserveSource(name, outcome string, d time.Duration, attempts int, marks fanout.Mark) {
	if outcome != "" {
		m.sourceDuration.WithLabelValues(name, outcome).Observe(d.Seconds())
	}
	extra := attempts - 1
	if marks.Has(fanout.Hedged) {
		m.hedges.WithLabelValues(name, "sent").Inc()
		extra--
	}
	if marks.Has(fanout.HedgeWon) {
		m.hedges.WithLabelValues(name, "won").Inc()
	}
	if extra > 0 {
		m.retries.WithLabelValues(name).Add(float64(extra))
	}
	if marks.Has(fanout.Coalesced) {
		m.coalesced.WithLabelValues(name).Inc()
	}
	if marks.Has(fanout.CacheHit) {
		m.cacheHits.WithLabelValues(name).Inc()
	}
}

// Gauge registers a gauge read from fn when scraped: in-flight requests,
// queue length.
func (m *Metrics) Gauge(name, help string, fn func() float64) {
	m.registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, fn))
}

// Counter registers a counter read from fn when scraped: sheds.
func (m *Metrics) Counter(name, help string, fn func() float64) {
	m.registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, fn))
}

// BreakerState registers the state of a source's breaker: 0 closed,
// 1 half-open, 2 open.
func (m *Metrics) BreakerState(source string, state func() string) {
	m.registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "highway_breaker_state", Help: "Circuit breaker state by source: 0 closed, 1 half-open, 2 open.",
		ConstLabels: prometheus.Labels{"source": source}},
		func() float64 {
			return map[string]float64{"closed": 0, "half-open": 1, "open": 2}[state()]
		}))
}

// ClientRefused registers the count of a client's requests refused for
// reason (rate_limited), or of requests with no valid key when client is
// "(none)" (unauthorized).
func (m *Metrics) ClientRefused(client, reason string, fn func() float64) {
	m.registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "highway_client_refused_total", Help: "Requests refused by client and reason: unauthorized (no valid key) or rate_limited.",
		ConstLabels: prometheus.Labels{"client": client, "reason": reason}}, fn))
}
