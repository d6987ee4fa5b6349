package config

import (
	"strings"
	"testing"
	"time"
)

const modelSources = `
sources:
  openai-4o: {kind: openai, base_url: "http://127.0.0.1:1/v1", model: gpt-4o}
  claude:    {kind: anthropic, base_url: "http://127.0.0.1:1", model: claude-sonnet-4-5}
  weather:   {kind: mock, data: {temp: 22}}
  brief:     {kind: openai, base_url: "http://127.0.0.1:1/v1", model: m, user: "{{.weather.temp}}", needs: [weather]}
`

func TestModelsAreLanesOverLLMSources(t *testing.T) {
	c, err := parse("c.yaml", []byte(modelSources+`
models:
  gpt-4o:
    use: [openai-4o, claude]
    failover_hedge: p95
  city-chat: {use: [claude], resume: true, cache: {ttl: 1m}}
`), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	m := c.Models["gpt-4o"]
	if len(m.Use) != 2 || m.FailoverHedge == nil || m.FailoverHedge.Delay.Percentile != 95 || m.FailoverHedge.MaxExtra != DefaultMaxExtra {
		t.Errorf("gpt-4o: %+v", m)
	}
	if m.Timeout.Std() != DefaultLLMTimeout {
		t.Errorf("timeout %v, want the default %v", m.Timeout, DefaultLLMTimeout)
	}
	if cc := c.Models["city-chat"]; !cc.Resume || c.ModelCacheBytes(cc) <= 0 {
		t.Errorf("city-chat: %+v, cache bytes %d", cc, c.ModelCacheBytes(cc))
	}
	if l, _ := c.Sources["claude"].llm(); !*l.Prefill {
		t.Error("an anthropic source prefills by default")
	}
	if l, _ := c.Sources["openai-4o"].llm(); *l.Prefill {
		t.Error("an openai source does not prefill by default")
	}
}

func TestBadModelsSayWhereAndWhy(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{`models: {m: {use: [nowhere]}}`, "models.m.use[0]: "},
		{`models: {m: {use: [weather]}}`, "models.m.use[0]: weather is a mock source"},
		{`models: {m: {use: [brief]}}`, "models.m.use[0]: brief needs weather"},
		{`models: {m: {use: []}}`, "models.m.use: missing"},
		{`models: {m: {use: [claude, claude]}}`, "models.m.use[1]: \"claude\" is listed twice"},
		{`models: {m: {use: [claude], failover_on: [sometimes]}}`, "models.m.failover_on[0]: unknown failure"},
		{`models: {m: {use: [claude], failover_hedge: 1s}}`, "models.m.failover_hedge: a hedge starts the next source"},
		{`models: {"bad name": {use: [claude]}}`, "invalid model name"},
		{`models: {m: {use: [claude], timeout: -1s}}`, "models.m.timeout: must not be negative"},
		{`models: {m: {use: [claude], cache: {ttl: 0s}}}`, "models.m.cache.ttl: missing"},
		{`models: {m: {use: [claude], colour: red}}`, "models.m.colour"},
		{`routes: [{path: /v1/chat/completions, sources: [weather]}]`, "routes[0].path: path /v1/chat/completions is the front door's"},
		{`routes: [{path: /v1, sources: [weather]}]`, "is the front door's"},
		{`routes: [{path: /r, sources: [claude]}]`, "sources.claude.user: missing: the prompt to send"},
		{`sources: {x: {kind: openai, base_url: "http://h/v1", model: m, header_timeout: -1s}}`, "token timeouts must not be negative"},
	} {
		yaml := modelSources + tc.yaml
		if strings.HasPrefix(tc.yaml, "sources:") {
			yaml = tc.yaml
		}
		_, err := parse("c.yaml", []byte(yaml), env(nil))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s\n got %v\nwant %q", tc.yaml, err, tc.want)
		}
	}
}

func TestTheDefaultHasAModelOnItsFakeProviders(t *testing.T) {
	c, err := LoadEnv("", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	m := c.Models["city-chat"]
	if m == nil || len(m.Use) < 2 {
		t.Fatalf("city-chat: %+v", m)
	}
	for _, name := range m.Use {
		if l, ok := c.Sources[name].llm(); !ok || l.APIKey != "" {
			t.Errorf("%s: want a keyless LLM source, got %+v", name, c.Sources[name])
		}
	}
	if m.Timeout.Std() <= 0 || m.Timeout.Std() > time.Minute {
		t.Errorf("timeout %v", m.Timeout)
	}
}
