package fanout

import (
	"context"
	"errors"
	"slices"
	"time"
)

// Result is what one task produced.
type Result[T any] struct {
	// Name and Index identify the task (Index is its position in the slice
	// given to Start).
	Name  string
	Index int
	// Value is the source's value; meaningful only when Err is nil.
	Value T
	// Err is nil on success; otherwise the source's error, or a
	// *TimeoutError, *DeadlineError, *NotStartedError, *PanicError, or the
	// context's cause when the caller cancelled.
	Err error
	// Fallbacks names the needs that failed and whose Task.Fallbacks value
	// the task ran with instead.
	Fallbacks []string
	// Start and End are offsets from the start of the gather, so a
	// waterfall of the lanes can be drawn.
	Start, End time.Duration
	// Abandoned is set when the source ignored its context and was still
	// running when Wait gave up on it: its goroutine outlives the gather.
	Abandoned bool
}

// Latency is how long the task ran: End - Start.
func (r *Result[T]) Latency() time.Duration { return r.End - r.Start }

// Report is the outcome of a whole gather.
type Report[T any] struct {
	// Results holds one result per task, in the order the tasks were given.
	Results []Result[T]
	// Total is the wall time from the start of the gather until its last
	// task ended (successfully or not).
	Total time.Duration
	// Sum is the sum of the tasks' latencies: what a single lane would have
	// cost.
	Sum time.Duration
	// CriticalPath is the chain of tasks that decided Total, first to
	// last, as indices: the task that ended last, preceded by the task
	// whose end let it start (the need that finished last, or the task
	// that freed its lane), and so on back to one that started at once.
	// With one lane per task and no needs it is just the task that ended
	// last; with a single lane it is every task that ran.
	CriticalPath []int
	// Slowest is the index of the slowest task on the critical path, the
	// one that held the gather back most; -1 when there were no tasks.
	Slowest int
	// Lanes is how many tasks could be in flight at once in this gather.
	Lanes int
	// DeadlineExceeded is set when the gather's deadline (Options.Timeout
	// or ctx's) cut it short; Canceled when ctx was cancelled first.
	DeadlineExceeded, Canceled bool
}

// Complete reports whether every task succeeded.
func (r *Report[T]) Complete() bool { return r.Failed() == 0 }

// Failed is the number of tasks that did not succeed.
func (r *Report[T]) Failed() int {
	n := 0
	for i := range r.Results {
		if r.Results[i].Err != nil {
			n++
		}
	}
	return n
}

// summarize makes the report of a gather that has ended, cut short with
// cause if it was.
func (g *gather[T]) summarize(cause error) *Report[T] {
	rep := &Report[T]{Results: g.results, Slowest: -1, Lanes: g.lanes}
	last := -1
	for i := range g.results {
		res := &g.results[i]
		rep.Sum += res.Latency()
		if last < 0 || res.End > rep.Total || res.End == rep.Total && res.Latency() > g.results[last].Latency() {
			last, rep.Total = i, res.End
		}
		if cause != nil && cutBy(res.Err, cause) {
			if errors.Is(cause, context.DeadlineExceeded) {
				rep.DeadlineExceeded = true
			} else {
				rep.Canceled = true
			}
		}
	}
	for i := last; i >= 0; i = g.slots[i].after {
		rep.CriticalPath = append(rep.CriticalPath, i)
		if rep.Slowest < 0 || g.results[i].Latency() > g.results[rep.Slowest].Latency() {
			rep.Slowest = i
		}
	}
	slices.Reverse(rep.CriticalPath)
	return rep
}

// cutBy reports whether err is the gather's context ending with cause, as
// opposed to a task's own failure or timeout.
func cutBy(err, cause error) bool {
	if err == nil {
		return false
	}
	if _, own := errors.AsType[*TimeoutError](err); own {
		return false
	}
	return errors.Is(err, cause)
}
