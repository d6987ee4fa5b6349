package policy

import (
	"context"
	"math/rand/v2"
	"time"
)

// Retry calls Next again after a retryable failure, waiting an exponential
// backoff with full jitter between attempts, or longer when the upstream
// asked for it with Retry-After. It never waits past ctx's deadline: when
// the next attempt could not start before it, the last error is returned
// at once. Every wait ends when ctx does.
//
// Only wrap idempotent sources: a failed call may still have had its
// effect. The zero value, with Next set, makes a single attempt.
type Retry[C, T any] struct {
	Next Source[C, T]
	// Attempts is the most calls made, the first included; 0 or 1 means
	// no retry.
	Attempts int
	// Backoff is the ceiling of the first wait, doubling for each retry up
	// to MaxBackoff; the wait is drawn uniformly below the ceiling. 0 means
	// DefaultBackoff.
	Backoff time.Duration
	// MaxBackoff caps the ceiling; 0 means DefaultMaxBackoff.
	MaxBackoff time.Duration
	// Retryable decides which errors are retried; nil means IsRetryable.
	Retryable func(error) bool
}

// Defaults of Retry.
const (
	DefaultBackoff    = 50 * time.Millisecond
	DefaultMaxBackoff = 2 * time.Second
)

// Fetch calls Next until it succeeds, fails for good, or attempts or time
// run out.
func (r *Retry[C, T]) Fetch(ctx context.Context, call C) (T, error) {
	for attempt := 1; ; attempt++ {
		v, err := r.Next.Fetch(ctx, call)
		if err == nil || attempt >= r.Attempts || ctx.Err() != nil || !r.retryable(err) {
			return v, err
		}
		wait := max(r.backoff(attempt), RetryAfter(err))
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) <= wait {
			return v, err // the next attempt could not finish in time anyway
		}
		if !sleep(ctx, wait) {
			return v, err
		}
	}
}

func (r *Retry[C, T]) retryable(err error) bool {
	if r.Retryable != nil {
		return r.Retryable(err)
	}
	return IsRetryable(err)
}

// backoff is the full-jitter wait before retry number n (1 for the first).
func (r *Retry[C, T]) backoff(n int) time.Duration {
	base, ceiling := r.Backoff, r.MaxBackoff
	if base <= 0 {
		base = DefaultBackoff
	}
	if ceiling <= 0 {
		ceiling = DefaultMaxBackoff
	}
	d := base
	for i := 1; i < n && d < ceiling; i++ {
		d *= 2
	}
	d = min(d, ceiling)
	return time.Duration(rand.Int64N(int64(d) + 1))
}
