package config

import (
	"strings"
	"testing"
	"time"
)

func TestFailoverListsAreChecked(t *testing.T) {
	const routes = "routes: [{path: /r, sources: [a]}]\n"
	for _, c := range []struct{ yaml, want string }{
		{"sources:\n  a: {kind: mock, failover: [b]}\n" + routes, `sources.a.failover[0]: no source named "b"`},
		{"sources:\n  a: {kind: mock, failover: [a]}\n" + routes, `sources.a.failover[0]: a source cannot fail over to itself`},
		{"sources:\n  a: {kind: mock, failover: [b]}\n  b: {kind: mock, failover: [a]}\n" + routes, `failovers cannot go round in a circle`},
		{"sources:\n  a: {kind: mock, failover: [b]}\n  b: {kind: mock, needs: [c]}\n  c: {kind: mock}\n" + routes, `sources.a.failover[0]: b needs c, which a does not`},
		{"sources:\n  a: {kind: mock, failover: [b], failover_on: [5xx, sometimes]}\n  b: {kind: mock}\n" + routes, `sources.a.failover_on[1]: unknown failure "sometimes"`},
		{"sources:\n  a: {kind: mock, failover_on: [5xx]}\n" + routes, `sources.a.failover_on: failover_on without a failover list`},
		{"sources:\n  a: {kind: mock, failover_hedge: 800ms}\n" + routes, `sources.a.failover_hedge: failover_hedge without a failover list`},
		{"sources:\n  a: {kind: mock, failover: [b], failover_hedge: soon}\n  b: {kind: mock}\n" + routes, `f.yaml:2:50: sources.a.failover_hedge.delay: want a positive duration`},
		{"sources:\n  a: {kind: mock, failover: [b], failover_hedge: {max_extra: 10%}}\n  b: {kind: mock}\n" + routes, `sources.a.failover_hedge.delay: missing`},
		{"sources:\n  a: {kind: mock, failover: [b], failover_hedge: {delay: p95, max_extra: 2}}\n  b: {kind: mock}\n" + routes, `sources.a.failover_hedge.max_extra: want a fraction`},
	} {
		_, err := parse("f.yaml", []byte(c.yaml), env(nil))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s\nerr = %v\nwant %q", c.yaml, err, c.want)
		}
	}
	if _, err := parse("f.yaml", []byte("sources:\n  a: {kind: mock, failover: [b, c], failover_on: [5xx, 429]}\n  b: {kind: mock}\n  c: {kind: mock}\n"+routes), env(nil)); err != nil {
		t.Errorf("a good failover list: %v", err)
	}
}

// failover_hedge is written as its delay alone or as a mapping, and its
// budget defaults to the hedges' 5%.
func TestFailoverHedgeIsADelayOrAMapping(t *testing.T) {
	const routes = "routes: [{path: /r, sources: [a]}]\n"
	for yaml, want := range map[string]Hedge{
		"failover_hedge: 800ms":                        {Delay: HedgeDelay{Fixed: 800 * time.Millisecond}, MaxExtra: DefaultMaxExtra},
		"failover_hedge: p95":                          {Delay: HedgeDelay{Percentile: 95}, MaxExtra: DefaultMaxExtra},
		"failover_hedge: {delay: p99, max_extra: 10%}": {Delay: HedgeDelay{Percentile: 99}, MaxExtra: 0.1},
	} {
		c, err := parse("f.yaml", []byte("sources:\n  a: {kind: mock, failover: [b], "+yaml+"}\n  b: {kind: mock}\n"+routes), env(nil))
		if err != nil {
			t.Errorf("%s: %v", yaml, err)
		} else if got := c.Sources["a"].FailoverHedge; got == nil || *got != want {
			t.Errorf("%s: %+v, want %+v", yaml, got, want)
		}
	}
}
