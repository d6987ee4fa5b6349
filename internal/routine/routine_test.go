package routine_test

import (
	"errors"
	"runtime"
	"testing"

	"github.com/citypopy/highway/internal/routine"
)

// Go turns a panic, and runtime.Goexit, into a *PanicError with the
// stack, handed to done: the process lives.
func TestGoRecoversPanicsAndGoexit(t *testing.T) {
	for name, f := range map[string]func() (int, error){
		"panic":  func() (int, error) { panic("truck overturned") },
		"goexit": func() (int, error) { runtime.Goexit(); return 1, nil },
	} {
		got := make(chan error, 1)
		routine.Go(f, func(v int, err error) { got <- err })
		var pe *routine.PanicError
		if err := <-got; !errors.As(err, &pe) || len(pe.Stack) == 0 {
			t.Errorf("%s: %v", name, err)
		}
	}
	got := make(chan int, 1)
	routine.Go(func() (int, error) { return 7, nil }, func(v int, err error) { got <- v })
	if v := <-got; v != 7 {
		t.Errorf("a plain call gave %d", v)
	}
}
