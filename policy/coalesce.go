package policy

import (
	"context"
	"sync"
	"time"

	"github.com/citypopy/highway/fanout"
)

// Coalesce makes identical calls that are in flight at once share one call
// to Next: a thousand users asking for the weather together cost one
// upstream call. Unlike a plain singleflight, the shared call runs detached
// from whichever caller started it, so one caller cancelling fails nobody
// else; it is cancelled when the last waiting caller has gone, and bounded
// by Timeout.
//
// The zero value, with Next set, coalesces every call into one key. It must
// not be copied after first use.
type Coalesce[T any] struct {
	Next fanout.Source[T]
	// Key says which calls are identical; nil means all are.
	Key func(ctx context.Context) string
	// Timeout bounds the shared call; 0 means only its callers do.
	Timeout time.Duration

	mu    sync.Mutex
	calls map[string]*sharedCall[T]
}

type sharedCall[T any] struct {
	done    chan struct{}
	v       T
	err     error
	waiters int
	cancel  context.CancelFunc
}

// Fetch joins the call in flight for ctx's key, or starts one.
func (c *Coalesce[T]) Fetch(ctx context.Context) (T, error) {
	key := keyOf(ctx, c.Key)
	c.mu.Lock()
	call, joined := c.calls[key]
	if !joined {
		call = c.start(ctx, key)
	}
	call.waiters++
	c.mu.Unlock()
	if joined {
		fanout.TraceFrom(ctx).Mark(fanout.Coalesced)
	}
	select {
	case <-call.done:
		return call.v, call.err
	case <-ctx.Done():
		c.leave(key, call)
		var zero T
		return zero, ctx.Err()
	}
}

// start launches the shared call; c.mu is held.
func (c *Coalesce[T]) start(ctx context.Context, key string) *sharedCall[T] {
	call := &sharedCall[T]{done: make(chan struct{})}
	// Detached from the first caller's cancellation, but keeping its values
	// (its trace records the shared call's attempts).
	sctx := context.WithoutCancel(ctx)
	if c.Timeout > 0 {
		sctx, call.cancel = context.WithTimeoutCause(sctx, c.Timeout, &fanout.TimeoutError{Timeout: c.Timeout})
	} else {
		sctx, call.cancel = context.WithCancel(sctx)
	}
	if c.calls == nil {
		c.calls = make(map[string]*sharedCall[T])
	}
	c.calls[key] = call
	go func() {
		defer call.cancel()
		call.v, call.err = c.Next.Fetch(sctx)
		c.mu.Lock()
		if c.calls[key] == call {
			delete(c.calls, key)
		}
		c.mu.Unlock()
		close(call.done)
	}()
	return call
}

// leave drops one waiter, cancelling the shared call when none is left.
func (c *Coalesce[T]) leave(key string, call *sharedCall[T]) {
	c.mu.Lock()
	defer c.mu.Unlock()
	call.waiters--
	if call.waiters == 0 {
		if c.calls[key] == call {
			delete(c.calls, key) // a later caller starts afresh
		}
		call.cancel()
	}
}
