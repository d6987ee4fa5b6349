package fanout

import (
	"context"
	"iter"
)

// Gather runs tasks under ctx as opt says and returns the report once every
// task has finished, failed, timed out or been cut off by the deadline.
func Gather[T any](ctx context.Context, tasks []Task[T], opt Options) *Report[T] {
	return Start(ctx, tasks, opt).Wait()
}

// Run is one gather in progress, started by Start. It runs by itself: a
// lane is refilled the moment a task ends, whether or not anyone is
// reading, and its context and timers are released when its last task
// ends. Results and Wait observe it; while they wait they also tell it
// at once when the caller's context ends.
//
// Results must not be iterated from two goroutines at once; Wait may be
// called from any goroutine, any number of times, or not at all.
type Run[T any] struct {
	g      *gather[T]
	events chan int // landings (i) and starts (^i), in the order they happen
	taken  int      // how many landings Results and Events have yielded
	done   chan struct{}
	report *Report[T] // set before done is closed
}

// Start starts tasks under ctx as opt says and returns at once. Tasks start
// in the order given as lanes are free, or as their needs finish.
func Start[T any](ctx context.Context, tasks []Task[T], opt Options) *Run[T] {
	// Room for every task's start and landing: sending never blocks.
	r := &Run[T]{events: make(chan int, 2*len(tasks)), done: make(chan struct{})}
	r.g = newGather(ctx, tasks, opt, r)
	r.g.start()
	return r
}

// Results yields each task's result as it lands, in completion order,
// until every task is resolved. Breaking out of the loop early is
// allowed; a later Results or Events goes on where it stopped.
func (r *Run[T]) Results() iter.Seq[Result[T]] {
	return func(yield func(Result[T]) bool) {
		for e := range r.Events() {
			if !e.Started && !yield(e.Result) {
				return
			}
		}
	}
}

// Progress is one step of a gather, as Events yields it: a task starting,
// or its result landing.
type Progress[T any] struct {
	// Started says the task has just started: its lane was free and its
	// needs had finished. Result then holds its Name, Index and Start
	// only. Otherwise the task has landed and Result is all of it.
	Started bool
	Result  Result[T]
}

// Events yields each task's start, the moment it starts, and its result
// as it lands, in the order they happen, until every task is resolved. A
// task that never starts (skipped for a failed need, or cut off before a
// lane was free) lands without a start. Read a Run with Events or with
// Results, not both at once; breaking out early is allowed, as for
// Results.
func (r *Run[T]) Events() iter.Seq[Progress[T]] {
	return func(yield func(Progress[T]) bool) {
		r.g.listen()
		for r.taken < len(r.g.results) {
			var i int
			select {
			case i = <-r.events:
			case <-r.g.parent.Done():
				r.g.callerGone()
				i = <-r.events
			}
			p := Progress[T]{Started: i < 0}
			if p.Started {
				// Start was written before the event was sent, and is
				// not written again: reading it alone is safe.
				i = ^i
				p.Result = Result[T]{Name: r.g.tasks[i].Name, Index: i, Start: r.g.results[i].Start}
			} else {
				r.taken++
				// Under the gather's lock: a stubborn task is marked
				// Abandoned after it has landed, when its grace runs out.
				r.g.mu.Lock()
				p.Result = r.g.results[i]
				r.g.mu.Unlock()
			}
			if !yield(p) {
				return
			}
		}
	}
}

// Wait returns the report once every task is resolved. It returns on time
// even when a source ignores its context: such a source is resolved as
// timed out at its deadline and, if its goroutine is still running
// Options.Grace later, marked Abandoned. Every call returns the same
// report.
func (r *Run[T]) Wait() *Report[T] {
	select {
	case <-r.done:
	case <-r.g.parent.Done():
		r.g.callerGone()
		<-r.done
	}
	return r.report
}
