package upstream

import (
	"encoding/json"
	"math"
	"sync/atomic"
	"time"

	"github.com/citypopy/highway/fanout"
	"github.com/citypopy/highway/internal/report"
	"github.com/citypopy/highway/policy"
	"github.com/citypopy/highway/source"
)

// Pool is the connection pool every HTTP and LLM source of the process
// shares, across reloads: a new config keeps the warm connections.
var Pool = source.NewTransport()

// Health is what routes saw of a source, for the health page: calls,
// failures and recent latencies, recorded from each gather's results, so
// a planned mock and a fetched source are counted alike.
type Health struct {
	Calls    atomic.Int64
	Failures atomic.Int64
	Recent   policy.Latencies
	// outcomes are the last recentCalls calls, true for a failure, in a
	// ring written without a lock: a slot read while being rewritten is
	// either outcome, which a rate over 100 calls does not mind.
	outcomes [recentCalls]atomic.Bool
	next     atomic.Int64
	Last     atomic.Pointer[LastError]
	// An LLM source's tokens and cost (in nano-dollars, so that a
	// fraction of a cent adds up exactly) since it was built.
	InTokens, OutTokens, CostNanoUSD atomic.Int64
}

// Spent adds one answer's tokens and cost.
func (h *Health) Spent(u report.Usage, costUSD float64) {
	h.InTokens.Add(int64(u.InputTokens))
	h.OutTokens.Add(int64(u.OutputTokens))
	h.CostNanoUSD.Add(int64(math.Round(costUSD * 1e9)))
}

// recentCalls is the window of the recent error rate.
const recentCalls = 100

// LastError is a source's most recent failure, for the health page.
type LastError struct {
	Reason  string    `json:"reason"`
	Message string    `json:"message"`
	At      time.Time `json:"at"`
}

// Record notes one result of the source, whose report reason is given. A
// call never made (not started, skipped) is not one; a call cut off
// because its client left or its route's deadline passed is a call but not
// the source's failure.
func (h *Health) Record(res *fanout.Result[json.RawMessage], reason string) {
	failed := false
	switch reason {
	case report.ReasonNotStarted, report.ReasonNeed:
		return
	case "":
		h.Recent.Observe(res.Latency())
	case report.ReasonCanceled, report.ReasonDeadline:
	default:
		failed = true
		h.Failures.Add(1)
		msg := ""
		if res.Err != nil {
			msg = res.Err.Error()
		}
		if len(msg) > 300 {
			msg = msg[:300] + "…"
		}
		h.Last.Store(&LastError{Reason: reason, Message: msg, At: time.Now().UTC()})
	}
	h.Calls.Add(1)
	h.outcomes[(h.next.Add(1)-1)%recentCalls].Store(failed)
}

// RecentErrorRate is the share of failures among the last calls, up to
// recentCalls of them, and how many that is.
func (h *Health) RecentErrorRate() (rate float64, calls int) {
	calls = int(min(h.next.Load(), recentCalls))
	if calls == 0 {
		return 0, 0
	}
	failed := 0
	for i := range calls {
		if h.outcomes[i].Load() {
			failed++
		}
	}
	return float64(failed) / float64(calls), calls
}
