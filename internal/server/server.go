// Package server is Highway's HTTP handler for one configuration: it
// sends each request to its route, the dashboard or an operational
// endpoint, admits it (client keys and budgets, the admission limit) and
// records it, with the state that outlives the configuration kept in a
// Registry.
package server

import (
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/citypopy/highway/internal/admission"
	"github.com/citypopy/highway/internal/clients"
	"github.com/citypopy/highway/internal/config"
	"github.com/citypopy/highway/internal/dashboard"
	"github.com/citypopy/highway/internal/door"
	"github.com/citypopy/highway/internal/metrics"
	"github.com/citypopy/highway/internal/reply"
	"github.com/citypopy/highway/internal/route"
	"github.com/citypopy/highway/internal/shared"
	"github.com/citypopy/highway/internal/upstream"
)

// Options are what a Server takes besides its config. The zero value
// logs nothing, traces nothing and serves the operational endpoints with
// the routes.
type Options struct {
	// Logger gets one line per request; nil logs nothing.
	Logger *slog.Logger
	// TracerProvider makes a span per request, per source and per
	// upstream attempt, and trace context goes to HTTP upstreams; nil
	// traces nothing, at no cost.
	TracerProvider trace.TracerProvider
	// Admin moves /metrics and /readyz off ServeHTTP onto ServeAdmin,
	// for an operator-only listener. /healthz stays on both.
	Admin bool
	// Metrics records what the server does; nil means a Metrics of the
	// server's own. Pass one Metrics to every server that replaces the
	// last on a reload, so that its counters go on from where they were.
	Metrics *metrics.Metrics
	// Instance names this replica in a response header
	// (X-Highway-Instance); empty sends none. The Logger and Metrics
	// say it too, as the caller made them.
	Instance string
	// Registry holds the state that outlives a config; pass the process's
	// one to every server that replaces the last on a reload. The servers
	// built on it share its admission ledger (the requests in flight of a
	// server being replaced count against the new one's limit); each
	// source configured exactly as before keeps its state (breaker, cache,
	// calls being coalesced, observed latencies, health), and each client
	// key with the same name, key, rate and burst its limiters, so a
	// reload neither closes an open breaker nor hands out fresh bursts;
	// the Redis connection is kept while the redis section is unchanged.
	// nil means a Registry of the server's own, closed with it.
	Registry *Registry
}

// Server is the HTTP handler for one configuration. It is safe for
// concurrent use; build a new one to serve a new configuration.
type Server struct {
	dash         *dashboard.Dashboard
	metrics      *metrics.Metrics
	unmatched    *metrics.Route // requests for no route
	logger       *slog.Logger
	tracing      *tracing
	admin        bool
	writeTimeout time.Duration
	bodyTimeout  time.Duration // for a front door request's body
	maxBody      int64
	door         *door.Door // nil: no models
	draining     atomic.Bool
	quiescing    atomic.Bool // draining, and refusing new route requests
	routes       map[string]*route.Route
	paths        []string
	upstreams    map[string]*upstream.Upstream
	admission    *admission.Gate
	clients      *clients.Clients // nil: no keys asked for
	shared       *shared.Store    // nil: no Redis
	instance     string
	registry     *Registry // where its state lives
	ownRegistry  bool      // the registry is the server's own, closed with it
}

// New builds the sources and routes of cfg, which must be validated (as
// config.Load, Parse and Default return it).
func New(cfg *config.Config, o Options) (*Server, error) {
	tr := newTracing(o.TracerProvider)
	reg, own := o.Registry, o.Registry == nil
	if own {
		reg = &Registry{}
	}
	if len(cfg.Routes) == 0 && len(cfg.Models) == 0 {
		return nil, fmt.Errorf("config %s has no routes or models to serve", cfg.File)
	}
	m := o.Metrics
	if m == nil {
		m = metrics.New()
	}
	store := openShared(cfg.Redis, reg, o.Logger, m)
	sources, err := buildSources(cfg, tr, store, reg)
	if err != nil {
		return nil, err // what was built stays in reg, released by the next server built on it
	}
	s := &Server{
		metrics:      m,
		routes:       make(map[string]*route.Route, len(cfg.Routes)),
		upstreams:    sources,
		admission:    admission.New(cfg.Admission, m.Shed(), reg.admissionLedger()),
		logger:       o.Logger,
		tracing:      tr,
		admin:        o.Admin,
		writeTimeout: cfg.Server.WriteTimeout.Std(),
		bodyTimeout:  cfg.Server.BodyTimeout.Std(),
		maxBody:      cfg.Server.MaxBody,
		door:         door.New(cfg, sources, store, &reg.models),
		shared:       store,
		instance:     o.Instance,
		registry:     reg,
		ownRegistry:  own,
	}
	s.clients = clients.New(cfg.Clients, m, reg.limiter, store)
	if s.dash, err = dashboard.New(cfg, sources, s.door, s.clients); err != nil {
		return nil, err
	}
	for _, rc := range cfg.Routes {
		s.routes[rc.Path] = route.New(rc, cfg, sources, m)
		s.paths = append(s.paths, rc.Path)
	}
	s.unmatched = m.Route(unmatched) // resolved once: label lookups per request cost
	s.metrics.SetLive(s.live())
	reg.retain(s) // s is the one in use now: what it does not use goes
	return s, nil
}

