package config

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/citypopy/highway/fanout"
)

// validateNeeds checks the graph the sources' needs make: every need
// names a source, every fallback is for a need, and no source needs
// itself, directly or round a cycle (spelled out).
func (d *decoder) validateNeeds(sources map[string]*Source) {
	var tasks []fanout.Task[struct{}]
	for _, name := range slices.Sorted(maps.Keys(sources)) {
		s := sources[name]
		if s == nil {
			continue
		}
		p := "sources." + name
		needs := d.sourceList(p+".needs", s.Needs, sources, "")
		for _, n := range slices.Sorted(maps.Keys(s.Fallback)) {
			if !slices.Contains(s.Needs, n) {
				d.failAt(p+".fallback."+n, "%q is not one of this source's needs (%s)", n, strings.Join(s.Needs, ", "))
			}
		}
		tasks = append(tasks, fanout.Task[struct{}]{Name: name, Needs: needs})
	}
	var cycle *fanout.CycleError
	if err := fanout.Check(tasks); errors.As(err, &cycle) {
		d.failAt("sources."+cycle.Cycle[0]+".needs", "%s: a source cannot wait for itself", cycle)
	}
}

// sourceList checks a list of source names at field: each names a source,
// none twice, none self (when self is given); it returns those that pass.
func (d *decoder) sourceList(field string, names []string, sources map[string]*Source, self string) []string {
	var ok []string
	for i, n := range names {
		f := fmt.Sprintf("%s[%d]", field, i)
		switch {
		case sources[n] == nil:
			d.failAt(f, "%s", noSource(n, sources))
		case n == self:
			d.failAt(f, "a source cannot fail over to itself")
		case slices.Contains(ok, n):
			d.failAt(f, "%q is listed twice", n)
		default:
			ok = append(ok, n)
		}
	}
	return ok
}

// validateRouteNeeds checks that a route lists what its sources need, so
// that the graph it runs is whole.
func (d *decoder) validateRouteNeeds(p string, r *Route, sources map[string]*Source) {
	for _, name := range r.Sources {
		s := sources[name]
		if s == nil {
			continue
		}
		for _, n := range s.Needs {
			if sources[n] != nil && !slices.Contains(r.Sources, n) {
				d.failAt(p+".sources", "%s needs %s, which this route does not list; add it", name, n)
			}
		}
	}
}

// noSource says that name is no source, and which are.
func noSource(name string, sources map[string]*Source) string {
	return fmt.Sprintf("no source named %q (%ssources: %s)", name, suggest(name, sources), strings.Join(slices.Sorted(maps.Keys(sources)), ", "))
}
