package route

import (
	"encoding/json"
	"log/slog"
	"strconv"
	"time"

	"github.com/citypopy/highway/fanout"
	"github.com/citypopy/highway/internal/metrics"
	"github.com/citypopy/highway/internal/report"
)

// Outcome is what one request's trip through its route came to: its
// report, and what each lane's policies did and its answer used. The zero
// value is a request the route never ran (refused before it started).
type Outcome struct {
	p   *pass
	rep *fanout.Report[json.RawMessage]
}

// Spent is what a request's LLM lanes spent, failovers' included.
type Spent struct {
	Tokens  int     // input and output
	CostUSD float64 // by the sources' prices; 0 without one
}

// Record records one request of the route, answered status after took,
// for client ("" for none): in the route's metrics, and from its outcome
// in each source's metrics and health and in what each lane's LLM
// spent. It returns what the request spent and, when logged, one log
// attribute per source (its outcome and latency).
func (rt *Route) Record(o Outcome, status int, took time.Duration, client string, logged bool) (spent Spent, sources []any) {
	if rt.metrics != nil {
		rt.metrics.Observe(status, took)
	}
	if o.rep == nil {
		return spent, nil
	}
	for i := range o.rep.Results {
		res, tr := &o.rep.Results[i], o.p.trace(i)
		marks, reason := tr.Marks(), report.Reason(res.Err) // classified once
		out := metrics.Outcome(reason, marks)
		if rt.sources != nil {
			rt.sources[i].Observe(out, res.Latency(), report.Attempts(res, tr), marks)
		}
		rt.ups[i].Health.Record(res, reason)
		for _, part := range rt.shape.Parts(res, tr, o.p.usageOf(i)) { // the lane's, or a failover's that spent
			by := rt.all[part.Source]
			if by == nil {
				by = rt.ups[i]
			}
			if rt.spend != nil {
				rt.spend.LLMSpend(rt.path, res.Name, by.Model, client, part.Usage, part.CostUSD)
			}
			by.Health.Spent(part.Usage, part.CostUSD)
			spent.Tokens += part.Usage.InputTokens + part.Usage.OutputTokens
			spent.CostUSD += part.CostUSD
		}
		if logged {
			sources = append(sources, slog.String(res.Name, out+" "+strconv.FormatFloat(float64(res.Latency().Microseconds())/1000, 'f', 1, 64)+"ms"))
		}
	}
	return spent, sources
}
