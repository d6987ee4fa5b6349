package fanout

import "runtime/debug"

// Go runs f on a new goroutine and hands what it returns to done, on that
// goroutine. If f panics, or calls runtime.Goexit, done gets the zero T
// and a *PanicError with the stack instead, and the process lives on.
//
// It is the one way fanout and package policy start goroutines, so that
// no source, however broken, can take a gateway down; use it for
// goroutines of your own that call sources.
func Go[T any](f func() (T, error), done func(T, error)) {
	spawn[T](funcJob[T]{f, done})
}

// job is what spawn runs: run's outcome, or a *PanicError, goes to done.
type job[T any] interface {
	run() (T, error)
	done(T, error)
}

type funcJob[T any] struct {
	f func() (T, error)
	d func(T, error)
}

func (j funcJob[T]) run() (T, error)     { return j.f() }
func (j funcJob[T]) done(v T, err error) { j.d(v, err) }

// spawn holds the library's only go statement. A gather's task is a job
// itself (its slot), so starting one costs no closure.
func spawn[T any](j job[T]) {
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
			j.done(v, err)
		}()
		v, err = j.run()
		returned = true
	}()
}
