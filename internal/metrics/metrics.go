// Package metrics is Highway's Prometheus instrumentation, on a registry
// of its own. Every label value comes from the configuration (route paths,
// source names) or from a fixed set (status codes, outcomes), never from
// request data, so the series stay bounded whatever clients send.
package metrics

import (
	"maps"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/citypopy/highway/internal/report"
	"github.com/citypopy/highway/policy"
)

// Outcomes of a source call, as the outcome label names them: ok, shed,
// or the reason the report gives a failed source, spelt the same, so that
// a report, a log line and a metric never say one thing two ways.
const (
	OutcomeOK   = "ok"
	OutcomeShed = "shed" // the source's concurrency limit stayed full until the call gave up
)

// Outcome is a source result's outcome in metrics, logs and spans, from
// its report reason: ok, shed, or the reason word for word.
func Outcome(reason string, marks policy.Mark) string {
	switch {
	case reason == "":
		return OutcomeOK
	case marks.Has(policy.Shed):
		return OutcomeShed
	}
	return reason
}

// Outcomes lists every outcome, for the instruments to resolve up front.
var outcomes = []string{OutcomeOK, OutcomeShed, report.ReasonFailed, report.ReasonTimeout, report.ReasonDeadline,
	report.ReasonNotStarted, report.ReasonCanceled, report.ReasonPanic, report.ReasonBreaker, report.ReasonNeed}

// Metrics holds Highway's instruments. Make it with New. One Metrics
// outlives the servers a reload replaces: counters and histograms go on
// from where they were, and what only the server in service knows (in
// flight, queued, breaker states) is read through the Live it last set.
type Metrics struct {
	registry       *prometheus.Registry
	requests       *prometheus.CounterVec
	duration       *prometheus.HistogramVec
	sourceDuration *prometheus.HistogramVec
	hedges         *prometheus.CounterVec
	retries        *prometheus.CounterVec
	coalesced      *prometheus.CounterVec
	cacheHits      *prometheus.CounterVec
	shed           prometheus.Counter
	refused        *prometheus.CounterVec
	live           atomic.Pointer[Live]
	reg            prometheus.Registerer // registry, labelled with the instance
	redis          redis
	llm            llm
	door           door
}

// Live is what only the server in service can say, read when scraped.
// Its zero value reports zeros and no breakers.
type Live struct {
	InFlight, Queued func() float64
	// Breakers reads each source's breaker state by source name:
	// "closed", "half-open" or "open".
	Breakers map[string]func() string
}

// SetLive makes l the server in service's view, replacing the last one.
func (m *Metrics) SetLive(l *Live) { m.live.Store(l) }

// read calls f of the Live in service, or answers 0.
func (m *Metrics) read(f func(*Live) func() float64) func() float64 {
	return func() float64 {
		if l := m.live.Load(); l != nil && f(l) != nil {
			return f(l)()
		}
		return 0
	}
}

// Buckets for request and call durations, in seconds: AI calls run from
// milliseconds to a minute.
var buckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

// New makes the instruments, with Go and process collectors, on their own
// registry.
func New() *Metrics { return NewFor("") }

// NewFor is New for the replica named instance: every series carries the
// label instance="NAME" (a Prometheus scrape keeps it as exported_instance
// unless honor_labels is set). An empty name adds no label.
func NewFor(instance string) *Metrics {
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
		shed: prometheus.NewCounter(prometheus.CounterOpts{Name: "highway_requests_shed_total",
			Help: "Requests shed with 503 by admission control."}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "highway_client_refused_total",
			Help: "Requests refused by client and reason: unauthorized (no valid key) or rate_limited."}, []string{"client", "reason"}),
	}
	var reg prometheus.Registerer = m.registry
	if instance != "" {
		reg = prometheus.WrapRegistererWith(prometheus.Labels{"instance": instance}, reg)
	}
	m.reg = reg
	reg.MustRegister(m.requests, m.duration, m.sourceDuration, m.hedges, m.retries, m.coalesced, m.cacheHits,
		m.shed, m.refused, breakerStates{m},
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "highway_requests_in_flight", Help: "Requests admitted and being served."},
			m.read(func(l *Live) func() float64 { return l.InFlight })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "highway_admission_queue_length", Help: "Requests waiting for a place."},
			m.read(func(l *Live) func() float64 { return l.Queued })),
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
	for _, o := range outcomes {
		s.outcomes[o] = m.sourceDuration.WithLabelValues(name, o)
	}
	return s
}

// Observe records one call of the source in a route's gather.
func (s *Source) Observe(outcome string, d time.Duration, attempts int, marks policy.Mark) {
	s.outcomes[outcome].Observe(d.Seconds())
	if attempts == 1 && marks == 0 {
		return // the common case: nothing more to count
	}
	s.m.policyEvents(s.name, attempts, marks)
}

// policyEvents counts what the policies did in one source call: hedges,
// retries, coalescing and cache hits.
func (m *Metrics) policyEvents(name string, attempts int, marks policy.Mark) {
	extra := attempts - 1
	if marks.Has(policy.Hedged) {
		m.hedges.WithLabelValues(name, "sent").Inc()
		extra--
	}
	if marks.Has(policy.HedgeWon) {
		m.hedges.WithLabelValues(name, "won").Inc()
	}
	if marks.Has(policy.HedgeAbandoned) {
		m.hedges.WithLabelValues(name, "abandoned").Inc()
	}
	if extra > 0 {
		m.retries.WithLabelValues(name).Add(float64(extra))
	}
	if marks.Has(policy.Coalesced) {
		m.coalesced.WithLabelValues(name).Inc()
	}
	if marks.Has(policy.CacheHit) {
		m.cacheHits.WithLabelValues(name).Inc()
	}
}

// Shed is the count of requests shed by admission control.
func (m *Metrics) Shed() prometheus.Counter { return m.shed }

// Refused is the count of a client's requests refused for reason
// (rate_limited), or of requests with no valid key when client is "(none)"
// (unauthorized).
func (m *Metrics) Refused(client, reason string) prometheus.Counter {
	return m.refused.WithLabelValues(client, reason)
}

// breakerStates reports the Live breakers: 0 closed, 1 half-open, 2 open.
type breakerStates struct{ m *Metrics }

var breakerDesc = prometheus.NewDesc("highway_breaker_state",
	"Circuit breaker state by source: 0 closed, 1 half-open, 2 open.", []string{"source"}, nil)

var breakerValue = map[string]float64{"closed": 0, "half-open": 1, "open": 2}

// Describe sends the one metric family it reports.
func (b breakerStates) Describe(ch chan<- *prometheus.Desc) { ch <- breakerDesc }

// Collect sends each breaker's state, in source order.
func (b breakerStates) Collect(ch chan<- prometheus.Metric) {
	l := b.m.live.Load()
	if l == nil {
		return
	}
	for _, name := range slices.Sorted(maps.Keys(l.Breakers)) {
		ch <- prometheus.MustNewConstMetric(breakerDesc, prometheus.GaugeValue, breakerValue[l.Breakers[name]()], name)
	}
}
