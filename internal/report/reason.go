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
)

// Reason classifies a source's error; "" for nil.
func Reason(err error) string {
	var (
		te *fanout.TimeoutError
		de *fanout.DeadlineError
		ns *fanout.NotStartedError
		pe *fanout.PanicError
		be *policy.BreakerOpenError
		se *fanout.SkippedError
	)
	switch {
	case err == nil:
		return ""
	case errors.As(err, &se):
		return ReasonNeed
	case errors.As(err, &ns):
		return ReasonNotStarted
	case errors.As(err, &te):
		return ReasonTimeout
	case errors.As(err, &de):
		return ReasonDeadline
	case errors.As(err, &pe):
		return ReasonPanic
	case errors.As(err, &be):
		return ReasonBreaker
	case errors.Is(err, context.Canceled):
		return ReasonCanceled
	case errors.Is(err, context.DeadlineExceeded):
		return ReasonDeadline
	}
	return ReasonFailed
}
