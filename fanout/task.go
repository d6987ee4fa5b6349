package fanout

import (
	"context"
	"time"
)

// Source is one slow thing to fetch. Fetch should return promptly once ctx is
// done; a Source that does not is abandoned at its deadline (see Run.Wait).
type Source[T any] interface {
	Fetch(ctx context.Context) (T, error)
}

// Func adapts a plain function to a Source.
type Func[T any] func(ctx context.Context) (T, error)

// Fetch calls f(ctx).
func (f Func[T]) Fetch(ctx context.Context) (T, error) { return f(ctx) }

// Task is one named source in a gather.
//
// The zero Timeout means the source is bounded only by the gather's deadline
// and its context. Without Needs a task starts as soon as a lane is free.
type Task[T any] struct {
	// Name identifies the source in the report. Names must differ when any
	// task has Needs.
	Name string
	// Source is what is fetched. It must not be nil.
	Source Source[T]
	// Timeout bounds this source alone, measured from its own start.
	Timeout time.Duration
	// Needs names the tasks whose values this one uses: it starts once all
	// of them have finished, and its source reads their values with
	// Inputs. When a need fails the task is not called and its error is a
	// *SkippedError, unless Fallbacks has a value for that need. Check
	// says whether a set of tasks can run; Start resolves every task with
	// its error if not.
	Needs []string
	// Fallbacks stand in for needs that fail, by need name: the task then
	// runs with the fallback as that need's value, and its Result lists
	// the need in Fallbacks.
	Fallbacks map[string]T
}

// Options configures one gather. The zero value runs every task at once,
// bounded only by the caller's context.
type Options struct {
	// Lanes is how many tasks may be in flight at once. 0 means one lane per
	// task (all at once); 1 is the single lane, tasks one after another in
	// the order given.
	Lanes int
	// Timeout is the deadline of the whole gather, from its start. 0 means
	// only ctx's deadline applies.
	Timeout time.Duration
	// Grace is how long Wait lets the goroutines of tasks that were cut off
	// (by a timeout, the deadline or cancellation) finish before it gives up
	// on them and marks them Abandoned. 0 means DefaultGrace. The report's
	// timings never include this wait.
	Grace time.Duration
}

// DefaultGrace is the Grace used when Options.Grace is 0. A source that
// honours its context returns within microseconds of cancellation, far
// inside it.
const DefaultGrace = 20 * time.Millisecond

// Planned is implemented by sources whose answer is known the moment a call
// starts and only takes time to arrive, such as a mock. Plan returns that
// answer and how long it takes; Start then delivers it on the gather's own
// timer instead of running Fetch in a goroutine, so a planned source costs
// no goroutine, no channel and no timer of its own. Fetch must behave the
// same way, for callers outside a gather.
type Planned[T any] interface {
	Source[T]
	Plan() (v T, err error, after time.Duration)
}
