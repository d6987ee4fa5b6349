// Package policy keeps a gateway serving through flaky upstreams: each type
// here wraps a Source and is itself one, so they stack.
//
// A Source is called with the call's own argument, of type C: everything
// that decides what is asked of the upstream (for Highway, a
// *source.Call). Cache and Coalesce tell calls apart by a key derived from
// that argument alone, never from the context, which carries only
// cancellation, deadlines and observability. With C = map[string]T, the
// needs a fanout task is given, a policy stack is itself a fanout.Source.
//
// Highway stacks them, outermost first, as
//
//	Cache → Coalesce → Retry → Hedge → Breaker → Limit → Count → the source
//
// so that a cached answer costs nothing, identical calls in flight share one
// retried, hedged call, and the breaker, the concurrency limit and the
// attempt count see every single upstream call, hedges and retries
// included. What they do is recorded on the call's Trace.
//
// A Cache may have a second tier that other processes share (a
// SharedCache, such as Highway's in Redis), and through it share calls in
// flight too (SharedFlights): replicas behind one balancer then answer
// each other's repeats and make one upstream call for identical ones.
//
// An answer may still be arriving when its call returns (a stream, which
// returns at its first token: see Arriving). The policies then act on
// the call up to that first token (a retry, a hedge's race, a failover
// before the answer began) and hold what they hold for it until the
// answer's end; a failover after it began goes on with the next source's
// answer (Continuable).
//
// The policies that start goroutines (Hedge, Coalesce) start them with
// one helper that recovers: a panicking source fails its call with a *fanout.PanicError,
// and the process lives on.
package policy

import (
	"context"
	"errors"
	"time"
)

// Source is one upstream, called with an argument of type C that says
// everything about what is asked of it.
type Source[C, T any] interface {
	Fetch(ctx context.Context, call C) (T, error)
}

// Func adapts a plain function to a Source.
type Func[C, T any] func(ctx context.Context, call C) (T, error)

// Fetch calls f(ctx, call).
func (f Func[C, T]) Fetch(ctx context.Context, call C) (T, error) { return f(ctx, call) }

// IsRetryable reports whether err is worth another attempt: an error that
// says so with a Retryable() bool method. A context's end never is.
func IsRetryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	r, ok := errors.AsType[interface {
		error
		Retryable() bool
	}](err)
	return ok && r.Retryable()
}

// RetryAfter is how long err asks the caller to wait before trying again
// (an HTTP Retry-After), found with a RetryAfter() time.Duration method;
// 0 when it does not say.
func RetryAfter(err error) time.Duration {
	if r, ok := errors.AsType[interface {
		error
		RetryAfter() time.Duration
	}](err); ok {
		return r.RetryAfter()
	}
	return 0
}

// Count records each call to Next as one attempt on the call's Trace. Put
// it innermost, right around the real source, so that every upstream call
// (retries and hedges too) is counted once.
type Count[C, T any] struct {
	Next Source[C, T]
}

// Fetch counts one attempt and calls Next.
func (c *Count[C, T]) Fetch(ctx context.Context, call C) (T, error) {
	TraceFrom(ctx).AddAttempt()
	return c.Next.Fetch(ctx, call)
}

// sleep waits d unless ctx ends first; it reports whether it waited.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// keyOf says which calls are the same, for Cache and Coalesce: by key, or
// all of them when key is nil.
func keyOf[C any](call C, key func(C) string) string {
	if key == nil {
		return ""
	}
	return key(call)
}
