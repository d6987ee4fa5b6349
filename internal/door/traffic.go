package door

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/citypopy/highway/internal/upstream"
	"github.com/citypopy/highway/policy"
	"github.com/citypopy/highway/source"
)

// recentPassages is how many of the door's last requests the live page
// is told of.
const recentPassages = 50

// modelTraffic is what one model has carried since it was built, for the
// live page: its requests, each of its lanes' calls as they run, and its
// last requests with their failovers and hedges.
type modelTraffic struct {
	inFlight, requests, failed, failovers, hedges atomic.Int64
	lanes                                         []*laneTraffic // in the order of use

	mu     sync.Mutex
	recent [recentPassages]passage // a ring: next is where the next one goes
	next   int
	seen   int64
}

// passage is a Passage with when it finished, to order the models'.
type passage struct {
	Passage
	at time.Time
}

// laneTraffic counts one model's calls to one of its sources: those
// running now (until their answer has ended), their number, and those
// that failed (a hedge's loser let go is not a failure).
type laneTraffic struct {
	source, model             string
	inFlight, calls, failures atomic.Int64
}

// watch is next, counted as calls on l.
func (l *laneTraffic) watch(next source.Source) source.Source {
	return policy.Func[*source.Call, *source.Answer](func(ctx context.Context, call *source.Call) (*source.Answer, error) {
		l.calls.Add(1)
		l.inFlight.Add(1)
		a, err := next.Fetch(ctx, call)
		if err != nil {
			l.ended(err)
			return nil, err
		}
		a.AfterEnd(l.ended)
		return a, nil
	})
}

func (l *laneTraffic) ended(err error) {
	l.inFlight.Add(-1)
	if err != nil && !errors.Is(err, context.Canceled) {
		l.failures.Add(1)
	}
}

// lanes are m's sources, each of its upstreams with its stack counted as
// m's calls on it, for its failover chain.
func (mt *modelTraffic) watch(use []string, ups map[string]*upstream.Upstream) map[string]*upstream.Upstream {
	out := make(map[string]*upstream.Upstream, len(use))
	for _, name := range use {
		up := *ups[name]
		l := &laneTraffic{source: name, model: up.Model}
		up.Fetch = l.watch(up.Fetch)
		mt.lanes = append(mt.lanes, l)
		out[name] = &up
	}
	return out
}

// Passage is one finished door request as the live page shows it.
type Passage struct {
	Seq      int64    `json:"seq"` // its place among its model's requests, from 1
	At       string   `json:"at"`  // when it finished, RFC 3339 with milliseconds
	Model    string   `json:"model"`
	Provider string   `json:"provider,omitempty"` // the source that answered
	Stream   bool     `json:"stream"`
	Status   int      `json:"status"`
	Attempts int      `json:"attempts"`
	Steps    []Step   `json:"steps,omitempty"` // the sources it moved on from, in order
	Marks    []string `json:"marks,omitempty"` // hedged, cache_hit, coalesced
	// FirstTokenMS is until its answer began (null if it never did); MS
	// the whole request.
	FirstTokenMS *float64 `json:"first_token_ms"`
	MS           float64  `json:"ms"`
	Tokens       int      `json:"tokens"`
	Error        string   `json:"error,omitempty"` // what failed it, before or after its stream began
}

// Step is a source a request moved on from, after a failure named in
// failover_on's words that took MS, or "lost_hedge": a hedge raced it and
// won (the passage is marked "hedged"; a hedge is not a failover).
type Step struct {
	Source string  `json:"source"`
	Reason string  `json:"reason"`
	MS     float64 `json:"ms"`
}

