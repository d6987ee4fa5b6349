// Package upstream builds each configured source with its policies
// stacked around it, and its failover list over the other sources', and
// keeps what is worth watching of it: its breaker, latencies, health and
// tokens.
package upstream

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

// Upstream is one configured source with its policies stacked around it,
// and the parts of them worth watching.
type Upstream struct {
	Name      string
	Kind      string
	Fetch     source.Source // the whole stack
	Planned   *PlannedMock  // set when the stack is a bare mock
	Latencies *policy.Latencies
	Breaker   *policy.Breaker[*source.Call, *source.Answer] // nil without one
	Cache     *policy.Cache[*source.Call, *source.Answer]   // nil without one
	Shared    *shared.Store                                 // the Redis its cache shares, if any
	Health    *Health                                       // what routes saw of it, for the health page
	Model     string                                        // an LLM source's configured model, for metrics
	// With failover_hedge: how long the source took to begin its answers
	// (an LLM's first token), and the budget of its hedges.
	Begins         *policy.Latencies
	FailoverHedges *policy.Budget
}

// Close frees what the upstream holds that outlives its requests: its
// cache's entries and goroutine.
func (u *Upstream) Close() {
	if u.Cache != nil {
		u.Cache.Close()
	}
}

// Options are what every upstream of a server is built with.
type Options struct {
	// Transport carries the HTTP and LLM sources' requests; nil means
	// Pool.
	Transport http.RoundTripper
	// Tracer, if set, makes a span around each source's whole stack and
	// around each attempt.
	Tracer trace.Tracer
	// Store, if set, is the Redis the caches share with every replica.
	Store *shared.Store
}

// Build is the upstream of the source name as sc configures it, its cache
// bounded by cacheBytes. What it is built from is sc and o alone, nothing
// another source says: the key a registry keeps it by.
func Build(name string, sc *config.Source, cacheBytes config.ByteSize, o Options) (*Upstream, error) {
	if sc.Spec == nil {
		return nil, fmt.Errorf("build source %s: unknown kind %q", name, sc.Kind)
	}
	transport := o.Transport
	if transport == nil {
		transport = Pool
	}
	return stack(name, sc, sc.Spec.Build(name, transport), o, cacheBytes), nil
}

// stack wraps base in the source's policies, outermost first:
// cache → coalesce → retry → hedge → breaker → limit → count → base,
// as package policy explains. Policies not configured are left out, so a
// plain source costs nothing extra; attempts are counted with retries,
// hedges, or for any fetched source (mocks count as one call). Every
// fetched source counts its attempts, since any may join a failover
// chain, where a lane's attempts are its sources' calls; a source called
// once counts 1 either way. With a tracer, a span is made around the
// whole stack and around each attempt. With a store, the cache's second
// tier is in Redis, shared with every replica.
func stack(name string, sc *config.Source, base source.Source, o Options, cacheBytes config.ByteSize) *Upstream {
	type stacked = policy.Source[*source.Call, *source.Answer]
	counted := sc.Kind != config.KindMock
	u := &Upstream{Name: name, Kind: sc.Kind, Latencies: &policy.Latencies{}, Health: &Health{}, Shared: o.Store}
	if llm, ok := sc.Spec.(*config.LLM); ok {
		u.Model = llm.Model
	}
	if h := sc.FailoverHedge; h != nil {
		u.Begins, u.FailoverHedges = &policy.Latencies{}, &policy.Budget{Ratio: float64(h.MaxExtra)}
	}
	var s stacked = base
	switch {
	case o.Tracer != nil:
		kind := trace.SpanKindClient
		if sc.Kind == config.KindMock {
			kind = trace.SpanKindInternal
		}
		s = &tracedAttempt{name: name, next: s, tracer: o.Tracer, kind: kind}
	case sc.Retry != nil || sc.Hedge != nil || counted:
		s = &policy.Count[*source.Call, *source.Answer]{Next: s}
	}
	if sc.Concurrency > 0 {
		s = policy.NewLimit(s, sc.Concurrency)
	}
	if sc.Breaker != nil && sc.Breaker.Failures > 0 {
		u.Breaker = policy.NewBreaker(name, s, sc.Breaker.Failures, sc.Breaker.Cooldown.Std())
		s = u.Breaker
	}
	if h := sc.Hedge; h != nil {
		s = &policy.Hedge[*source.Call, *source.Answer]{
			Next:       s,
			Delay:      h.Delay.Fixed,
			Percentile: h.Delay.Percentile,
			Observed:   u.Latencies,
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
		u.Cache = &policy.Cache[*source.Call, *source.Answer]{Next: s, TTL: c.TTL.Std(), Key: (*source.Call).Key,
			MaxBytes: int64(cacheBytes), Size: (*source.Answer).Size}
		if o.Store != nil {
			u.Cache.Shared = o.Store.Cache(name, sc)
			if sc.Coalesce { // share calls in flight across replicas too, for as long as a call may take
				u.Cache.FlightWait = cmp.Or(sc.Timeout.Std(), config.DefaultHTTPTimeout)
			}
		}
		s = u.Cache
	}
	if o.Tracer != nil {
		s = &tracedSource{name: name, kind: sc.Kind, next: s, tracer: o.Tracer}
	}
	u.Fetch = s
	if m, ok := s.(*source.Mock); ok && !m.IgnoreContext { // a deaf mock must run on a goroutine, to be abandoned
		u.Planned = &PlannedMock{m}
	}
	return u
}

// PlannedMock is a bare mock as a gather's source. Its answer depends on
// nothing of the call, so every request's gather shares it, and it is
// fanout.Planned: the gather delivers its answer on its own timer, with no
// goroutine per mock.
type PlannedMock struct{ m *source.Mock }

// Fetch waits out the mock, for a caller that does not plan it.
func (p *PlannedMock) Fetch(ctx context.Context, _ map[string]json.RawMessage) (json.RawMessage, error) {
	a, err := p.m.Fetch(ctx, nil)
	if err != nil {
		return nil, err
	}
	return a.Value(ctx)
}

// Plan is the mock's answer and when it lands.
func (p *PlannedMock) Plan() (json.RawMessage, time.Duration, error) { return p.m.Plan() }
