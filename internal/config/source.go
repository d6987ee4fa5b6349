package config

import (
	"encoding/json"
	"net/http"

	"github.com/citypopy/highway/source"
)

// Source kinds.
const (
	KindMock      = "mock"
	KindHTTP      = "http"
	KindOpenAI    = "openai"
	KindAnthropic = "anthropic"
)

// Source is one upstream: its kind, the policies and needs every kind
// takes, and the kind's own fields, written in the same YAML mapping and
// decoded into Spec.
type Source struct {
	// Kind is mock, http, openai or anthropic.
	Kind string `yaml:"kind"`
	// Timeout bounds each call to this source, retries and hedges
	// included. Default: none for mock (the route's timeout bounds it),
	// 10s for http, 60s for an LLM.
	Timeout Duration `yaml:"timeout"`

	// Idempotent says a call may safely be repeated, which retries and
	// hedges need. Default: true for mock and for http GET.
	Idempotent *bool `yaml:"idempotent"`
	// Retry retries failed calls. Default for idempotent http sources:
	// 2 attempts, 50ms backoff; none for mock.
	Retry *Retry `yaml:"retry"`
	// Hedge sends a second attempt when the first is slow. Default: off.
	Hedge *Hedge `yaml:"hedge"`
	// Breaker fails fast while the source keeps failing. Default for http
	// and LLMs: 5 failures, 10s cooldown; none for mock.
	Breaker *Breaker `yaml:"breaker"`
	// Concurrency caps the calls in flight to this source; 0 means no cap.
	Concurrency int `yaml:"concurrency"`
	// Coalesce makes identical calls in flight share one upstream call.
	Coalesce bool `yaml:"coalesce"`
	// Cache keeps successful answers for a TTL. Default: off.
	Cache *Cache `yaml:"cache"`

	// Needs names the sources whose answers this one uses in its templates
	// as {{.NAME.field}}: it starts the moment they have all finished, and
	// is skipped when one fails, unless Fallback has a value for it. A
	// route that lists this source must list its needs too.
	Needs []string `yaml:"needs"`
	// Failover names the sources asked, in order, when this one fails:
	// each with its own policies, all within this source's timeout and
	// the route's deadline. Their needs must be among this one's.
	Failover []string `yaml:"failover"`
	// FailoverOn says which failures move on: connection, 5xx, 429, 408,
	// timeout, first_token, stall, stream, breaker_open, and 4xx (the
	// other client errors, caused by the request: off unless listed).
	// Default: all but 4xx.
	FailoverOn []string `yaml:"failover_on"`
	// FailoverHedge starts the next source in the failover list beside
	// this one when this one has not begun its answer (an LLM's first
	// token; any other kind's answer) after a delay: 800ms, or a
	// percentile of the times it took to begin, p95. The first to begin
	// answers and the other is cancelled. Written as the delay alone, or
	// as {delay, max_extra}; max_extra caps the extra calls at a fraction
	// of calls, 5% by default. Default: off.
	FailoverHedge *Hedge `yaml:"failover_hedge"`
	// Fallback stands in for a failed need, by need name: the source runs
	// with this value as that need's answer.
	Fallback map[string]json.RawMessage `yaml:"fallback"`

	// Spec is the kind's own configuration: a *Mock, an *HTTP or an *LLM.
	// Nil when the kind is missing or unknown (which validation reports).
	Spec Spec `yaml:"-"`

	// unused are the fields of another kind the mapping gave, by path,
	// for validation to refuse: they would silently do nothing.
	unused []string
}

// Spec is what a kind of source adds to Source, each in its own file: its
// typed fields, their defaults and checks, the templates among them, and
// how the source is built.
type Spec interface {
	// Build makes the source, sending any upstream call through
	// transport.
	Build(name string, transport http.RoundTripper) source.Source

	defaults(s *Source)
	validate(d *decoder, path string, s *Source)
	// templates are the fields rendered per call, by field path.
	templates() map[string]string
}

// kinds makes an empty Spec of each kind: the one list of kinds.
var kinds = map[string]func() Spec{
	KindMock:      func() Spec { return &Mock{} },
	KindHTTP:      func() Spec { return &HTTP{} },
	KindOpenAI:    func() Spec { return &LLM{provider: KindOpenAI} },
	KindAnthropic: func() Spec { return &LLM{provider: KindAnthropic} },
}

func (s *Source) applyDefaults() {
	if s.Spec != nil {
		s.Spec.defaults(s)
	}
	if s.Idempotent == nil {
		idem := false
		s.Idempotent = &idem
	}
	if s.Retry != nil && s.Retry.Backoff == 0 {
		s.Retry.Backoff = DefaultRetry.Backoff
	}
	if s.Retry != nil && s.Retry.MaxBackoff == 0 {
		s.Retry.MaxBackoff = DefaultRetry.MaxBackoff
	}
	for _, h := range []*Hedge{s.Hedge, s.FailoverHedge} {
		if h != nil && h.MaxExtra == 0 {
			h.MaxExtra = DefaultMaxExtra
		}
	}
	if s.Breaker != nil && s.Breaker.Cooldown == 0 {
		s.Breaker.Cooldown = DefaultBreaker.Cooldown
	}
}

// defaultBreaker gives s the default breaker unless it has one.
func (s *Source) defaultBreaker() {
	if s.Breaker == nil {
		b := DefaultBreaker
		s.Breaker = &b
	}
}

// templateFields are the source's fields rendered per call, by path.
func (s *Source) templateFields() map[string]string {
	if s.Spec == nil {
		return nil
	}
	return s.Spec.templates()
}

// ForwardsBody reports whether the source sends the request's body on.
func (s *Source) ForwardsBody() bool {
	h, ok := s.Spec.(*HTTP)
	return ok && h.ForwardBody
}

// llm is s's LLM spec, when it is an LLM source.
func (s *Source) llm() (*LLM, bool) {
	if s == nil {
		return nil, false
	}
	l, ok := s.Spec.(*LLM)
	return l, ok
}
