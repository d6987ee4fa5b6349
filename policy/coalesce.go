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
// An Arriving answer (a stream) is shared as the value it is: every
// caller gets the same one and reads it at its own pace from its first
// token, and a caller that comes while it still streams joins it too.
// The shared call lives until the answer has ended, or until every
// caller's context has.
//
// The zero value, with Next set, coalesces every call into one key. It must
// not be copied after first use.
type Coalesce[C, T any] struct {
	Next Source[C, T]
	// Key says which calls are identical; nil means all are.
	Key func(C) string
	// Timeout bounds the shared call; 0 means only its callers do.
	Timeout time.Duration

	mu    sync.Mutex
	calls map[string]*sharedCall[T]
}

type sharedCall[T any] struct {
	done    chan struct{} // closed once the call has returned v and err
	v       T
	err     error
	waiters int // callers whose context lives; c.mu guards it
	cancel  context.CancelFunc
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
	select {
	case <-sc.done:
	case <-ctx.Done():
		c.leave(key, sc)
		var zero T
		return zero, ctx.Err()
	}
	if sc.err != nil {
		c.leave(key, sc)
		return sc.v, sc.err
	}
	a := arriving(sc.v, nil)
	if a == nil {
		c.leave(key, sc)
		return sc.v, nil
	}
	// The caller reads on while the answer arrives: it leaves when its
	// context ends, or when the answer does.
	stop := context.AfterFunc(ctx, func() { c.leave(key, sc) })
	a.AfterEnd(func(error) {
		if stop() {
			c.leave(key, sc)
		}
	})
	return sc.v, nil
}

// start launches the shared call; c.mu is held.
func (c *Coalesce[C, T]) start(ctx context.Context, key string, call C) *sharedCall[T] {
	sc := &sharedCall[T]{done: make(chan struct{})}
	// Detached from the first caller's cancellation, but keeping its
	// values, which are observability only: its trace records the shared
	// call's attempts, its span is the shared call's parent.
	sctx := context.WithoutCancel(ctx)
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
		sc.v, sc.err = v, err
		close(sc.done)
		end := func(error) { // an answer still arriving is joined until its end
			c.mu.Lock()
			c.forget(key, sc)
			c.mu.Unlock()
			sc.cancel()
		}
		if a := arriving(v, err); a != nil {
			a.AfterEnd(end)
		} else {
			end(err)
		}
	})
	return sc
}

// leave drops one waiter, cancelling the shared call when none is left.
func (c *Coalesce[C, T]) leave(key string, sc *sharedCall[T]) {
	c.mu.Lock()
	defer c.mu.Unlock()
	sc.waiters--
	if sc.waiters == 0 {
		c.forget(key, sc) // a later caller starts afresh
		sc.cancel()
	}
}

// forget drops sc from the calls in flight, unless another call has
// taken its key since; c.mu is held.
func (c *Coalesce[C, T]) forget(key string, sc *sharedCall[T]) {
	if c.calls[key] == sc {
		delete(c.calls, key)
	}
}
