package source

import (
	"context"
	"sync"
)

// DeltaFunc receives the pieces of a streaming answer as they arrive: the
// source's name and the new text. The text is empty for a piece that
// carries content other than text (a tool call): the answer moved on all
// the same.
type DeltaFunc func(source, text string)

type deltaKey struct{}

// WithDeltas returns ctx carrying f, for streaming sources to hand their
// tokens to while they still run. It is observability: what f is given
// never changes the answer.
func WithDeltas(ctx context.Context, f DeltaFunc) context.Context {
	return context.WithValue(ctx, deltaKey{}, f)
}

// deltas returns the DeltaFunc of ctx, or nil.
func deltas(ctx context.Context) DeltaFunc {
	f, _ := ctx.Value(deltaKey{}).(DeltaFunc)
	return f
}

// Racing returns ctx for one of several calls racing to answer one lane
// (a hedged failover's policy.FailoverHedge.Watch). It only watches the
// call's deltas: each one, the first above all (text or a tool call),
// asks begin, and is handed on to ctx's DeltaFunc only while begin reports
// that this call holds the lane, so that a loser's tokens are never mixed
// with the winner's. The call's answer is its own either way.
func Racing(ctx context.Context, begin func() bool) context.Context {
	parent := deltas(ctx)
	return WithDeltas(ctx, func(source, text string) {
		if begin() && parent != nil {
			parent(source, text)
		}
	})
}

// RelayDeltas is a policy.Relay for streaming sources: a coalesced chat
// call streams its tokens to every caller waiting for it, each through
// its own DeltaFunc, not the first caller's. A caller that joins late is
// first given, in order, the tokens already streamed (they are replayed,
// not skipped), then each new one as it comes. Once it leaves, nothing
// more is handed to it: leave waits for a token being handed over.
//
// Tokens are handed over one at a time under a lock, so every caller sees
// them in order; a caller slow to take one slows the others (an event
// stream's writes are bounded by its write timeout).
func RelayDeltas(shared context.Context) (context.Context, func(waiter context.Context) (leave func())) {
	h := &deltaHub{waiters: map[int]DeltaFunc{}}
	return WithDeltas(shared, h.send), h.join
}

// deltaHub is one shared call's tokens so far and its waiters.
type deltaHub struct {
	mu      sync.Mutex
	sent    []delta
	waiters map[int]DeltaFunc
	next    int
}

type delta struct{ source, text string }

func (h *deltaHub) send(source, text string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.sent = append(h.sent, delta{source, text})
	for _, f := range h.waiters {
		f(source, text)
	}
}

func (h *deltaHub) join(waiter context.Context) (leave func()) {
	f := deltas(waiter)
	if f == nil {
		return func() {}
	}
	h.mu.Lock()
	for _, d := range h.sent {
		f(d.source, d.text)
	}
	id := h.next
	h.next++
	h.waiters[id] = f
	h.mu.Unlock()
	return func() {
		h.mu.Lock()
		delete(h.waiters, id)
		h.mu.Unlock()
	}
}
