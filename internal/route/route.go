// Package route answers one configured route: each request fans out to
// the route's sources at once and is answered with one JSON report of
// every source's result and timing, or as Server-Sent Events as each
// source starts, streams and lands.
package route

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/citypopy/highway/fanout"
	"github.com/citypopy/highway/internal/config"
	"github.com/citypopy/highway/internal/metrics"
	"github.com/citypopy/highway/internal/reply"
	"github.com/citypopy/highway/internal/report"
	"github.com/citypopy/highway/internal/upstream"
	"github.com/citypopy/highway/source"
)

// Route is one configured path and the tasks it fans out to. It is safe
// for concurrent use, and read only once New has returned it.
type Route struct {
	path         string
	method       string
	tasks        []fanout.Task[json.RawMessage]
	shape        report.Route // path, optional sources and needs, for the report
	options      fanout.Options
	heartbeat    time.Duration // between comments on a quiet stream
	writeTimeout time.Duration // for the client to take one write
	bodyTimeout  time.Duration // for the client to send a POST's body
	params       map[string]*config.Param
	maxBody      int64
	ups          []*upstream.Upstream          // by task
	fetchers     []source.Source               // by task: its upstream's stack, or a failover over it; nil for a planned mock
	failovers    [][]string                    // by task: the sources it may fail over to
	shared       *pass                         // when every task is a bare mock: the pass of every request
	all          map[string]*upstream.Upstream // every source of the config, by name: where a failover spent
	metrics      *metrics.Route                // nil: not recorded
	sources      []*metrics.Source             // by task; nil with metrics
	spend        *metrics.Metrics
}

// Request is what one request asks of its route. Get one from Prepare
// or Parse: the zero value lacks the route's defaults (its lanes, its
// parameters' values).
type Request struct {
	options fanout.Options
	mode    string
	stream  bool
	params  map[string]string
	body    []byte
}

// New builds the route rc of cfg on the upstreams of cfg's sources, which
// every route of cfg shares. With m, each request is recorded in m by
// Record; with nil, Record records nothing.
func New(rc *config.Route, cfg *config.Config, sources map[string]*upstream.Upstream, m *metrics.Metrics) *Route {
	rt := &Route{
		path:         rc.Path,
		method:       rc.Method,
		options:      fanout.Options{Timeout: rc.Timeout.Std(), Lanes: rc.Lanes},
		heartbeat:    cfg.Heartbeat.Std(),
		writeTimeout: cfg.Server.WriteTimeout.Std(),
		bodyTimeout:  cfg.Server.BodyTimeout.Std(),
		params:       rc.Params,
		maxBody:      rc.MaxBody,
		shape:        report.Route{Path: rc.Path},
		all:          sources,
	}
	for _, name := range rc.Sources {
		sc := cfg.Sources[name]
		up := sources[name]
		var src fanout.Source[json.RawMessage] // bound to each request's call by newPass
		var fetch source.Source
		failover := upstream.FailoverOf(name, sc, up, sources)
		switch {
		case failover != nil:
			fetch = failover
		case up.Planned != nil:
			src = up.Planned
		default:
			fetch = up.Fetch
		}
		t := fanout.Task[json.RawMessage]{
			Name:    name,
			Source:  src,
			Timeout: sc.Timeout.Std(),
			Needs:   sc.Needs,
		}
		if len(sc.Fallback) > 0 {
			t.Fallbacks = sc.Fallback
		}
		rt.tasks = append(rt.tasks, t)
		rt.ups = append(rt.ups, up)
		rt.fetchers = append(rt.fetchers, fetch)
		rt.failovers = append(rt.failovers, sc.Failover)
		rt.shape.Optional = append(rt.shape.Optional, rc.IsOptional(name))
		rt.shape.Needs = append(rt.shape.Needs, sc.Needs)
		isLLM, price := priceOf(sc)
		for _, alt := range sc.Failover {
			altLLM, altPrice := priceOf(cfg.Sources[alt])
			isLLM = isLLM || altLLM
			if altPrice != nil {
				if rt.shape.Failovers == nil {
					rt.shape.Failovers = map[string]*report.Price{}
				}
				rt.shape.Failovers[alt] = altPrice
			}
		}
		rt.shape.LLM = append(rt.shape.LLM, isLLM)
		rt.shape.Prices = append(rt.shape.Prices, price)
	}
	if !slices.ContainsFunc(rt.fetchers, func(f source.Source) bool { return f != nil }) {
		rt.shared = &pass{tasks: rt.tasks}
	}
	if m != nil { // label lookups per request cost: resolved once
		rt.metrics, rt.spend = m.Route(rt.path), m
		for _, t := range rt.tasks {
			rt.sources = append(rt.sources, m.Source(t.Name))
		}
	}
	return rt
}

// Path is the route's path.
func (rt *Route) Path() string { return rt.path }

// Method is the one HTTP method the route answers.
func (rt *Route) Method() string { return rt.method }

var buffers = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// Prepare reads what r asks of the route: its method, its query and, for
// a POST, its whole body, which the client must send within the body
// timeout. A request the route will not serve is a *reply.Error. It is
// meant to run before the request takes an admission place, so that a
// slow sender holds none.
func (rt *Route) Prepare(w http.ResponseWriter, r *http.Request) (Request, error) {
	if r.Method != rt.method {
		return Request{}, &reply.Error{Status: http.StatusMethodNotAllowed, Allow: rt.method,
			Msg: "method " + r.Method + " not allowed on " + rt.path + "; use " + rt.method}
	}
	req, err := rt.Parse(r.URL.RawQuery)
	if err == nil && r.Method == http.MethodPost {
		req.body, err = rt.readBody(w, r)
	}
	return req, err
}

// Serve answers a prepared request: its report as JSON, or as an event
// stream when the request asked for one (stream=1, or Accept:
// text/event-stream). It returns once nothing more will be written.
func (rt *Route) Serve(w http.ResponseWriter, r *http.Request, req Request) Outcome {
	p := rt.newPass(req.params, req.body)
	if req.stream || strings.Contains(r.Header.Get("Accept"), "text/event-stream") {
		return Outcome{p: p, rep: rt.stream(w, r, req, p)}
	}
	rep := fanout.Gather(r.Context(), p.tasks, req.options)
	bp := buffers.Get().(*[]byte)
	b := report.Append((*bp)[:0], &rt.shape, req.mode, rep, p.traces, p.usageOf)
	h := w.Header()
	h["Content-Type"] = jsonContentType
	w.WriteHeader(reportStatus(rep, rt.shape.Optional))
	w.Write(b)
	*bp = b
	buffers.Put(bp)
	return Outcome{p: p, rep: rep}
}

var jsonContentType = []string{"application/json"}

// priceOf says whether sc is an LLM source, and its price if it has one.
func priceOf(sc *config.Source) (llm bool, price *report.Price) {
	l, ok := sc.Spec.(*config.LLM)
	if !ok {
		return false, nil
	}
	if l.Price != nil {
		price = &report.Price{InputPerMTok: l.Price.InputPerMTok, OutputPerMTok: l.Price.OutputPerMTok}
	}
	return true, price
}
