// Package policy keeps a gateway serving through flaky upstreams: each type
// here wraps a fanout.Source and is itself one, so they stack.
//
// Highway stacks them, outermost first, as
//
//	Cache → Coalesce → Retry → Hedge → Breaker → Limit → Count → the source
//
// so that a cached answer costs nothing, identical calls in flight share one
// retried, hedged call, and the breaker, the concurrency limit and the
// attempt count see every single upstream call, hedges and retries
// included. What they do is recorded on the task's fanout.Trace.
package policy

import (
	"context"
	"errors"
	"time"

	"github.com/citypopy/highway/fanout"
)

// IsRetryable reports whether err is worth another attempt: an error that
// says so with a Retryable() bool method. A context's end never is.
func IsRetryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var r interface{ Retryable() bool }
	return errors.As(err, &r) && r.Retryable()
}

// RetryAfter is how long err asks the caller to wait before trying again
// (an HTTP Retry-After), found with a RetryAfter() time.Duration method;
// 0 when it does not say.
func RetryAfter(err error) time.Duration {
	var r interface{ RetryAfter() time.Duration }
	if errors.As(err, &r) {
		return r.RetryAfter()
	}
	return 0
}

// Count records each call to Next as one attempt on the task's Trace. Put
// it innermost, right around the real source, so that every upstream call
// (retries and hedges too) is counted once.
type Count[T any] struct {
	Next fanout.Source[T]
}

// Fetch counts one attempt and calls Next.
func (c *Count[T]) Fetch(ctx context.Context) (T, error) {
	fanout.TraceFrom(ctx).AddAttempt()
	return c.Next.Fetch(ctx)
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
func keyOf(ctx context.Context, key func(context.Context) string) string {
	if key == nil {
		return ""
	}
	return key(ctx)
}
