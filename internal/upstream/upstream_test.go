package upstream_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/citypopy/highway/fanout"
	"github.com/citypopy/highway/internal/config"
	"github.com/citypopy/highway/internal/upstream"
	"github.com/citypopy/highway/source"
)

// built is every source of yaml as Build makes it.
func built(t *testing.T, yaml string) (*config.Config, map[string]*upstream.Upstream) {
	t.Helper()
	cfg, err := config.Parse("t.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	ups, err := upstream.BuildAll(cfg, upstream.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range ups {
		t.Cleanup(u.Close)
	}
	return cfg, ups
}

// A source's stack has the policies its config names: a breaker that
// opens on its failures, a failover list that answers from the next
// source, and a bare mock is planned rather than fetched.
func TestAnUpstreamIsItsConfiguredStack(t *testing.T) {
	cfg, ups := built(t, `
sources:
  down:   {kind: mock, failure_rate: 1, breaker: {failures: 1, cooldown: 1h}, failover: [backup]}
  backup: {kind: mock, data: {from: backup}}
routes: [{path: /r, sources: [down]}]
`)
	down := ups["down"]
	if _, err := down.Fetch.Fetch(t.Context(), nil); err == nil || down.Breaker.State() != "open" {
		t.Fatalf("%v, breaker %s: want the failure to open it", err, down.Breaker.State())
	}
	chain := upstream.FailoverOf("down", cfg.Sources["down"], down, ups)
	a, err := chain.Fetch(t.Context(), &source.Call{})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := a.Value(t.Context()); string(v) != `{"from":"backup"}` || err != nil {
		t.Errorf("failover answered %s %v", v, err)
	}
	if upstream.FailoverOf("backup", cfg.Sources["backup"], ups["backup"], ups) != nil || ups["backup"].Planned == nil || down.Planned != nil {
		t.Error("a source without failover has a chain, or the planned mock is wrong")
	}
}

// Health counts what routes saw: calls and failures, the recent error
// rate, the last failure; a call never made counts as none.
func TestHealthCountsWhatRoutesSaw(t *testing.T) {
	var h upstream.Health
	h.Record(&fanout.Result[json.RawMessage]{Value: json.RawMessage(`1`)}, "")
	h.Record(&fanout.Result[json.RawMessage]{Err: errors.New("upstream answered 503")}, "failed")
	h.Record(&fanout.Result[json.RawMessage]{Err: &fanout.NotStartedError{}}, "not_started")
	rate, calls := h.RecentErrorRate()
	if h.Calls.Load() != 2 || h.Failures.Load() != 1 || rate != 0.5 || calls != 2 || h.Last.Load().Message != "upstream answered 503" {
		t.Errorf("calls %d failures %d rate %v over %d, last %+v", h.Calls.Load(), h.Failures.Load(), rate, calls, h.Last.Load())
	}
}
