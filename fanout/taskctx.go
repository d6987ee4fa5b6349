package fanout

import (
	"context"
	"errors"
	"sync"
	"time"
)

// taskContext is the context a goroutine task runs under. It is its own
// small implementation rather than a context.WithCancel child because the
// standard cancelCtx allocates a children map for the first context derived
// from it, and net/http derives one for every upstream call: under load
// that map was the costliest part of a fan-out. taskContext implements
// AfterFunc, which the context package uses instead to hang children on it.
//
// It is cancelled with a cause by the gather: when the task's own timeout
// passes, when the gather's deadline passes or its caller cancels, and when
// the gather is over.
type taskContext struct {
	values   context.Context // the caller's context without its cancellation, for Value
	deadline time.Time       // zero when none
	trace    *Trace

	done chan struct{}
	mu   sync.Mutex
	err  error
	// cause is why it ended; context.Cause cannot see it (a custom
	// context has no cause there), Cause in this package can.
	cause  error
	afters []func()
	// first holds afters' first entries: net/http hangs one child on a
	// task's context per upstream call, so this saves an allocation each.
	first [2]func()
}

type taskKey struct{}

// detachedKey marks the context that detached gives.
type detachedKey struct{}

// detached is parent's values without its cancellation, for taskContext's
// Value. context.WithoutCancel alone would do, but calling Value on it
// from outside the context package boxes it again: 16 bytes on every
// lookup, and net/http looks up several per upstream call. Behind a
// WithValue, the context package's own lookup loop walks through it
// without allocating.
func detached(parent context.Context) context.Context {
	return context.WithValue(context.WithoutCancel(parent), detachedKey{}, true)
}

func newTaskContext(values context.Context, deadline time.Time, trace *Trace) *taskContext {
	c := &taskContext{values: values, deadline: deadline, trace: trace, done: make(chan struct{})}
	c.afters = c.first[:0]
	return c
}

// Deadline is the task's own or the gather's deadline, whichever is first.
func (c *taskContext) Deadline() (time.Time, bool) { return c.deadline, !c.deadline.IsZero() }

// Done is closed when the task's context ends.
func (c *taskContext) Done() <-chan struct{} { return c.done }

// Err is nil until Done is closed, then Canceled or DeadlineExceeded.
func (c *taskContext) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Value finds the task's trace, or the caller's values.
func (c *taskContext) Value(key any) any {
	switch key.(type) {
	case traceKey:
		return c.trace
	case taskKey:
		return c
	}
	return c.values.Value(key)
}

// AfterFunc runs f once the context ends; the stop function unregisters it.
// The context package calls it to hang derived contexts on this one.
func (c *taskContext) AfterFunc(f func()) (stop func() bool) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		go f() // the caller may hold a lock that f takes
		return func() bool { return false }
	}
	i := len(c.afters)
	c.afters = append(c.afters, f)
	c.mu.Unlock()
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.err != nil || c.afters[i] == nil {
			return false
		}
		c.afters[i] = nil
		return true
	}
}

// cancel ends the context with cause, once.
func (c *taskContext) cancel(cause error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.err, c.cause = context.Canceled, cause
	if errors.Is(cause, context.DeadlineExceeded) {
		c.err = context.DeadlineExceeded
	}
	close(c.done)
	afters := c.afters
	c.afters = nil
	c.mu.Unlock()
	for _, f := range afters {
		if f != nil {
			f()
		}
	}
}

// Cause is context.Cause for the contexts a gather gives its tasks and
// those derived from them: why the context ended, as precisely as known,
// such as the task's *TimeoutError or the gather's *DeadlineError.
// Policies use it to tell a source's own timeout from a caller leaving.
func Cause(ctx context.Context) error {
	cause := context.Cause(ctx)
	if cause != context.Canceled && cause != context.DeadlineExceeded {
		return cause
	}
	if tc, ok := ctx.Value(taskKey{}).(*taskContext); ok {
		tc.mu.Lock()
		defer tc.mu.Unlock()
		if tc.cause != nil {
			return tc.cause
		}
	}
	return cause
}
