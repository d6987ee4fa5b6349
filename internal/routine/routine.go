// Package routine starts goroutines that cannot take the process down: a
// panic, or runtime.Goexit, in what a goroutine runs becomes a
// *PanicError handed to its Done, and the process lives on. It holds the
// library's only go statement; fanout and policy start every goroutine
// through it.
package routine

import (
	"fmt"
	"runtime/debug"
)

// PanicError is the error of a goroutine whose function panicked: what
// was passed to panic, and the stack. fanout exports it as
// fanout.PanicError.
type PanicError struct {
	// Value is what was passed to panic.
	Value any
	// Stack is the panicking goroutine's stack, for debugging; it is not
	// part of Error.
	Stack []byte
}

// Error describes the failure.
func (e *PanicError) Error() string { return fmt.Sprintf("panic: %v", e.Value) }

// Job is what Spawn runs: Run's outcome, or a *PanicError, goes to Done,
// on the job's goroutine.
type Job[T any] interface {
	Run() (T, error)
	Done(T, error)
}

// Go runs f on a new goroutine and hands what it returns to done, on that
// goroutine; a panic in f reaches done as a *PanicError with the zero T.
func Go[T any](f func() (T, error), done func(T, error)) {
	Spawn[T](funcJob[T]{f, done})
}

type funcJob[T any] struct {
	f func() (T, error)
	d func(T, error)
}

// Run calls the job's function.
func (j funcJob[T]) Run() (T, error) { return j.f() }

// Done hands the outcome to the job's done function.
func (j funcJob[T]) Done(v T, err error) { j.d(v, err) }

// Spawn runs j on a new goroutine. A gather's task is a Job itself (its
// slot), so starting one costs no closure.
func Spawn[T any](j Job[T]) {
	go func() {
		var v T
		var err error
		returned := false
		defer func() {
			if !returned {
				p := recover() // nil after runtime.Goexit
				if p == nil {
					p = "runtime.Goexit called"
				}
				var zero T
				v, err = zero, &PanicError{Value: p, Stack: debug.Stack()}
			}
			j.Done(v, err)
		}()
		v, err = j.Run()
		returned = true
	}()
}
