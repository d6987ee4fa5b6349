package fanout

import (
	"github.com/citypopy/highway/internal/routine"

	"context"
	"time"
)

// TimeoutError is a task's error when its own Task.Timeout passed first.
// It matches context.DeadlineExceeded with errors.Is.
type TimeoutError struct {
	Timeout time.Duration
}

// Error describes the failure.
func (e *TimeoutError) Error() string { return "timeout after " + e.Timeout.String() }

// Is reports whether target is context.DeadlineExceeded.
func (e *TimeoutError) Is(target error) bool { return target == context.DeadlineExceeded }

// DeadlineError is a task's error when the gather's Options.Timeout passed
// before the task finished. It matches context.DeadlineExceeded with
// errors.Is.
type DeadlineError struct {
	Timeout time.Duration
}

// Error describes the failure.
func (e *DeadlineError) Error() string { return "deadline of " + e.Timeout.String() + " exceeded" }

// Is reports whether target is context.DeadlineExceeded.
func (e *DeadlineError) Is(target error) bool { return target == context.DeadlineExceeded }

// NotStartedError is a task's error when the gather ended (by deadline or
// cancellation) before a free lane let the task start. Its Cause says why.
type NotStartedError struct {
	Cause error
}

// Error describes the failure.
func (e *NotStartedError) Error() string { return "not started: " + e.Cause.Error() }

// Unwrap returns the cause.
func (e *NotStartedError) Unwrap() error { return e.Cause }

// PanicError is a task's error when its source panicked (or called
// runtime.Goexit): Value is what was passed to panic, Stack the
// goroutine's stack. The panic is contained: the other tasks and the
// caller carry on. Package policy's goroutines fail with it too.
type PanicError = routine.PanicError

// SkippedError is a task's error when one of its needs failed and it has
// no fallback for it: the task was not called.
type SkippedError struct {
	// Need is the failed need; Err its error.
	Need string
	Err  error
}

// Error describes the skip.
func (e *SkippedError) Error() string {
	if _, ok := e.Err.(*SkippedError); ok {
		return "skipped: need " + e.Need + " was skipped"
	}
	return "skipped: need " + e.Need + " failed: " + e.Err.Error()
}
