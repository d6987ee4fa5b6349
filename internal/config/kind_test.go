package config

import (
	"net/http"
	"testing"
	"time"

	"github.com/citypopy/highway/source"
)

// Each kind decodes its own fields from the source's mapping and builds
// its own source from them.
func TestEachKindBuildsItsSource(t *testing.T) {
	c, err := parse("k.yaml", []byte(`
sources:
  m: {kind: mock, latency: 30ms, tail: {rate: 1%, latency: 1s}, data: {ok: true}}
  h: {kind: http, url: "http://127.0.0.1:9/x", headers: {X-Key: k}, max_bytes: 512}
  o: {kind: openai, base_url: "http://127.0.0.1:9/v1", model: gpt, user: hi, stream: true}
  a: {kind: anthropic, base_url: "http://127.0.0.1:9", model: claude, user: hi, max_bytes: 2048}
routes: [{path: /r, sources: [m, h, o, a]}]
`), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	rt := http.DefaultTransport
	if m, ok := c.Sources["m"].Spec.Build("m", rt).(*source.Mock); !ok || m.Latency != 30*time.Millisecond || m.TailRate != 0.01 || string(m.Data) != `{"ok":true}` {
		t.Errorf("mock: %+v", m)
	}
	if h, ok := c.Sources["h"].Spec.Build("h", rt).(*source.HTTP); !ok || h.Header.Get("X-Key") != "k" || h.MaxBytes != 512 || h.Method != "GET" || h.Transport != rt {
		t.Errorf("http: %+v", h)
	}
	if o, ok := c.Sources["o"].Spec.Build("o", rt).(*source.OpenAI); !ok || o.Name != "o" || o.Model != "gpt" || !o.Stream {
		t.Errorf("openai: %+v", o)
	}
	if a, ok := c.Sources["a"].Spec.Build("a", rt).(*source.Anthropic); !ok || a.Model != "claude" || a.MaxBytes != 2048 {
		t.Errorf("anthropic: %+v", a)
	}
}
