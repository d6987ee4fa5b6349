package config

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
)

// Model is what a client of the front door (/v1/chat/completions,
// /v1/messages) asks for by the name it sends as "model": a lane over LLM
// sources, asked in order, with everything a lane has (each source's
// retries, breaker, timeouts and price; failover between them, hedged if
// asked). The client's own messages are sent, with the source's model
// name in place of the one asked.
type Model struct {
	// Use names the LLM sources (kind openai or anthropic) asked, in
	// failover order: the first, then the next when it fails. Required.
	Use []string `yaml:"use"`
	// FailoverOn says which failures move on to the next source, in the
	// words of a source's failover_on. Default: all but 4xx.
	FailoverOn []string `yaml:"failover_on"`
	// FailoverHedge starts the next source beside the current one when
	// the current has not begun its answer (its first text or tool call)
	// after a delay: 800ms, or a percentile of the times the first source
	// took to begin, p95. Written as the delay alone or as
	// {delay, max_extra}. Default: off.
	FailoverHedge *Hedge `yaml:"failover_hedge"`
	// Timeout bounds a whole request, every source asked included.
	// Default 60s, an LLM source's own.
	Timeout Duration `yaml:"timeout"`
	// Resume continues a stream that a source cut after it began on the
	// next source that accepts a prefill (an answer's start given as the
	// start of its reply, see a source's prefill), so that the client
	// reads one whole answer. Without it such a stream ends with an error
	// event. Default false.
	Resume bool `yaml:"resume"`
	// Coalesce makes identical requests in flight share one answer.
	Coalesce bool `yaml:"coalesce"`
	// Cache keeps answers for a TTL, keyed on everything that changes
	// the answer (the model, messages, tools, sampling parameters). A
	// streamed hit replays as a stream. Default: off.
	Cache *Cache `yaml:"cache"`
}

// modelName is what a model may be called: what SDKs send, such as
// gpt-4o, claude-sonnet-4-5, openai/gpt-4o or llama3.1:8b.
var modelName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:/@+-]{0,127}$`)

// applyDefaults gives a model its timeout and its hedge's cap.
func (m *Model) applyDefaults() {
	if m.Timeout == 0 {
		m.Timeout = Duration(DefaultLLMTimeout)
	}
	if h := m.FailoverHedge; h != nil && h.MaxExtra == 0 {
		h.MaxExtra = DefaultMaxExtra
	}
}

// validateModels checks each model: a good name, LLM sources to use, the
// failures it fails over on, and its policies.
func (d *decoder) validateModels(models map[string]*Model, sources map[string]*Source) {
	for _, name := range slices.Sorted(maps.Keys(models)) {
		m, p := models[name], "models."+name
		if !modelName.MatchString(name) {
			d.failAt(p, "invalid model name %q: use letters, digits and _ . : / @ + - (at most 128)", name)
		}
		if m == nil {
			d.failAt(p, "empty model: it needs use, the LLM sources it asks")
			continue
		}
		if len(m.Use) == 0 {
			d.failAt(p+".use", "missing: name the LLM sources this model asks, in failover order")
		}
		for i, src := range d.sourceList(p+".use", m.Use, sources, "") {
			if s := sources[src]; s.Kind != KindOpenAI && s.Kind != KindAnthropic {
				d.failAt(fmt.Sprintf("%s.use[%d]", p, slices.Index(m.Use, src)), "%s is a %s source; a model uses LLM sources (kind openai or anthropic)", src, s.Kind)
			} else if len(s.Needs) > 0 {
				d.failAt(fmt.Sprintf("%s.use[%d]", p, i), "%s needs %s: a model's sources are asked the client's messages alone", src, strings.Join(s.Needs, ", "))
			}
		}
		for i, r := range m.FailoverOn {
			if !slices.Contains(FailoverReasons, r) {
				d.failAt(fmt.Sprintf("%s.failover_on[%d]", p, i), "unknown failure %q (%s)", r, strings.Join(FailoverReasons, ", "))
			}
		}
		if m.FailoverHedge != nil && len(m.Use) < 2 {
			d.failAt(p+".failover_hedge", "a hedge starts the next source: use needs at least two")
		}
		if m.Timeout < 0 {
			d.failAt(p+".timeout", "must not be negative")
		}
		if m.Cache != nil && m.Cache.TTL <= 0 {
			d.failAt(p+".cache.ttl", "missing: how long an answer is kept")
		}
	}
}
