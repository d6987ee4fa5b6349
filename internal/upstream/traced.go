package upstream

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/citypopy/highway/internal/metrics"
	"github.com/citypopy/highway/internal/report"
	"github.com/citypopy/highway/policy"
	"github.com/citypopy/highway/source"
)

// tracedSource is the span of one source's lane in a request: outermost
// in its stack, so its children are the attempts the policies made.
type tracedSource struct {
	name, kind string
	next       source.Source
	tracer     trace.Tracer
}

// Fetch runs the source's whole stack inside the span of its lane.
// The span ends with the answer (a stream streams on after Fetch).
func (s *tracedSource) Fetch(ctx context.Context, call *source.Call) (*source.Answer, error) {
	ctx, span := s.tracer.Start(ctx, "source "+s.name, trace.WithAttributes(
		attribute.String("highway.source", s.name),
		attribute.String("highway.source.kind", s.kind),
	))
	v, err := s.next.Fetch(ctx, call)
	switch {
	case err != nil:
		s.end(ctx, span, err)
		return nil, err
	case v.Arrived():
		s.end(ctx, span, nil)
	default:
		v.AfterEnd(func(err error) { s.end(ctx, span, err) })
	}
	return v, nil
}

// end ends the lane's span, with what its policies did and its error.
func (s *tracedSource) end(ctx context.Context, span trace.Span, err error) {
	defer span.End()
	tr := policy.TraceFrom(ctx)
	marks := tr.Marks()
	span.SetAttributes(
		attribute.String("highway.outcome", metrics.Outcome(report.Reason(err), marks)),
		attribute.Int("highway.attempts", tr.Attempts()),
		attribute.Bool("highway.hedged", marks.Has(policy.Hedged)),
		attribute.Bool("highway.hedge_won", marks.Has(policy.HedgeWon)),
		attribute.Bool("highway.coalesced", marks.Has(policy.Coalesced)),
		attribute.Bool("highway.cache_hit", marks.Has(policy.CacheHit)),
	)
	setError(span, err)
}

// tracedAttempt is the span of one call to the upstream itself, innermost
// in the stack: each retry and hedge is one. It counts the attempt on the
// task's Trace, as policy.Count does.
type tracedAttempt struct {
	name   string
	next   source.Source
	tracer trace.Tracer
	kind   trace.SpanKind
}

// Fetch makes one upstream call inside a span of its own.
func (a *tracedAttempt) Fetch(ctx context.Context, call *source.Call) (*source.Answer, error) {
	n := policy.TraceFrom(ctx).AddAttempt()
	ctx, span := a.tracer.Start(ctx, "attempt "+a.name, trace.WithSpanKind(a.kind),
		trace.WithAttributes(attribute.String("highway.source", a.name), attribute.Int("highway.attempt", n)))
	v, err := a.next.Fetch(ctx, call)
	end := func(err error) {
		setError(span, err)
		span.End()
	}
	switch {
	case err != nil:
		end(err)
		return nil, err
	case v.Arrived():
		end(nil)
	default:
		v.AfterEnd(end)
	}
	return v, nil
}

func setError(span trace.Span, err error) {
	if err != nil {
		span.SetAttributes(attribute.String("highway.reason", report.Reason(err)))
		span.SetStatus(codes.Error, err.Error())
	}
}