// live is what s alone can tell its Metrics: its admission's occupancy
// and its breakers' states.
func (s *Server) live() *metrics.Live {
	l := &metrics.Live{
		InFlight: func() float64 { return float64(s.admission.InFlight()) },
		Queued:   func() float64 { return float64(s.admission.Queued()) },
		Breakers: map[string]func() string{},
	}
	for name, up := range s.upstreams {
		if up.Breaker != nil {
			l.Breakers[name] = up.Breaker.State
		}
	}
	return l
}

// Close frees what the server's sources hold beyond their requests (their
// caches, the Redis pool) when its registry is its own; a server given a
// registry leaves that to the registry's Close.
func (s *Server) Close() {
	if s.ownRegistry {
		s.registry.Close()
	}
}

var noStore = []string{"no-store"}

// Paths lists the route paths served, in config order.
func (s *Server) Paths() []string { return append([]string(nil), s.paths...) }

// ServeHTTP answers a route's report, the dashboard, the health and
// metrics endpoints, or a JSON error.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.instance != "" {
		w.Header().Set("X-Highway-Instance", s.instance)
	}
	if s.draining.Load() {
		// Shutting down: a client (or balancer) keeping connections
		// alive is moved off this replica one answer at a time.
		w.Header().Set("Connection", "close")
	}
	rt := s.routes[r.URL.Path]
	if rt == nil && door.Handles(r.URL.Path) {
		s.serveDoor(w, r)
		return
	}
	if rt == nil && (s.operational(w, r) || s.dash.Serve(w, r)) {
		return
	}
	start := time.Now()
	id := requestID(r)
	w.Header().Set("X-Request-Id", id)
	sw := &statusWriter{ResponseWriter: w}
	if s.tracing != nil && rt != nil {
		var span trace.Span
		r, span = s.tracing.request(r, rt.Path())
		defer func() { endRequest(span, sw.status) }()
	}
	var out route.Outcome
	var client string
	defer func() {
		if p := recover(); p != nil {
			// A bug of ours: answer it as one, rather than drop the
			// connection, and say so in the log.
			if sw.status == 0 {
				reply.WriteError(sw, fmt.Errorf("panic: %v", p))
			}
			if s.logger != nil {
				s.logger.Error("panic serving a request", "id", id, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			}
		}
		s.observe(r.Context(), r, id, client, rt, sw.status, time.Since(start), out)
	}()
	if rt == nil {
		msg := "no route " + r.URL.Path
		if s.clients.Known(r) { // the routes are no stranger's business
			msg += "; routes: " + strings.Join(s.paths, ", ")
		}
		reply.WriteError(sw, &reply.Error{Status: http.StatusNotFound, Msg: msg})
		return
	}
	// Every answer is a new measurement: no cache may keep one, and a
	// browser must not queue identical requests behind its cache lock.
	w.Header()["Cache-Control"] = noStore
	if s.quiescing.Load() {
		w.Header().Set("Retry-After", "1")
		reply.WriteError(sw, &reply.Error{Status: http.StatusServiceUnavailable, Msg: "shutting down: this server takes no new requests; retry (on another replica)"})
		return
	}
	var err error
	if client, err = s.clients.Admit(r); err != nil {
		reply.WriteError(sw, err)
		return
	}
	req, err := rt.Prepare(sw, r) // the body too: a slow sender holds no place
	if err != nil {
		reply.WriteError(sw, err)
		return
	}
	if !s.admission.Admit(r.Context()) {
		s.admission.Refuse(sw)
		return
	}
	defer s.admission.Release()
	out = rt.Serve(sw, r, req)
}
