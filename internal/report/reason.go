package report

import (
	"context"
	"errors"

	"github.com/citypopy/highway/fanout"
	"github.com/citypopy/highway/policy"
)

// Reasons a source failed, as the report's "reason" field names them.
const (
	ReasonTimeout    = "timeout"      // the source's own timeout passed
	ReasonDeadline   = "deadline"     // the route's deadline passed while it ran
	ReasonNotStarted = "not_started"  // the route ended before a lane was free
	ReasonCanceled   = "canceled"     // the client went away
	ReasonPanic      = "panic"        // the source panicked
	ReasonBreaker    = "breaker_open" // the source's circuit breaker refused the call
	ReasonFailed     = "failed"       // the source answered an error
	ReasonNeed       = "need_failed"  // a need failed, so the source was not called
	ReasonHedgeLost  = "hedge_lost"   // a failover hedge's other source began its answer first
)

// Reason classifies a source's error; "" for nil.
func Reason(err error) string {
	// errors.AsType, not errors.As: As's targets escape, which cost six
	// allocations on every call, the nil and the common ones included.
	switch {
	case err == nil:
		return ""
	case is[*fanout.SkippedError](err):
		return ReasonNeed
	case is[*fanout.NotStartedError](err):
		return ReasonNotStarted
	case is[*fanout.TimeoutError](err):
		return ReasonTimeout
	case is[*fanout.DeadlineError](err):
		return ReasonDeadline
	case is[*fanout.PanicError](err):
		return ReasonPanic
	case is[*policy.BreakerOpenError](err):
		return ReasonBreaker
	case is[*policy.HedgeLostError](err):
		return ReasonHedgeLost
	case errors.Is(err, context.Canceled):
		return ReasonCanceled
	case errors.Is(err, context.DeadlineExceeded):
		return ReasonDeadline
	}
	return ReasonFailed
}

// is reports whether err's tree holds an error of type E.
func is[E error](err error) bool {
	_, ok := errors.AsType[E](err)
	return ok
}
