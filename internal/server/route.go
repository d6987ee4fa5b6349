package server

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/citypopy/highway/fanout"
	"github.com/citypopy/highway/internal/config"
	"github.com/citypopy/highway/internal/metrics"
	"github.com/citypopy/highway/internal/report"
	"github.com/citypopy/highway/internal/upstream"
	"github.com/citypopy/highway/source"
)

// route is one configured path and the tasks it fans out to.
type route struct {
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
	ups          []*upstream.Upstream // by task
	fetchers     []source.Source      // by task: its upstream's stack, or a failover over it; nil for a planned mock
	failovers    [][]string           // by task: the sources it may fail over to
	shared       *pass                // when every task is a bare mock: the pass of every request
	metrics      *metrics.Route
	sources      []*metrics.Source // by task
}

// request is what a request asks of its route.
type request struct {
	options fanout.Options
	mode    string
	stream  bool
	params  map[string]string
	body    []byte
}

func newRoute(rc *config.Route, cfg *config.Config, sources map[string]*upstream.Upstream) *route {
	rt := &route{
		path:         rc.Path,
		method:       rc.Method,
		options:      fanout.Options{Timeout: rc.Timeout.Std(), Lanes: rc.Lanes},
		heartbeat:    cfg.Heartbeat.Std(),
		writeTimeout: cfg.Server.WriteTimeout.Std(),
		bodyTimeout:  cfg.Server.BodyTimeout.Std(),
		params:       rc.Params,
		maxBody:      rc.MaxBody,
		shape:        report.Route{Path: rc.Path},
	}
	for _, name := range rc.Sources {
		sc := cfg.Sources[name]
		up := sources[name]
		var src fanout.Source[json.RawMessage] // bound to each request's call by newPass
		fetch := upstream.FailoverOf(name, sc, up, sources)
		if up.Planned != nil && fetch == nil {
			src = up.Planned
		} else if fetch == nil {
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
	return rt
}

var buffers = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// prepare reads what the request asks of the route: its method, its query
// and, for a POST, its whole body, which the client must send within the
// body timeout. It runs before the request takes an admission place, so
// that a slow sender holds none.
func (rt *route) prepare(w http.ResponseWriter, r *http.Request) (request, error) {
	if r.Method != rt.method {
		return request{}, &requestError{status: http.StatusMethodNotAllowed, allow: rt.method,
			msg: "method " + r.Method + " not allowed on " + rt.path + "; use " + rt.method}
	}
	req, err := rt.parse(r.URL.RawQuery)
	if err == nil && r.Method == http.MethodPost {
		req.body, err = rt.readBody(w, r)
	}
	return req, err
}

// serve answers a prepared request and returns its pass and report.
func (rt *route) serve(w http.ResponseWriter, r *http.Request, req request) (*pass, *fanout.Report[json.RawMessage]) {
	p := rt.newPass(req.params, req.body)
	if req.stream || strings.Contains(r.Header.Get("Accept"), "text/event-stream") {
		return p, rt.stream(w, r, req, p)
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
	return p, rep
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

// parse reads the query: mode=sequential|concurrent, lanes=N and
// stream=1. Any other parameter is refused, so that a typo is not silently
// ignored.
func (rt *route) parse(raw string) (request, error) {
	req, err := rt.parseQuery(raw)
	if err == nil && req.options.Lanes == 1 && len(rt.tasks) > 1 {
		req.mode = report.ModeSequential
	}
	return req, err
}

func (rt *route) parseQuery(raw string) (request, error) {
	req := request{options: rt.options, mode: report.ModeConcurrent}
	if len(rt.params) > 0 {
		req.params = make(map[string]string, len(rt.params))
	}
	if raw == "" {
		return req, rt.fillParams(req.params)
	}
	opt, mode := &req.options, &req.mode
	q, err := url.ParseQuery(raw)
	if err != nil {
		return req, badRequest("malformed query string: " + err.Error())
	}
	for k, v := range q {
		if len(v) > 1 {
			return req, badRequest("query parameter " + strconv.Quote(k) + " given more than once")
		}
		switch k {
		case "mode":
			switch v[0] {
			case report.ModeSequential:
				opt.Lanes = 1
				*mode = report.ModeSequential
			case report.ModeConcurrent:
			default:
				return req, badRequest("unknown mode " + strconv.Quote(v[0]) + "; use sequential or concurrent")
			}
		case "stream":
			switch v[0] {
			case "1", "true":
				req.stream = true
			case "0", "false":
			default:
				return req, badRequest("stream must be 1 or 0, got " + strconv.Quote(v[0]))
			}
		case "lanes":
		default:
			prm := rt.params[k]
			if prm == nil {
				return req, badRequest("unknown query parameter " + strconv.Quote(k) + "; this route takes " + rt.takes())
			}
			if err := config.CheckParam(prm, v[0]); err != nil {
				return req, badRequest("parameter " + k + ": " + err.Error())
			}
			req.params[k] = v[0]
		}
	}
	if err := rt.fillParams(req.params); err != nil {
		return req, err
	}
	if v, ok := q["lanes"]; ok {
		n, err := strconv.Atoi(v[0])
		if err != nil || n < 1 {
			return req, badRequest("lanes must be a positive integer, got " + strconv.Quote(v[0]))
		}
		if *mode == report.ModeSequential && n != 1 {
			return req, badRequest("mode=sequential is one lane; it cannot have lanes=" + v[0])
		}
		opt.Lanes = n
	}
	return req, nil
}

// fillParams applies defaults and refuses missing required parameters.
func (rt *route) fillParams(got map[string]string) error {
	for name, prm := range rt.params {
		if _, ok := got[name]; ok {
			continue
		}
		if prm.Default == nil {
			return badRequest("missing parameter " + name + "; this route takes " + rt.takes())
		}
		got[name] = *prm.Default
	}
	return nil
}

// takes lists the query parameters the route takes, for messages.
func (rt *route) takes() string {
	names := []string{"mode", "lanes", "stream"}
	for name := range rt.params {
		names = append(names, name)
	}
	sort.Strings(names[3:])
	return strings.Join(names, ", ")
}

// readBody reads a POST route's JSON body: 413 past the route's limit, 400
// when it is not JSON. An empty body is none.
func (rt *route) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if rt.bodyTimeout > 0 {
		// net/http clears the read deadline once the body has been read to
		// its end, when it starts watching for the client going away.
		http.NewResponseController(w).SetReadDeadline(time.Now().Add(rt.bodyTimeout))
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, rt.maxBody))
	var tooLarge *http.MaxBytesError
	var netErr net.Error
	switch {
	case errors.As(err, &tooLarge):
		return nil, &requestError{status: http.StatusRequestEntityTooLarge,
			msg: "request body larger than " + strconv.FormatInt(rt.maxBody, 10) + " bytes"}
	case errors.As(err, &netErr) && netErr.Timeout():
		return nil, &requestError{status: http.StatusRequestTimeout,
			msg: "the request body did not arrive within " + rt.bodyTimeout.String() + " (server.body_timeout)"}
	case err != nil:
		return nil, badRequest("reading the request body: " + err.Error())
	case len(b) == 0:
		return nil, nil
	case !json.Valid(b):
		return nil, badRequest("the request body is not JSON")
	}
	return b, nil
}
