package server

import (
	"context"
	"encoding/json"

	"github.com/citypopy/highway/fanout"
	"github.com/citypopy/highway/policy"
	"github.com/citypopy/highway/source"
)

// pass is one request's trip through its route: the call every source is
// asked, the gather's tasks bound to it, and the trace of what each
// source's policies did. Everything that changes what an upstream is
// asked travels in the call, as an argument; the context carries only
// cancellation, deadlines and observability.
type pass struct {
	call   source.Call
	tasks  []fanout.Task[json.RawMessage]
	lanes  []lane
	traces []policy.Trace
	// inline holds the slices of a route of up to inlineLanes sources, so
	// that a pass is one allocation, not four.
	inline struct {
		tasks  [inlineLanes]fanout.Task[json.RawMessage]
		lanes  [inlineLanes]lane
		traces [inlineLanes]policy.Trace
	}
}

// inlineLanes is how many sources a pass holds without allocating more.
const inlineLanes = 4

// lane is one source of a pass: its upstream, called with the pass's
// call and the answers of its needs.
type lane struct {
	up    *upstream
	fetch source.Source // up's stack, or a failover over it
	call  *source.Call
	trace *policy.Trace
}

// newPass binds rt's tasks to one request's parameters and body. A bare
// mock's task is shared as it is: its answer depends on nothing of the
// call, and the gather plans it; a route of bare mocks alone has one
// pass, read only, that every request shares.
func (rt *route) newPass(params map[string]string, body []byte) *pass {
	if rt.shared != nil {
		return rt.shared
	}
	n := len(rt.tasks)
	p := &pass{call: source.Call{Params: params, Body: body}}
	if n <= inlineLanes {
		p.tasks, p.lanes, p.traces = p.inline.tasks[:n], p.inline.lanes[:n], p.inline.traces[:n]
	} else {
		p.tasks, p.lanes, p.traces = make([]fanout.Task[json.RawMessage], n), make([]lane, n), make([]policy.Trace, n)
	}
	copy(p.tasks, rt.tasks)
	for i, up := range rt.ups {
		if rt.fetchers[i] == nil {
			continue // a planned mock: the gather delivers it
		}
		p.lanes[i] = lane{up: up, fetch: rt.fetchers[i], call: &p.call, trace: &p.traces[i]}
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

// Fetch calls the upstream's whole stack with the pass's call, and the
// answers of the lane's needs when it has any.
func (l *lane) Fetch(ctx context.Context, needs map[string]json.RawMessage) (json.RawMessage, error) {
	call := l.call
	if needs != nil {
		c := *l.call
		c.Needs = needs
		call = &c
	}
	return l.fetch.Fetch(policy.WithTrace(ctx, l.trace), call)
}
