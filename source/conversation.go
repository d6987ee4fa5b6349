package source

import (
	"github.com/citypopy/highway/internal/wire"
)

// Dialect is a chat wire format: OpenAI's Chat Completions or
// Anthropic's Messages.
type Dialect = wire.Dialect

// The dialects a Chat comes in and an LLM source speaks.
const (
	DialectOpenAI    = wire.OpenAI
	DialectAnthropic = wire.Anthropic
)

// FieldError is a chat request that cannot be read, or sent to a
// provider of another dialect: which field, and why.
type FieldError = wire.FieldError

// Event is one server-sent event of a provider's chat stream, as it sent
// it: its name (Anthropic's) and its data.
type Event = wire.Event

// Chat is a conversation as a client sent it in a provider's dialect
// (the front door's request). An LLM source asked a Call with a Chat
// sends it in place of its prompts: as it came, with the source's model
// in place of the client's, to a provider of the same dialect, else
// translated; streamed if the client asked for a stream. The answer is
// then the provider's own: its whole body (Value) or its stream's events
// (Events), in its dialect (Answer.Dialect). A Chat does not change and
// is safe for concurrent use.
type Chat struct {
	req    *wire.Request
	prefix string
}

// ParseChat reads body, a chat request in dialect d; an error is a
// *FieldError.
func ParseChat(d Dialect, body []byte) (*Chat, error) {
	r, err := wire.Parse(d, body)
	if err != nil {
		return nil, err
	}
	return &Chat{req: r}, nil
}

// Dialect is the dialect the client spoke.
func (c *Chat) Dialect() Dialect { return c.req.Dialect }

// Model is the model the client asked for.
func (c *Chat) Model() string { return c.req.Model }

// Stream says the client asked for a stream.
func (c *Chat) Stream() bool { return c.req.Stream }

// IncludeUsage says an OpenAI client asked for a stream's usage chunk.
func (c *Chat) IncludeUsage() bool { return c.req.IncludeUsage }

// Continuing is the chat asking its provider to continue an answer that
// began as prefix (a stream cut mid-way, resumed on another provider):
// sent as the assistant's reply so far, to a source with Prefill.
func (c *Chat) Continuing(prefix string) *Chat { return &Chat{req: c.req, prefix: prefix} }

// Prefix is the start of the answer the chat asks to continue; "" for a
// fresh one.
func (c *Chat) Prefix() string { return c.prefix }

// body is the request to send a provider of dialect d for model, asking
// at most maxTokens where the client's dialect does not say (0: the
// default).
func (c *Chat) body(d Dialect, model string, maxTokens int) ([]byte, error) {
	return c.req.For(wire.Target{Dialect: d, Model: model, MaxTokens: maxTokens, Prefix: c.prefix})
}

// key is what of the chat changes the answer, for Call.Key: the request
// as read and the prefix.
func (c *Chat) key() []byte {
	b, _ := c.req.For(wire.Target{Dialect: c.req.Dialect})
	return append(append(b, 0), c.prefix...)
}

// Fits is nil when the chat can be put to a provider of dialect d, else
// the *FieldError of what cannot be translated: a client's request may
// be refused before any provider is called, rather than count against
// one that could not have taken it.
func (c *Chat) Fits(d Dialect) error {
	_, err := c.body(d, c.req.Model, 0)
	return err
}
