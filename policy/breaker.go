package policy

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/citypopy/highway/fanout"
)

// Breaker fails fast while its upstream keeps failing: after Failures
// failures in a row it opens and refuses every call at once for Cooldown,
// then lets one probe through (half-open), closing on its success and
// opening again on its failure. A call cut off by its caller (a client
// leaving, a hedge lost, a route deadline) counts neither way; only the
// source's own failures and timeouts do. An Arriving answer is judged at
// its end: a stream cut mid-way is a failure.
//
// Make one with NewBreaker; it is safe for concurrent use.
type Breaker[C, T any] struct {
	next     Source[C, T]
	cb       *gobreaker.TwoStepCircuitBreaker[T]
	cooldown time.Duration
}

// BreakerOpenError is the error of a call refused by an open breaker.
type BreakerOpenError struct {
	Name     string
	Cooldown time.Duration
}

// Error describes the failure.
func (e *BreakerOpenError) Error() string {
	return fmt.Sprintf("circuit breaker open: %s kept failing; failing fast for up to %v before probing again", e.Name, e.Cooldown)
}

// NewBreaker wraps next in a breaker named name (for messages) that opens
// after failures consecutive failures (at least 1) for cooldown.
func NewBreaker[C, T any](name string, next Source[C, T], failures int, cooldown time.Duration) *Breaker[C, T] {
	failures = max(failures, 1)
	return &Breaker[C, T]{
		next:     next,
		cooldown: cooldown,
		cb: gobreaker.NewTwoStepCircuitBreaker[T](gobreaker.Settings{
			Name:        name,
			MaxRequests: 1,
			Timeout:     cooldown,
			ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= uint32(failures) },
			IsExcluded:  func(err error) bool { _, ok := err.(notCounted); return ok },
		}),
	}
}

// notCounted carries an error the breaker must not count.
type notCounted struct{ error }

// Fetch calls next unless the breaker is open.
func (b *Breaker[C, T]) Fetch(ctx context.Context, call C) (v T, err error) {
	done, err := b.cb.Allow()
	if err != nil {
		TraceFrom(ctx).Mark(BreakerOpen)
		return v, &BreakerOpenError{Name: b.cb.Name(), Cooldown: b.cooldown}
	}
	defer func() {
		if p := recover(); p != nil {
			done(errors.New("panic"))
			panic(p)
		}
	}()
	v, err = b.next.Fetch(ctx, call)
	if a := arriving(v, err); a != nil { // an answer that fails part-way is a failure too
		a.AfterEnd(func(err error) { judge(ctx, done, err) })
	} else {
		judge(ctx, done, err)
	}
	return v, err
}

// judge tells the breaker how a call ended: a failure, unless its caller
// cut it off.
func judge(ctx context.Context, done func(error), err error) {
	if err != nil && ctx.Err() != nil && !ownTimeout(ctx) {
		done(notCounted{err})
	} else {
		done(err)
	}
}

// State is closed, half-open or open.
func (b *Breaker[C, T]) State() string { return b.cb.State().String() }

// ownTimeout reports whether ctx ended because the source's own timeout
// passed (its context.Cause is a *fanout.TimeoutError): the upstream was
// too slow, which the breaker should count.
func ownTimeout(ctx context.Context) bool {
	_, ok := errors.AsType[*fanout.TimeoutError](context.Cause(ctx))
	return ok
}
