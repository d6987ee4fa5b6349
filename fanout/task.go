package fanout

import (
	"context"
	"time"
)

// Source is one slow thing to fetch. Fetch is given the values of the
// task's needs by name (nil for a task without needs) and should return
// promptly once ctx is done; a Source that does not is cut off at its
// deadline and, if it still runs a grace period later, abandoned (see
// Result.Abandoned).
type Source[T any] interface {
	Fetch(ctx context.Context, needs map[string]T) (T, error)
}

// Func adapts a plain function to a Source.
type Func[T any] func(ctx context.Context, needs map[string]T) (T, error)

// Fetch calls f(ctx, needs).
func (f Func[T]) Fetch(ctx context.Context, needs map[string]T) (T, error) { return f(ctx, needs) }

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
	// Timeout bounds this source alone, measured from its own start. When
	// it passes, the source's context ends with a *TimeoutError as its
	// context.Cause.
	Timeout time.Duration
	// Needs names the tasks whose values this one uses: it starts once all
	// of them have finished, and its Fetch is given their values. When a
	// need fails the task is not called and its error is a *SkippedError,
	// unless Fallbacks has a value for that need. Check says whether a set
	// of tasks can run; Start resolves every task with its error if not.
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
	// Timeout is the deadline of the whole gather, from its start: the
	// tasks' contexts then end with a *DeadlineError as their
	// context.Cause. 0 means only ctx's deadline applies.
	Timeout time.Duration
	// Grace is how long a gather lets the goroutines of tasks that were cut
	// off (by a timeout, the deadline or cancellation) finish before it
	// gives up on them and marks them Abandoned. 0 means DefaultGrace. The
	// report's timings never include this wait.
	Grace time.Duration
}

// DefaultGrace is the Grace used when Options.Grace is 0. A source that
// honours its context returns within microseconds of cancellation, far
// inside it.
const DefaultGrace = 20 * time.Millisecond

// Planned is implemented by sources whose answer is known the moment a
// call starts and only takes time to arrive, such as a mock district: Plan
// returns that answer and how long it takes, and the gather delivers it on
// its own timer instead of running Fetch in a goroutine. Fetch must behave
// the same way, for callers outside a gather.
//
// It is a speed trick, kept public because it pays for itself: in
// BenchmarkGatherOfMocks (three mocks of 1-3ms, a thousand gathers at
// once on 2 cores) a planned gather costs about 3.2 µs of CPU and 12
// allocations, against 11.3 µs and 29 for the same mocks run as
// goroutines behind a timer each, which is most of what keeps the
// embedded city's CPU per request below the hand-written fan-out's
// (bench/RESULTS.md).
type Planned[T any] interface {
	Source[T]
	Plan() (v T, after time.Duration, err error)
}
