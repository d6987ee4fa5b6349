package policy

import (
	"context"
	"sync"
	"time"

	"github.com/citypopy/highway/fanout"
	"github.com/citypopy/highway/internal/routine"
)

// Coalesce makes identical calls that are in flight at once share one call
// to Next: a thousand users asking for the weather together cost one
// upstream call. Calls are identical when Key gives their arguments the
// same key. Unlike a plain singleflight, the shared call runs detached
// from whichever caller started it, so one caller cancelling fails nobody
// else; it is cancelled when the last waiting caller has gone, and bounded
// by Timeout. It runs on a goroutine started with routine.Go (internal): if it panics,
// every waiter gets the *fanout.PanicError.
//
// The zero value, with Next set, coalesces every call into one key. It must
// not be copied after first use.
type Coalesce[C, T any] struct {
	Next Source[C, T]
	// Key says which calls are identical; nil means all are.
	Key func(C) string
	// Timeout bounds the shared call; 0 means only its callers do.
	Timeout time.Duration
	// Relay, if set, carries what the shared call reports while it runs
	// (a streaming source's tokens) to every caller waiting for it. Without
	// one, waiters hear only the answer.
	Relay Relay

	mu    sync.Mutex
	calls map[string]*sharedCall[T]
}

// Relay passes what a shared call reports as it runs on to each caller
// waiting for it, through that caller's own context. Coalesce calls it
// once per shared call with the context the call would run under; it
// returns the context to run it under instead, and join. Each waiter
// joins with its own context and calls leave once it stops waiting: from
// then on nothing more reaches it.
type Relay func(shared context.Context) (ctx context.Context, join func(waiter context.Context) (leave func()))

type sharedCall[T any] struct {
	done    chan struct{}
	v       T
	err     error
	waiters int
	cancel  context.CancelFunc
	join    func(waiter context.Context) (leave func())
}

// Fetch joins the call in flight for call's key, or starts one.
func (c *Coalesce[C, T]) Fetch(ctx context.Context, call C) (T, error) {
	key := keyOf(call, c.Key)
	c.mu.Lock()
	sc, joined := c.calls[key]
	if !joined {
		sc = c.start(ctx, key, call)
	}
	sc.waiters++
	c.mu.Unlock()
	if joined {
		TraceFrom(ctx).Mark(Coalesced)
	}
	leave := func() {}
	if sc.join != nil {
		leave = sc.join(ctx)
	}
	select {
	case <-sc.done:
		leave()
		return sc.v, sc.err
	case <-ctx.Done():
		leave()
		c.leave(key, sc)
		var zero T
		return zero, ctx.Err()
	}
}

// start launches the shared call; c.mu is held.
func (c *Coalesce[C, T]) start(ctx context.Context, key string, call C) *sharedCall[T] {
	sc := &sharedCall[T]{done: make(chan struct{})}
	// Detached from the first caller's cancellation, but keeping its values
	// (its trace records the shared call's attempts).
	sctx := context.WithoutCancel(ctx)
	if c.Relay != nil {
		sctx, sc.join = c.Relay(sctx)
	}
	if c.Timeout > 0 {
		sctx, sc.cancel = context.WithTimeoutCause(sctx, c.Timeout, &fanout.TimeoutError{Timeout: c.Timeout})
	} else {
		sctx, sc.cancel = context.WithCancel(sctx)
	}
	if c.calls == nil {
		c.calls = make(map[string]*sharedCall[T])
	}
	c.calls[key] = sc
	routine.Go(func() (T, error) { return c.Next.Fetch(sctx, call) }, func(v T, err error) {
		sc.cancel()
		sc.v, sc.err = v, err
		c.mu.Lock()
		if c.calls[key] == sc {
			delete(c.calls, key)
		}
		c.mu.Unlock()
		close(sc.done)
	})
	return sc
}

// leave drops one waiter, cancelling the shared call when none is left.
func (c *Coalesce[C, T]) leave(key string, sc *sharedCall[T]) {
	c.mu.Lock()
	defer c.mu.Unlock()
	sc.waiters--
	if sc.waiters == 0 {
		if c.calls[key] == sc {
			delete(c.calls, key) // a later caller starts afresh
		}
		sc.cancel()
	}
}
