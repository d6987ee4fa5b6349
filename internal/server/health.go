package server

import (
	"encoding/json"
	"sync/atomic"

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
}

// record notes one result of the source, whose report reason is given. A
// call never made (not started, skipped) is not one; a call cut off
// because its client left or its route's deadline passed is a call but not
// the source's failure.
func (h *health) record(res *fanout.Result[json.RawMessage], reason string) {
	switch reason {
	case report.ReasonNotStarted, report.ReasonNeed:
		return
	case "":
		h.recent.Observe(res.Latency())
	case report.ReasonCanceled, report.ReasonDeadline:
	default:
		h.failures.Add(1)
	}
	h.calls.Add(1)
}
