package config

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/citypopy/highway/fanout"
)

// FailoverReasons are the failures failover_on may name.
var FailoverReasons = []string{"connection", "5xx", "429", "408", "timeout", "first_token", "stall", "stream", "breaker_open", "4xx"}

// DefaultFailoverOn is failover_on where the config is silent: every
// failure but a client error the request caused.
var DefaultFailoverOn = []string{"connection", "5xx", "429", "408", "timeout", "first_token", "stall", "stream", "breaker_open"}

// validateFailover checks each source's failover list: known sources, not
// itself, no cycle through them, their needs among the source's, and the
// reasons it fails over on.
func (d *decoder) validateFailover(sources map[string]*Source) {
	var chains []fanout.Task[struct{}]
	for _, name := range slices.Sorted(maps.Keys(sources)) {
		s := sources[name]
		if s == nil {
			continue
		}
		p := "sources." + name
		next := d.sourceList(p+".failover", s.Failover, sources, name)
		for i, alt := range s.Failover {
			if !slices.Contains(next, alt) {
				continue // already reported
			}
			for _, n := range sources[alt].Needs {
				if !slices.Contains(s.Needs, n) {
					d.failAt(fmt.Sprintf("%s.failover[%d]", p, i), "%s needs %s, which %s does not: a failover is asked the same call", alt, n, name)
				}
			}
		}
		for i, r := range s.FailoverOn {
			if !slices.Contains(FailoverReasons, r) {
				d.failAt(fmt.Sprintf("%s.failover_on[%d]", p, i), "unknown failure %q (%s)", r, strings.Join(FailoverReasons, ", "))
			}
		}
		if len(s.FailoverOn) > 0 && len(s.Failover) == 0 {
			d.failAt(p+".failover_on", "failover_on without a failover list")
		}
		chains = append(chains, fanout.Task[struct{}]{Name: name, Needs: next})
	}
	var cycle *fanout.CycleError
	if err := fanout.Check(chains); errors.As(err, &cycle) {
		d.failAt("sources."+cycle.Cycle[0]+".failover", "%s: failovers cannot go round in a circle", cycle)
	}
}
