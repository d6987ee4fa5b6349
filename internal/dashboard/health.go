package dashboard

import (
	"maps"
	"slices"
	"time"

	"github.com/citypopy/highway/internal/config"
	"github.com/citypopy/highway/internal/upstream"
	"github.com/citypopy/highway/policy"
)

type routeInfo struct {
	Path     string                   `json:"path"`
	Method   string                   `json:"method"`
	Sources  []string                 `json:"sources"`
	Optional []string                 `json:"optional,omitempty"`
	Needs    map[string][]string      `json:"needs,omitempty"`
	Params   map[string]*config.Param `json:"params,omitempty"`
}

// routesOf is what the page is told of cfg's routes, in config order, and
// of the surges it may start.
func routesOf(cfg *config.Config) any {
	var out []routeInfo
	for _, rc := range cfg.Routes {
		ri := routeInfo{Path: rc.Path, Method: rc.Method, Params: rc.Params}
		for _, name := range rc.Sources {
			ri.Sources = append(ri.Sources, name)
			if rc.IsOptional(name) {
				ri.Optional = append(ri.Optional, name)
			}
			if needs := cfg.Sources[name].Needs; len(needs) > 0 {
				if ri.Needs == nil {
					ri.Needs = map[string][]string{}
				}
				ri.Needs[name] = needs
			}
		}
		out = append(out, ri)
	}
	return map[string]any{"routes": out, "surge": map[string]any{
		"max_users": cfg.Dashboard.SurgeMaxUsers, "max_duration_s": cfg.Dashboard.SurgeMaxDuration.Std().Seconds()}}
}

type sourceHealth struct {
	Name      string  `json:"name"`
	Kind      string  `json:"kind"`
	Calls     int64   `json:"calls"`
	Failures  int64   `json:"failures"`
	ErrorRate float64 `json:"error_rate"` // since start (or the source's last change)
	// RecentErrorRate is over the last RecentCalls calls, at most 100.
	RecentErrorRate float64 `json:"recent_error_rate"`
	RecentCalls     int     `json:"recent_calls"`
	// Percentiles are of the last Samples successful calls (at most 512),
	// and null until there are MinSamples of them.
	P50MS      *float64            `json:"p50_ms"`
	P95MS      *float64            `json:"p95_ms"`
	P99MS      *float64            `json:"p99_ms"`
	Samples    int                 `json:"samples"`
	MinSamples int                 `json:"min_samples"`
	LastError  *upstream.LastError `json:"last_error"`
	Breaker    string              `json:"breaker"`
	// Tokens and cost, for an LLM source: since it was built.
	InputTokens  *int64   `json:"input_tokens,omitempty"`
	OutputTokens *int64   `json:"output_tokens,omitempty"`
	CostUSD      *float64 `json:"cost_usd,omitempty"`
	// For a source with failover_hedge: the 95th percentile of the times
	// it took to begin its answers (an LLM's first token), and how many
	// it has; the percentile is left out until MinSamples.
	FirstTokenP95MS  *float64 `json:"first_token_p95_ms,omitempty"`
	FirstTokenSample *int     `json:"first_token_samples,omitempty"`
}

func (d *Dashboard) sources() any {
	var out []sourceHealth
	for _, name := range slices.Sorted(maps.Keys(d.upstreams)) {
		u := d.upstreams[name]
		h := sourceHealth{Name: name, Kind: u.Kind, Calls: u.Health.Calls.Load(), Failures: u.Health.Failures.Load(), Breaker: "none",
			Samples: u.Health.Recent.Len(), MinSamples: policy.MinSamples, LastError: u.Health.Last.Load()}
		if h.Calls > 0 {
			h.ErrorRate = float64(h.Failures) / float64(h.Calls)
		}
		h.RecentErrorRate, h.RecentCalls = u.Health.RecentErrorRate()
		if u.Model != "" {
			in, out, cost := u.Health.InTokens.Load(), u.Health.OutTokens.Load(), float64(u.Health.CostNanoUSD.Load())/1e9
			h.InputTokens, h.OutputTokens, h.CostUSD = &in, &out, &cost
		}
		for p, dst := range map[float64]**float64{50: &h.P50MS, 95: &h.P95MS, 99: &h.P99MS} {
			if v, ok := u.Health.Recent.Percentile(p); ok {
				m := ms(v)
				*dst = &m
			}
		}
		if u.Breaker != nil {
			h.Breaker = u.Breaker.State()
		}
		if u.Begins != nil {
			n := u.Begins.Len()
			h.FirstTokenSample = &n
			if v, ok := u.Begins.Percentile(95); ok {
				m := ms(v)
				h.FirstTokenP95MS = &m
			}
		}
		out = append(out, h)
	}
	return map[string]any{"sources": out}
}

func max0(n int) int { return max(n, 0) }

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
