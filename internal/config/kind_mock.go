package config

import (
	"encoding/json"
	"net/http"

	"github.com/citypopy/highway/source"
)

// Mock is a mock source: a built-in slow district that answers Data after
// Latency, give or take Jitter, failing at FailureRate. FailureStatus,
// RetryAfter and Fault shape its failures when highway mock serves it over
// HTTP.
type Mock struct {
	// Latency is how long each call takes. Default 0.
	Latency Duration `yaml:"latency"`
	// Jitter spreads the latency evenly by up to this much either way.
	// Default 0.
	Jitter Duration `yaml:"jitter"`
	// FailureRate is the fraction of calls that fail. Default 0.
	FailureRate Ratio `yaml:"failure_rate"`
	// Tail gives it a heavy tail: rate of calls take latency instead.
	Tail *Tail `yaml:"tail"`
	// FailureStatus is the HTTP status of a failure when highway mock
	// serves the source. Default 500.
	FailureStatus int `yaml:"failure_status"`
	// RetryAfter is the Retry-After a failure served by highway mock
	// carries. Default: none.
	RetryAfter Duration `yaml:"retry_after"`
	// Fault, for highway mock, makes every call misbehave: hang (never
	// answer), html (a non-JSON page) or huge (a 2 MiB body).
	Fault string `yaml:"fault"`
	// Data is the JSON the source answers, written as YAML. Default null.
	Data json.RawMessage `yaml:"data"`
	// IgnoreContext makes the district sleep through cancellation (the
	// time.Sleep pitfall), to show Highway cutting it off at its timeout
	// and marking it abandoned.
	IgnoreContext bool `yaml:"ignore_context"`
}

// Source is the in-process mock m describes, for a gateway's lane and for
// highway mock's endpoints alike.
func (m *Mock) Source() *source.Mock {
	sm := &source.Mock{Latency: m.Latency.Std(), Jitter: m.Jitter.Std(), FailureRate: float64(m.FailureRate), Data: m.Data,
		IgnoreContext: m.IgnoreContext}
	if m.Tail != nil {
		sm.TailRate, sm.TailLatency = float64(m.Tail.Rate), m.Tail.Latency.Std()
	}
	return sm
}

// Build makes the mock; it calls no upstream.
func (m *Mock) Build(string, http.RoundTripper) source.Source { return m.Source() }

// defaults: a mock's call may always be repeated.
func (m *Mock) defaults(s *Source) {
	if s.Idempotent == nil {
		yes := true
		s.Idempotent = &yes
	}
}

func (m *Mock) validate(d *decoder, p string, _ *Source) {
	if m.Latency < 0 {
		d.failAt(p+".latency", "must not be negative")
	}
	if m.Jitter < 0 {
		d.failAt(p+".jitter", "must not be negative")
	}
	if m.Tail != nil && (m.Tail.Rate == 0 || m.Tail.Latency <= 0) {
		d.failAt(p+".tail", "needs a rate and a positive latency, such as {rate: 1%%, latency: 1s}")
	}
	if m.FailureStatus != 0 && (m.FailureStatus < 400 || m.FailureStatus > 599) {
		d.failAt(p+".failure_status", "want an HTTP error status from 400 to 599, got %d", m.FailureStatus)
	}
	if m.RetryAfter < 0 {
		d.failAt(p+".retry_after", "must not be negative")
	}
	switch m.Fault {
	case "", "hang", "html", "huge":
	default:
		d.failAt(p+".fault", "unknown fault %q (hang, html or huge)", m.Fault)
	}
}

// templates: a mock renders nothing.
func (m *Mock) templates() map[string]string { return nil }
