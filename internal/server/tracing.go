package server

import (
	"net/http"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/citypopy/highway/internal/upstream"
)

// tracing makes the spans of one server: a span per request, a child per
// source (its lane, with what the policies did) and a grandchild per
// upstream attempt, whose context goes to HTTP upstreams as traceparent.
// A nil *tracing traces nothing and costs nothing.
type tracing struct {
	tracer    trace.Tracer
	prop      propagation.TextMapPropagator
	transport http.RoundTripper // pool, injecting the attempt's context
}

func newTracing(tp trace.TracerProvider) *tracing {
	if tp == nil {
		return nil
	}
	prop := propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	return &tracing{
		tracer:    tp.Tracer("github.com/citypopy/highway"),
		prop:      prop,
		transport: &injecting{next: upstream.Pool, prop: prop},
	}
}

// request starts the span of one route request, continuing the caller's
// trace when its traceparent says so.
func (t *tracing) request(r *http.Request, route string) (*http.Request, trace.Span) {
	ctx := t.prop.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	ctx, span := t.tracer.Start(ctx, r.Method+" "+route, trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(
			attribute.String("http.request.method", r.Method),
			attribute.String("http.route", route),
		))
	return r.WithContext(ctx), span
}

// endRequest ends a request's span with its status.
func endRequest(span trace.Span, status int) {
	span.SetAttributes(attribute.Int("http.response.status_code", status))
	if status >= 500 {
		span.SetStatus(codes.Error, http.StatusText(status))
	}
	span.End()
}

// injecting sends the trace context of each request's context to the
// upstream as traceparent (and baggage), on a copy of the request: the
// source's own header map is shared between calls.
type injecting struct {
	next http.RoundTripper
	prop propagation.TextMapPropagator
}

// RoundTrip sends a copy of req carrying its context's trace.
func (t *injecting) RoundTrip(req *http.Request) (*http.Response, error) {
	out := req.Clone(req.Context())
	t.prop.Inject(req.Context(), propagation.HeaderCarrier(out.Header))
	return t.next.RoundTrip(out)
}
