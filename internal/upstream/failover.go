package upstream

import (
	"context"
	"errors"
	"net"
	"slices"

	"github.com/citypopy/highway/fanout"
	"github.com/citypopy/highway/internal/config"
	"github.com/citypopy/highway/policy"
	"github.com/citypopy/highway/source"
)

// Failover is a source's stack with its failover list after it.
type Failover = policy.Failover[*source.Call, *source.Answer]

// FailoverOf is source name's stack with its failover list after it, as
// sc configures it, or nil when it has none. Each alternate is the
// alternate source's own whole stack.
func FailoverOf(name string, sc *config.Source, up *Upstream, sources map[string]*Upstream) *Failover {
	if len(sc.Failover) == 0 {
		return nil
	}
	return Chain(append([]string{name}, sc.Failover...), sc.FailoverOn, sc.FailoverHedge, sources, up.Begins, up.FailoverHedges)
}

// Chain is a failover over the named sources' whole stacks, in order,
// moving on for the failures on names (failover_on's words, its default
// when empty), and hedged as h says: observing how long the first took to
// begin its answers in begins and spending the hedges from budget.
func Chain(names, on []string, h *config.Hedge, sources map[string]*Upstream, begins *policy.Latencies, budget *policy.Budget) *Failover {
	f := &Failover{Next: sources[names[0]].Fetch, Name: names[0], On: failsOverOn(on)}
	for _, alt := range names[1:] {
		f.Alternates = append(f.Alternates, policy.Alternate[*source.Call, *source.Answer]{Name: alt, Source: sources[alt].Fetch})
	}
	if h != nil {
		f.Hedge = &policy.FailoverHedge{Delay: h.Delay.Fixed, Percentile: h.Delay.Percentile, Observed: begins, Budget: budget}
	}
	return f
}

// Failure names what kind of failure err is, in failover_on's words:
// 429, 408, 5xx, 4xx, first_token, stall, stream, timeout, breaker_open or
// connection.
func Failure(err error) string { return failure(err) }

// failsOverOn is the test of an error against failover_on (its default
// when empty).
func failsOverOn(reasons []string) func(error) bool {
	if len(reasons) == 0 {
		reasons = config.DefaultFailoverOn
	}
	return func(err error) bool { return slices.Contains(reasons, failure(err)) }
}

// failure names what kind of failure err is, in failover_on's words.
func failure(err error) string {
	var status *source.StatusError
	var stream *source.StreamError
	var transport *source.TransportError
	var breaker *policy.BreakerOpenError
	var timeout *fanout.TimeoutError
	var netErr net.Error
	switch {
	case errors.As(err, &status):
		switch c := status.Code; {
		case c == 429:
			return "429"
		case c == 408:
			return "408"
		case c >= 500:
			return "5xx"
		default:
			return "4xx"
		}
	case errors.As(err, &stream):
		switch stream.Kind {
		case source.StreamFirstToken:
			return "first_token"
		case source.StreamStall:
			return "stall"
		case source.StreamHeaders:
			return "timeout"
		}
		return "stream"
	case errors.As(err, &breaker):
		return "breaker_open"
	case errors.As(err, &timeout), errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return "timeout"
	case errors.As(err, &transport):
		return "connection"
	default: // a mock's failure, an answer that is not JSON or too large: the upstream's fault
		return "5xx"
	}
}
