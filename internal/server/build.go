package server

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/citypopy/highway/internal/config"
	"github.com/citypopy/highway/internal/shared"
	"github.com/citypopy/highway/policy"
	"github.com/citypopy/highway/source"
)

// upstream is one configured source with its policies stacked around it,
// and the parts of them worth watching.
type upstream struct {
	name      string
	kind      string
	fetch     source.Source // the whole stack
	planned   *plannedMock  // set when the stack is a bare mock
	latencies *policy.Latencies
	breaker   *policy.Breaker[*source.Call, *source.Answer]
	cache     *policy.Cache[*source.Call, *source.Answer] // nil without one
	shared    *shared.Store                               // the Redis its cache shares, if any
	health    *health                                     // what routes saw of it, for the health page
	model     string                                      // an LLM source's configured model, for metrics
	// With failover_hedge: how long the source took to begin its answers
	// (an LLM's first token), and the budget of its hedges.
	begins         *policy.Latencies
	failoverHedges *policy.Budget
}

// close frees what the upstream holds that outlives its requests: its
// cache's entries and goroutine.
func (u *upstream) close() {
	if u.cache != nil {
		u.cache.Close()
	}
}

// buildSources makes one upstream per configured source, shared by every
// route that names it, or takes it from reg: a source configured exactly
// as when reg first built it keeps its upstream (an open breaker stays
// open, a warm cache stays warm). With store, caches have a second tier
// in Redis.
func buildSources(cfg *config.Config, tr *tracing, store *shared.Store, reg *Registry) (map[string]*upstream, error) {
	var transport http.RoundTripper = pool
	if tr != nil {
		transport = tr.transport
	}
	out := make(map[string]*upstream, len(cfg.Sources))
	for name, sc := range cfg.Sources {
		// What an upstream is built from is its own config only (and the
		// process's tracing and Redis), which is what reg keys it by:
		// nothing another source says, so that adding or chaining another
		// source keeps this one's breaker and cache. Every fetched source
		// counts its attempts, since any may join a failover chain, where
		// a lane's attempts are its sources' calls; a source called once
		// counts 1 either way.
		if sc.Spec == nil {
			return nil, fmt.Errorf("build source %s: unknown kind %q", name, sc.Kind)
		}
		out[name] = reg.upstream(name, sc, tr != nil, store, func() *upstream {
			return stack(name, sc, sc.Spec.Build(name, transport), tr, store, cfg.CacheBytes(sc))
		})
	}
	return out, nil
}

// stack wraps base in the source's policies, outermost first:
// cache → coalesce → retry → hedge → breaker → limit → count → base,
// as package policy explains. Policies not configured are left out, so a
// plain source costs nothing extra; attempts are counted with retries,
// hedges, or for any fetched source (mocks count as one call). With
// tr, a span is made around the whole stack and around each attempt.
// With store, the cache's second tier is in Redis, shared with every
// replica.
func stack(name string, sc *config.Source, base source.Source, tr *tracing, store *shared.Store, cacheBytes config.ByteSize) *upstream {
	type stacked = policy.Source[*source.Call, *source.Answer]
	counted := sc.Kind != config.KindMock
	u := &upstream{name: name, kind: sc.Kind, latencies: &policy.Latencies{}, health: &health{}, shared: store}
	if llm, ok := sc.Spec.(*config.LLM); ok {
		u.model = llm.Model
	}
	if h := sc.FailoverHedge; h != nil {
		u.begins, u.failoverHedges = &policy.Latencies{}, &policy.Budget{Ratio: float64(h.MaxExtra)}
	}
	var s stacked = base
	switch {
	case tr != nil:
		kind := trace.SpanKindClient
		if sc.Kind == config.KindMock {
			kind = trace.SpanKindInternal
		}
		s = &tracedAttempt{name: name, next: s, tracer: tr.tracer, kind: kind}
	case sc.Retry != nil || sc.Hedge != nil || counted:
		s = &policy.Count[*source.Call, *source.Answer]{Next: s}
	}
	if sc.Concurrency > 0 {
		s = policy.NewLimit(s, sc.Concurrency)
	}
	if sc.Breaker != nil && sc.Breaker.Failures > 0 {
		u.breaker = policy.NewBreaker(name, s, sc.Breaker.Failures, sc.Breaker.Cooldown.Std())
		s = u.breaker
	}
	if h := sc.Hedge; h != nil {
		s = &policy.Hedge[*source.Call, *source.Answer]{
			Next:       s,
			Delay:      h.Delay.Fixed,
			Percentile: h.Delay.Percentile,
			Observed:   u.latencies,
			Budget:     &policy.Budget{Ratio: float64(h.MaxExtra)},
		}
	}
	if r := sc.Retry; r != nil && r.Attempts > 1 {
		s = &policy.Retry[*source.Call, *source.Answer]{Next: s, Attempts: r.Attempts, Backoff: r.Backoff.Std(), MaxBackoff: r.MaxBackoff.Std()}
	}
	if sc.Coalesce {
		s = &policy.Coalesce[*source.Call, *source.Answer]{Next: s, Timeout: sc.Timeout.Std(),
			Key: (*source.Call).Key}
	}
	if c := sc.Cache; c != nil {
		u.cache = &policy.Cache[*source.Call, *source.Answer]{Next: s, TTL: c.TTL.Std(), Key: (*source.Call).Key,
			MaxBytes: int64(cacheBytes), Size: (*source.Answer).Size}
		if store != nil {
			u.cache.Shared = store.Cache(name, sc)
			if sc.Coalesce { // share calls in flight across replicas too, for as long as a call may take
				u.cache.FlightWait = cmp.Or(sc.Timeout.Std(), config.DefaultHTTPTimeout)
			}
		}
		s = u.cache
	}
	if tr != nil {
		s = &tracedSource{name: name, kind: sc.Kind, next: s, tracer: tr.tracer}
	}
	u.fetch = s
	if m, ok := s.(*source.Mock); ok && !m.IgnoreContext { // a deaf mock must run on a goroutine, to be abandoned
		u.planned = &plannedMock{m}
	}
	return u
}

// plannedMock is a bare mock as a gather's source. Its answer depends on
// nothing of the call, so every request's gather shares it, and it is
// fanout.Planned: the gather delivers its answer on its own timer, with no
// goroutine per mock.
type plannedMock struct{ m *source.Mock }

// Fetch waits out the mock, for a caller that does not plan it.
func (p *plannedMock) Fetch(ctx context.Context, _ map[string]json.RawMessage) (json.RawMessage, error) {
	a, err := p.m.Fetch(ctx, nil)
	if err != nil {
		return nil, err
	}
	return a.Value(ctx)
}

// Plan is the mock's answer and when it lands.
func (p *plannedMock) Plan() (json.RawMessage, time.Duration, error) { return p.m.Plan() }
