package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/citypopy/highway/internal/reply"
	"github.com/citypopy/highway/internal/route"
)

// Operational endpoints, reserved by the config.
const (
	HealthzPath = "/healthz"
	ReadyzPath  = "/readyz"
	MetricsPath = "/metrics"
)

// unmatched is the route label of requests for no route: a fixed value,
// never the path a client sent.
const unmatched = "(unmatched)"

// statusWriter remembers the status written. It implements Unwrap, so
// http.ResponseController still finds Flush on the writer underneath.
type statusWriter struct {
	http.ResponseWriter
	status int
}

// WriteHeader remembers the first status written, and writes it.
func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write remembers a 200 when no status came first, and writes b.
func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap returns the writer underneath.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// requestID is the client's X-Request-Id when it is a short token, or a
// fresh random one.
func requestID(r *http.Request) string {
	if id := r.Header.Get("X-Request-Id"); len(id) > 0 && len(id) <= 64 && validHeaderToken(id) {
		return id
	}
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func validHeaderToken(s string) bool {
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// observe records one request in the metrics, the sources' health and the
// log: the one place that does.
func (s *Server) observe(ctx context.Context, r *http.Request, id, client string, rt *route.Route, status int, took time.Duration, out route.Outcome) {
	path := unmatched
	logged := s.logger != nil
	var spent route.Spent
	var srcs []any // the log's per-source latencies
	if rt == nil {
		s.unmatched.Observe(status, took)
	} else {
		path = rt.Path()
		spent, srcs = rt.Record(out, status, took, client, logged)
	}
	if spent.Tokens > 0 || spent.CostUSD > 0 {
		s.clients.Spend(ctx, client, spent.Tokens, spent.CostUSD)
	}
	if !logged {
		return
	}
	attrs := make([]slog.Attr, 0, 8)
	attrs = append(attrs, slog.String("id", id), slog.String("method", r.Method), slog.String("route", path),
		slog.Int("status", status), slog.Float64("ms", float64(took.Microseconds())/1000))
	if client != "" {
		attrs = append(attrs, slog.String("client", client))
	}
	if srcs != nil {
		attrs = append(attrs, slog.Group("sources", srcs...))
	}
	s.logger.LogAttrs(ctx, slog.LevelInfo, "request", attrs...)
}

// operational answers the health and metrics endpoints; false for any
// other path. With Options.Admin only /healthz is answered here: the rest
// is on ServeAdmin.
func (s *Server) operational(w http.ResponseWriter, r *http.Request) bool {
	switch r.URL.Path {
	case ReadyzPath, MetricsPath:
		if s.admin {
			return false
		}
		// They name clients, routes and sources: with keys asked for,
		// only a caller with one sees them (an operator-only listener,
		// -admin-addr, needs none).
		if _, err := s.clients.Admit(r); err != nil {
			reply.WriteError(w, err)
			return true
		}
	case HealthzPath:
	default:
		return false
	}
	s.ServeAdmin(w, r)
	return true
}

// ServeAdmin answers the operator's endpoints: /healthz, /readyz,
// /metrics and, for go tool pprof, /debug/pprof/. With Options.Admin it
// is meant for a listener of its own; anything else is a JSON 404.
func (s *Server) ServeAdmin(w http.ResponseWriter, r *http.Request) {
	switch p := r.URL.Path; {
	case p == HealthzPath:
		reply.JSON(w, map[string]string{"status": "ok"})
	case p == ReadyzPath:
		if s.draining.Load() {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"ready":false,"reason":"shutting down"}` + "\n"))
			return
		}
		reply.JSON(w, map[string]bool{"ready": true})
	case p == MetricsPath:
		s.metrics.Handler().ServeHTTP(w, r)
	case s.admin && strings.HasPrefix(p, pprofPath):
		servePprof(w, r)
	default:
		reply.WriteError(w, &reply.Error{Status: http.StatusNotFound,
			Msg: "no admin endpoint " + p + "; try " + strings.Join([]string{HealthzPath, ReadyzPath, MetricsPath, pprofPath}, ", ")})
	}
}

// Drain marks the server as shutting down: /readyz answers 503, so load
// balancers stop sending traffic while requests in flight finish.
func (s *Server) Drain() { s.draining.Store(true) }

// Quiesce drains s and refuses new route requests (503, Retry-After: 1,
// "shutting down"), then returns once the requests holding an admission
// place have finished, or ctx has ended. Serve calls it before closing
// its listener, so that /readyz answers 503 to the end.
func (s *Server) Quiesce(ctx context.Context) {
	s.Drain()
	s.quiescing.Store(true)
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for s.admission.InFlight() > 0 {
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
	}
}
