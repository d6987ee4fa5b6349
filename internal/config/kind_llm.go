package config

import (
	"net/http"

	"github.com/citypopy/highway/source"
)

// LLM is a chat lane: kind openai (any server speaking the Chat
// Completions API) or anthropic (the Messages API). System and User are
// templates of the request's parameters and the needs' answers. APIKey
// usually comes from the environment: api_key: ${OPENAI_API_KEY}.
type LLM struct {
	// BaseURL is the provider's API root: https://api.openai.com/v1 (or
	// any OpenAI-compatible server's, such as Ollama's
	// http://127.0.0.1:11434/v1), https://api.anthropic.com. Required.
	BaseURL string `yaml:"base_url"`
	// Model is the model asked, such as gpt-4o-mini. Required.
	Model string `yaml:"model"`
	// APIKey is sent as the provider wants it (Authorization: Bearer, or
	// x-api-key), never shown in an error: write ${OPENAI_API_KEY}.
	APIKey string `yaml:"api_key"`
	// System is the system prompt, a template like user. Default: none.
	System string `yaml:"system"`
	// User is the user message, a template of the request's parameters
	// and the needs' answers: Say hello to {{.params.city}}. Required
	// when a route uses the source; a model's source sends the client's
	// own messages instead.
	User string `yaml:"user"`
	// MaxTokens caps the reply. Default: the provider's own (1024 for
	// anthropic, which requires one).
	MaxTokens int `yaml:"max_tokens"`
	// Stream asks for the reply token by token, streamed to clients as
	// delta events. Default false.
	Stream bool `yaml:"stream"`
	// FirstToken bounds the wait for a stream's first token (a chunk that
	// carries text or a tool call). Default: none but the source's
	// timeout.
	FirstToken Duration `yaml:"first_token_timeout"`
	// Stall bounds the wait between two tokens after the first (a
	// provider's keep-alive ping is not one). Default: none but the
	// source's timeout.
	Stall Duration `yaml:"stall_timeout"`
	// HeaderTimeout bounds the wait for the provider's response headers.
	// Default: none but the source's timeout.
	HeaderTimeout Duration `yaml:"header_timeout"`
	// Prefill says the provider continues a reply whose start is given
	// as the last message, an assistant's: what a model's resume sends
	// after a cut. Default: true for anthropic (the Messages API does),
	// false for openai (most Chat Completions servers do not).
	Prefill *bool `yaml:"prefill"`
	// MaxBytes limits the provider's answer. Default 1 MiB.
	MaxBytes int64 `yaml:"max_bytes"`
	// Price, when set, gives each answer's cost_usd from its tokens.
	Price *Price `yaml:"price"`

	provider string // KindOpenAI or KindAnthropic
}

// Price is what a model's tokens cost, in US dollars per million.
type Price struct {
	// InputPerMTok is what a million prompt tokens cost, in US dollars.
	InputPerMTok float64 `yaml:"input_per_mtok"`
	// OutputPerMTok is what a million reply tokens cost, in US dollars.
	OutputPerMTok float64 `yaml:"output_per_mtok"`
}

// Build makes the chat lane, named name in the deltas it streams.
func (l *LLM) Build(name string, transport http.RoundTripper) source.Source {
	if l.provider == KindAnthropic {
		a := &source.Anthropic{}
		l.fill(&a.LLM, name, transport)
		return a
	}
	o := &source.OpenAI{}
	l.fill(&o.LLM, name, transport)
	return o
}

// fill sets what every provider's lane shares.
func (l *LLM) fill(c *source.LLM, name string, transport http.RoundTripper) {
	c.Transport, c.Name = transport, name
	c.BaseURL, c.Model, c.APIKey = l.BaseURL, l.Model, l.APIKey
	c.System, c.User, c.MaxTokens, c.Stream = l.System, l.User, l.MaxTokens, l.Stream
	c.FirstToken, c.Stall, c.MaxBytes = l.FirstToken.Std(), l.Stall.Std(), l.MaxBytes
	c.HeaderTimeout, c.Prefill = l.HeaderTimeout.Std(), *l.Prefill
}

// defaults: 60s, and never repeated unless told (a chat call costs
// tokens); a breaker always.
func (l *LLM) defaults(s *Source) {
	if l.Prefill == nil {
		prefill := l.provider == KindAnthropic
		l.Prefill = &prefill
	}
	if s.Timeout == 0 {
		s.Timeout = Duration(DefaultLLMTimeout)
	}
	if s.Idempotent == nil {
		no := false
		s.Idempotent = &no
	}
	s.defaultBreaker()
}

func (l *LLM) validate(d *decoder, p string, s *Source) {
	d.validateURL(p+".base_url", l.BaseURL)
	if l.Model == "" {
		d.failAt(p+".model", "missing: an %s source needs a model", s.Kind)
	}
	if l.MaxTokens < 0 || l.FirstToken < 0 || l.Stall < 0 || l.HeaderTimeout < 0 {
		d.failAt(p, "max_tokens and token timeouts must not be negative")
	}
	if l.MaxBytes < 0 {
		d.failAt(p+".max_bytes", "must not be negative")
	}
	if pr := l.Price; pr != nil && (!(pr.InputPerMTok >= 0) || !(pr.OutputPerMTok >= 0) || pr.InputPerMTok > 1e6 || pr.OutputPerMTok > 1e6) {
		d.failAt(p+".price", "input_per_mtok and output_per_mtok are US dollars per million tokens, from 0")
	}
}

func (l *LLM) templates() map[string]string {
	return map[string]string{"system": l.System, "user": l.User}
}

// Provider is the API the source speaks: KindOpenAI or KindAnthropic.
func (l *LLM) Provider() string { return l.provider }
