package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/citypopy/highway/internal/door"
)

// serveDoor answers a request under /v1/: the front door, which admits
// and refuses as routes do (client keys, rates and budgets, the body's
// size and pace, the admission limit) but says so in the dialect of the
// SDK that asked.
func (s *Server) serveDoor(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	id := requestID(r)
	w.Header().Set("X-Request-Id", id)
	sw := &statusWriter{ResponseWriter: w}
	if s.tracing != nil {
		var span trace.Span
		r, span = s.tracing.request(r, r.URL.Path)
		defer func() { endRequest(span, sw.status) }()
	}
	var out door.Outcome
	var client string
	defer func() {
		if p := recover(); p != nil {
			if sw.status == 0 {
				door.WriteError(sw, r.URL.Path, fmt.Errorf("panic: %v", p))
			}
			if s.logger != nil {
				s.logger.Error("panic serving a request", "id", id, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			}
		}
		s.observeDoor(r.Context(), r, id, client, sw.status, time.Since(start), &out)
	}()
	if s.quiescing.Load() {
		door.WriteError(sw, r.URL.Path, &door.Error{Status: http.StatusServiceUnavailable, RetryAfter: "1",
			Msg: "shutting down: this server takes no new requests; retry (on another replica)"})
		return
	}
	var err error
	if client, err = s.clients.Admit(r); err != nil {
		door.WriteError(sw, r.URL.Path, err)
		return
	}
	req := door.Request{Models: s.clients.Models(client)}
	if r.Method == http.MethodPost {
		if req.Body, err = s.doorBody(sw, r); err != nil {
			door.WriteError(sw, r.URL.Path, err)
			return
		}
	}
	queued := time.Now()
	if !s.admission.Admit(r.Context()) {
		door.WriteError(sw, r.URL.Path, &door.Error{Status: http.StatusServiceUnavailable, RetryAfter: "1",
			Msg: "Highway is at its admission limit; retry after 1s"})
		return
	}
	defer s.admission.Release()
	req.Queued = time.Since(queued)
	out = s.door.Serve(sw, r, req)
}

// doorBody reads a door request's body, within server.max_body and
// server.body_timeout.
func (s *Server) doorBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if s.bodyTimeout > 0 {
		http.NewResponseController(w).SetReadDeadline(time.Now().Add(s.bodyTimeout))
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.maxBody))
	var netErr net.Error
	switch {
	case is[*http.MaxBytesError](err):
		return nil, &door.Error{Status: http.StatusRequestEntityTooLarge,
			Msg: "request body larger than " + strconv.FormatInt(s.maxBody, 10) + " bytes (server.max_body)"}
	case errors.As(err, &netErr) && netErr.Timeout():
		return nil, &door.Error{Status: http.StatusRequestTimeout,
			Msg: "the request body did not arrive within " + s.bodyTimeout.String() + " (server.body_timeout)"}
	case err != nil:
		return nil, &door.Error{Status: http.StatusBadRequest, Msg: "reading the request body: " + err.Error()}
	}
	return b, nil
}

func is[E error](err error) bool {
	_, ok := errors.AsType[E](err)
	return ok
}

// observeDoor records one door request: its client's spending, and its
// log line.
func (s *Server) observeDoor(ctx context.Context, r *http.Request, id, client string, status int, took time.Duration, out *door.Outcome) {
	tokens, cost := out.Spent()
	if tokens > 0 || cost > 0 {
		s.clients.Spend(ctx, client, tokens, cost)
	}
	s.metrics.Door(out.Model, out.Provider, client, status, took, out.FirstToken, out.Parts)
	s.door.Observe(out, status, took)
	if s.logger == nil {
		return
	}
	attrs := make([]slog.Attr, 0, 12)
	attrs = append(attrs, slog.String("id", id), slog.String("method", r.Method), slog.String("route", r.URL.Path),
		slog.Int("status", status), slog.Float64("ms", float64(took.Microseconds())/1000))
	if client != "" {
		attrs = append(attrs, slog.String("client", client))
	}
	if out.Model != "" {
		attrs = append(attrs, slog.String("model", out.Model), slog.String("provider", out.Provider), slog.Int("attempts", out.Attempts))
	}
	if out.FirstToken > 0 {
		attrs = append(attrs, slog.Float64("first_token_ms", float64(out.FirstToken.Microseconds())/1000))
	}
	if tokens > 0 {
		attrs = append(attrs, slog.Int("tokens", tokens), slog.Float64("cost_usd", cost))
	}
	if out.Err != nil {
		attrs = append(attrs, slog.String("error", out.Err.Error()))
	}
	s.logger.LogAttrs(ctx, slog.LevelInfo, "request", attrs...)
}
