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
	landed chan int // resolved tasks' indices, in completion order
	taken  int      // how many of them Results has yielded
	done   chan struct{}
	report *Report[T] // set before done is closed
}

// Start starts tasks under ctx as opt says and returns at once. Tasks start
// in the order given as lanes are free, or as their needs finish.
func Start[T any](ctx context.Context, tasks []Task[T], opt Options) *Run[T] {
	r := &Run[T]{landed: make(chan int, len(tasks)), done: make(chan struct{})}
	r.g = newGather(ctx, tasks, opt, r)
	r.g.start()
	return r
}

// Results yields each task's result as it lands, in completion order,
// until every task is resolved. Breaking out of the loop early is
// allowed; a later Results goes on where it stopped.
func (r *Run[T]) Results() iter.Seq[Result[T]] {
	return func(yield func(Result[T]) bool) {
		r.g.listen()
		for r.taken < len(r.g.results) {
			var i int
			select {
			case i = <-r.landed:
			case <-r.g.parent.Done():
				r.g.callerGone()
				i = <-r.landed
			}
			r.taken++
			if !yield(r.g.results[i]) {
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
