package server

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

// pool is the connection pool every HTTP and LLM source of the process
// shares, across reloads: a new config keeps the warm connections.
var pool = source.NewTransport()

// health is what routes saw of a source, for the health page: calls,
// failures and recent latencies, recorded from each gather's results, so
// a planned mock and a fetched source are counted alike.
type health struct {
	calls    atomic.Int64
	failures atomic.Int64
	recent   policy.Latencies
	// outcomes are the last recentCalls calls, true for a failure, in a
	// ring written without a lock: a slot read while being rewritten is
	// either outcome, which a rate over 100 calls does not mind.
	outcomes [recentCalls]atomic.Bool
	next     atomic.Int64
	last     atomic.Pointer[lastError]
	// An LLM source's tokens and cost (in nano-dollars, so that a
	// fraction of a cent adds up exactly) since it was built.
	inTokens, outTokens, costNanoUSD atomic.Int64
}

// spent adds one answer's tokens and cost.
func (h *health) spent(u report.Usage, costUSD float64) {
	h.inTokens.Add(int64(u.InputTokens))
	h.outTokens.Add(int64(u.OutputTokens))
	h.costNanoUSD.Add(int64(math.Round(costUSD * 1e9)))
}

// recentCalls is the window of the recent error rate.
const recentCalls = 100

// lastError is a source's most recent failure, for the health page.
type lastError struct {
	Reason  string    `json:"reason"`
	Message string    `json:"message"`
	At      time.Time `json:"at"`
}

// record notes one result of the source, whose report reason is given. A
// call never made (not started, skipped) is not one; a call cut off
// because its client left or its route's deadline passed is a call but not
// the source's failure.
func (h *health) record(res *fanout.Result[json.RawMessage], reason string) {
	failed := false
	switch reason {
	case report.ReasonNotStarted, report.ReasonNeed:
		return
	case "":
		h.recent.Observe(res.Latency())
	case report.ReasonCanceled, report.ReasonDeadline:
	default:
		failed = true
		h.failures.Add(1)
		msg := ""
		if res.Err != nil {
			msg = res.Err.Error()
		}
		if len(msg) > 300 {
			msg = msg[:300] + "…"
		}
		h.last.Store(&lastError{Reason: reason, Message: msg, At: time.Now().UTC()})
	}
	h.calls.Add(1)
	h.outcomes[(h.next.Add(1)-1)%recentCalls].Store(failed)
}

// recentErrorRate is the share of failures among the last calls, up to
// recentCalls of them, and how many that is.
func (h *health) recentErrorRate() (rate float64, calls int) {
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