// record keeps the passage of one finished request.
func (mt *modelTraffic) record(out *Outcome, status int, took time.Duration) {
	now := time.Now()
	p := Passage{Model: out.Model, Provider: out.Provider, Stream: out.Stream, Status: status, Attempts: out.Attempts,
		MS: ms(took), At: now.UTC().Format("2006-01-02T15:04:05.000Z07:00")}
	p.Tokens, _ = out.Spent()
	if out.FirstToken > 0 {
		v := ms(out.FirstToken)
		p.FirstTokenMS = &v
	}
	if out.Err != nil {
		p.Error = out.Err.Error()
	}
	failedOver := false
	for _, st := range out.Steps {
		reason := "lost_hedge"
		if !is[*policy.HedgeLostError](st.Err) {
			reason, failedOver = upstream.Failure(st.Err), true
		}
		p.Steps = append(p.Steps, Step{Source: st.Name, Reason: reason, MS: ms(st.Latency)})
	}
	for _, m := range []struct {
		mark policy.Mark
		name string
	}{{policy.Hedged, "hedged"}, {policy.CacheHit, "cache_hit"}, {policy.Coalesced, "coalesced"}} {
		if out.Marks.Has(m.mark) {
			p.Marks = append(p.Marks, m.name)
		}
	}
	if failedOver {
		mt.failovers.Add(1)
	}
	if out.Marks.Has(policy.Hedged) {
		mt.hedges.Add(1)
	}
	if status >= 400 || out.Err != nil {
		mt.failed.Add(1)
	}
	mt.mu.Lock()
	mt.seen++
	p.Seq = mt.seen
	mt.recent[mt.next] = passage{p, now}
	mt.next = (mt.next + 1) % recentPassages
	mt.mu.Unlock()
}

// passages appends the last ones recorded to to.
func (mt *modelTraffic) passages(to []passage) []passage {
	mt.mu.Lock()
	defer mt.mu.Unlock()
	n := int(min(mt.seen, recentPassages))
	for i := range n {
		to = append(to, mt.recent[(mt.next-n+i+recentPassages)%recentPassages])
	}
	return to
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Traffic is what the live page is told of the door: each model's
// requests and lanes, in name order, and the last requests. A model
// configured as before keeps its counts and requests across a reload.
type Traffic struct {
	Models []ModelTraffic `json:"models"`
	Recent []Passage      `json:"recent"` // oldest first, at most 50
}

// ModelTraffic is one model since it was built (a reload that leaves it
// as it was keeps it): the requests
// running now and all it was asked, those that failed (an error status, or a stream
// failed once begun), failed over and hedged, and its lanes in the order
// it uses them.
type ModelTraffic struct {
	Name      string        `json:"name"`
	InFlight  int64         `json:"in_flight"`
	Requests  int64         `json:"requests"`
	Failed    int64         `json:"failed"`
	Failovers int64         `json:"failovers"`
	Hedges    int64         `json:"hedges"`
	Lanes     []LaneTraffic `json:"lanes"`
}

// LaneTraffic is one model's calls to one of its sources (Model is the
// provider's model): running now (until the answer has ended), made, and
// failed.
type LaneTraffic struct {
	Source   string `json:"source"`
	Model    string `json:"model,omitempty"`
	InFlight int64  `json:"in_flight"`
	Calls    int64  `json:"calls"`
	Failures int64  `json:"failures"`
}

// Traffic is the door's traffic now; nothing for a door of no models.
func (d *Door) Traffic() Traffic {
	t := Traffic{Models: []ModelTraffic{}, Recent: []Passage{}}
	if d == nil {
		return t
	}
	for _, name := range d.names {
		mt := d.models[name].traffic
		v := ModelTraffic{Name: name, InFlight: mt.inFlight.Load(), Requests: mt.requests.Load(), Failed: mt.failed.Load(),
			Failovers: mt.failovers.Load(), Hedges: mt.hedges.Load()}
		for _, l := range mt.lanes {
			v.Lanes = append(v.Lanes, LaneTraffic{Source: l.source, Model: l.model, InFlight: l.inFlight.Load(),
				Calls: l.calls.Load(), Failures: l.failures.Load()})
		}
		t.Models = append(t.Models, v)
	}
	var recent []passage
	for _, name := range d.names {
		recent = d.models[name].traffic.passages(recent)
	}
	slices.SortStableFunc(recent, func(a, b passage) int { return a.at.Compare(b.at) })
	for _, p := range recent[max(0, len(recent)-recentPassages):] {
		t.Recent = append(t.Recent, p.Passage)
	}
	return t
}

// Observe records one finished door request, answered with status in
// took, on the live page; a request that named no configured model is
// not shown.
func (d *Door) Observe(out *Outcome, status int, took time.Duration) {
	if d == nil {
		return
	}
	m := d.models[out.Model]
	if m == nil {
		return
	}
	m.traffic.record(out, status, took)
}
