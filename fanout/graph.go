package fanout

import (
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

// fillGraph starts or skips every pending task whose needs have all
// finished, until no more can: a skip or an instant answer may free the
// next.
func (g *gather[T]) fillGraph() {
	for moved := true; moved && !g.over(); {
		moved = false
		for i := range g.tasks {
			if g.slots[i].state != pending || !g.resolvedNeeds(i) {
				continue
			}
			if need, err := g.failedNeed(i); err != nil {
				g.skip(i, need, err)
				moved = true
				continue
			}
			if g.inflight < g.lanes {
				after := g.lastNeed(i)
				if g.lanes < len(g.tasks) && g.last >= 0 && (after < 0 || g.results[g.last].End > g.results[after].End) {
					after = g.last // the lane it waited for freed later than its needs
				}
				g.slots[i].needs = g.inputs(i)
				g.launch(i, after)
				moved = true
			}
		}
	}
}

func (g *gather[T]) resolvedNeeds(i int) bool {
	for _, j := range g.needs[i] {
		if g.slots[j].state != resolved {
			return false
		}
	}
	return true
}

// failedNeed is the first failed need of i without a fallback.
func (g *gather[T]) failedNeed(i int) (int, error) {
	for _, j := range g.needs[i] {
		if err := g.results[j].Err; err != nil {
			if _, ok := g.tasks[i].Fallbacks[g.tasks[j].Name]; !ok {
				return j, &SkippedError{Need: g.tasks[j].Name, Err: err}
			}
		}
	}
	return -1, nil
}

// lastNeed is the need of i that ended last, or -1.
func (g *gather[T]) lastNeed(i int) int {
	last := -1
	for _, j := range g.needs[i] {
		if last < 0 || g.results[j].End > g.results[last].End {
			last = j
		}
	}
	return last
}

// inputs are the values of i's needs, fallbacks where they failed, as its
// Fetch is given them; the needs that fell back are noted on i's result.
func (g *gather[T]) inputs(i int) map[string]T {
	if len(g.needs[i]) == 0 {
		return nil
	}
	in := make(map[string]T, len(g.needs[i]))
	for _, j := range g.needs[i] {
		name := g.tasks[j].Name
		if g.results[j].Err != nil {
			in[name] = g.tasks[i].Fallbacks[name]
			g.results[i].Fallbacks = append(g.results[i].Fallbacks, name)
			continue
		}
		in[name] = g.results[j].Value
	}
	return in
}

// skip resolves pending task i, uncalled, with err: at the moment its need
// failed, which is what its lane waited on.
func (g *gather[T]) skip(i, need int, err error) {
	res := &g.results[i]
	res.Err, res.Start, res.End = err, g.results[need].End, g.results[need].End
	g.slots[i].after = need
	g.resolve(i)
}
