package route

import (
	"context"
	"encoding/json"
	"sync/atomic"

	"github.com/citypopy/highway/fanout"
	"github.com/citypopy/highway/internal/upstream"
	"github.com/citypopy/highway/policy"
	"github.com/citypopy/highway/source"
)

// pass is one request's trip through its route: the call every source is
// asked, the gather's tasks bound to it, the trace of what each source's
// policies did and the usage of each lane's answer. Everything that
// changes what an upstream is asked travels in the call, as an argument,
// and every answer comes back as a value; the context carries only
// cancellation, deadlines and observability.
type pass struct {
	call   source.Call
	tasks  []fanout.Task[json.RawMessage]
	lanes  []lane
	traces []policy.Trace
	// usage is each lane's answer's, stored by the lane's goroutine: one
	// the gather abandoned may store it while the report is written.
	usage []atomic.Pointer[source.Usage]
	// relay, when the request streams, writes each lane's answer as it
	// arrives, and moved each move a lane's failover makes before its
	// answer begins; both are set before the gather starts.
	relay func(ctx context.Context, i int, a *source.Answer)
	moved func(i int, from policy.FailoverStep, to string)
	// inline holds the slices of a route of up to inlineLanes sources, so
	// that a pass is one allocation, not five.
	inline struct {
		tasks  [inlineLanes]fanout.Task[json.RawMessage]
		lanes  [inlineLanes]lane
		traces [inlineLanes]policy.Trace
		usage  [inlineLanes]atomic.Pointer[source.Usage]
	}
}

// inlineLanes is how many sources a pass holds without allocating more.
const inlineLanes = 4

// lane is one source of a pass: its upstream, called with the pass's
// call and the answers of its needs.
type lane struct {
	p     *pass
	i     int
	up    *upstream.Upstream
	fetch source.Source // up's stack, or an *upstream.Failover over it
	call  *source.Call
	trace *policy.Trace
}

// newPass binds rt's tasks to one request's parameters and body. A bare
// mock's task is shared as it is: its answer depends on nothing of the
// call, and the gather plans it; a route of bare mocks alone has one
// pass, read only, that every request shares.
func (rt *Route) newPass(params map[string]string, body []byte) *pass {
	if rt.shared != nil {
		return rt.shared
	}
	n := len(rt.tasks)
	p := &pass{call: source.Call{Params: params, Body: body}}
	if n <= inlineLanes {
		p.tasks, p.lanes, p.traces, p.usage = p.inline.tasks[:n], p.inline.lanes[:n], p.inline.traces[:n], p.inline.usage[:n]
	} else {
		p.tasks, p.lanes, p.traces, p.usage = make([]fanout.Task[json.RawMessage], n), make([]lane, n), make([]policy.Trace, n), make([]atomic.Pointer[source.Usage], n)
	}
	copy(p.tasks, rt.tasks)
	for i, up := range rt.ups {
		if rt.fetchers[i] == nil {
			continue // a planned mock: the gather delivers it
		}
		p.lanes[i] = lane{p: p, i: i, up: up, fetch: rt.fetchers[i], call: &p.call, trace: &p.traces[i]}
		p.tasks[i].Source = &p.lanes[i]
	}
	return p
}

// trace is what the policies of task i did, or nil when it has none.
func (p *pass) trace(i int) *policy.Trace {
	if i < len(p.traces) {
		return &p.traces[i]
	}
	return nil
}

// usageOf is what lane i's answer used, or nil.
func (p *pass) usageOf(i int) *source.Usage {
	if i < len(p.usage) {
		return p.usage[i].Load()
	}
	return nil
}

// Fetch calls the upstream's whole stack with the pass's call, and the
// answers of the lane's needs when it has any. The answer is relayed as
// it arrives when the request streams, and the lane ends with it: its
// value, and its usage kept for the report.
func (l *lane) Fetch(ctx context.Context, needs map[string]json.RawMessage) (json.RawMessage, error) {
	call := l.call
	if needs != nil {
		c := *l.call
		c.Needs = needs
		call = &c
	}
	ctx = policy.WithTrace(ctx, l.trace)
	var a *source.Answer
	var err error
	if f, ok := l.fetch.(*upstream.Failover); ok && l.p.moved != nil { // a stream shows its moves as they happen
		a, err = f.FetchTelling(ctx, call, func(from policy.FailoverStep, to string) { l.p.moved(l.i, from, to) })
	} else {
		a, err = l.fetch.Fetch(ctx, call)
	}
	if err != nil {
		return nil, err
	}
	if l.p.relay != nil {
		l.p.relay(ctx, l.i, a)
	}
	v, err := a.Value(ctx)
	if u, ok := a.Usage(); ok && err == nil {
		kept := u // allocated only for an answer with usage
		l.p.usage[l.i].Store(&kept)
	}
	return v, err
}
