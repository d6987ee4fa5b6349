package route

import (
	"encoding/json"
	"testing"

	"go.uber.org/goleak"

	"github.com/citypopy/highway/fanout"
	"github.com/citypopy/highway/internal/config"
	"github.com/citypopy/highway/internal/upstream"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// build is the first route of the config in yaml, on upstreams of its
// own.
func build(yaml string) (*Route, error) {
	cfg, err := config.Parse("test", []byte(yaml))
	if err != nil {
		return nil, err
	}
	ups, err := upstream.BuildAll(cfg, upstream.Options{})
	if err != nil {
		return nil, err
	}
	return New(cfg.Routes[0], cfg, ups, nil), nil
}

func TestABareMockIsPlannedAndAMockBehindAPolicyIsNot(t *testing.T) {
	t.Parallel()
	rt, err := build("sources: {m: {kind: mock, latency: 1ms}, r: {kind: mock, retry: {attempts: 2}}}\nroutes: [{path: /m, sources: [m, r]}]\n")
	if err != nil {
		t.Fatal(err)
	}
	p := rt.newPass(nil, nil)
	if _, ok := p.tasks[0].Source.(fanout.Planned[json.RawMessage]); !ok {
		t.Error("a bare mock must reach the gather as fanout.Planned, or every call costs a goroutine")
	}
	if _, ok := p.tasks[1].Source.(fanout.Planned[json.RawMessage]); ok {
		t.Error("a mock behind a policy was planned: its policy would be skipped")
	}
}
