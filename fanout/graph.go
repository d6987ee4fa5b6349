package fanout

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// CycleError is Check's error when tasks need each other in a circle.
type CycleError struct {
	// Cycle names the tasks around the circle, the first again at the end:
	// [a b a].
	Cycle []string
}

// Error spells the cycle out.
func (e *CycleError) Error() string { return "cycle: " + strings.Join(e.Cycle, " → ") }

// Check reports whether tasks can run as a graph: every need names another
// task, names are unique, fallbacks are for needs, and no task needs
// itself, directly or through others (a *CycleError).
func Check[T any](tasks []Task[T]) error {
	_, err := graphOf(tasks)
	return err
}

// graphOf turns names into indices: needs[i] are the tasks task i needs.
// It is nil when no task has needs, so a flat gather pays nothing.
func graphOf[T any](tasks []Task[T]) ([][]int, error) {
	flat := true
	for i := range tasks {
		if len(tasks[i].Needs) > 0 {
			flat = false
			break
		}
	}
	if flat {
		return nil, nil
	}
	index := func(name string) int {
		for j := range tasks {
			if tasks[j].Name == name {
				return j
			}
		}
		return -1
	}
	needs := make([][]int, len(tasks))
	for i := range tasks {
		t := &tasks[i]
		if j := index(t.Name); j != i {
			return nil, fmt.Errorf("task name %q is given twice", t.Name)
		}
		for _, n := range t.Needs {
			j := index(n)
			switch {
			case j < 0:
				return nil, fmt.Errorf("task %q needs %q, which is not a task", t.Name, n)
			case j == i:
				return nil, &CycleError{Cycle: []string{t.Name, t.Name}}
			}
			needs[i] = append(needs[i], j)
		}
		for n := range t.Fallbacks {
			if !slices.Contains(t.Needs, n) {
				return nil, fmt.Errorf("task %q has a fallback for %q, which it does not need", t.Name, n)
			}
		}
	}
	if cycle := findCycle(tasks, needs); cycle != nil {
		return nil, &CycleError{Cycle: cycle}
	}
	return needs, nil
}

// findCycle walks the needs depth first; a task met again while still on
// the walk closes a cycle, returned by name.
func findCycle[T any](tasks []Task[T], needs [][]int) []string {
	const (
		unseen = iota
		onPath
		done
	)
	state := make([]uint8, len(tasks))
	var path []int
	var visit func(i int) []string
	visit = func(i int) []string {
		state[i] = onPath
		path = append(path, i)
		for _, j := range needs[i] {
			switch state[j] {
			case onPath: // back to a task on the walk: path[k:] is the cycle
				k := len(path) - 1
				for path[k] != j {
					k--
				}
				var names []string
				for _, p := range path[k:] {
					names = append(names, tasks[p].Name)
				}
				return append(names, names[0])
			case unseen:
				if c := visit(j); c != nil {
					return c
				}
			}
		}
		path = path[:len(path)-1]
		state[i] = done
		return nil
	}
	for i := range tasks {
		if state[i] == unseen {
			if c := visit(i); c != nil {
				return c
			}
		}
	}
	return nil
}

type inputsKey struct{}

// Inputs returns the values of the needs of the task whose context ctx is,
// by name: each need's value, or its fallback where it failed. It is nil
// for a task without needs, and outside a gather.
func Inputs[T any](ctx context.Context) map[string]T {
	in, _ := ctx.Value(inputsKey{}).(map[string]T)
	return in
}

// WithInputs returns ctx carrying in as Inputs, for calling a source that
// reads them outside a gather.
func WithInputs[T any](ctx context.Context, in map[string]T) context.Context {
	return context.WithValue(ctx, inputsKey{}, in)
}
