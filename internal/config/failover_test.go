package config

import (
	"strings"
	"testing"
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
