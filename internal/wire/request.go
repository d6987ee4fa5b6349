package wire

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// Request is a chat request as a client sent it in its dialect, read
// enough to route it: the model it asks for and whether it streams. What
// a provider is sent is made from it by For. A Request does not change
// once read and is safe for concurrent use.
type Request struct {
	Dialect Dialect
	// Model is the model the client asked for, by name.
	Model string
	// Stream says the client asked for the answer as a stream.
	Stream bool
	// IncludeUsage says an OpenAI client asked for a stream's usage
	// (stream_options.include_usage): its last chunk then carries it.
	IncludeUsage bool

	body object
}

// Parse reads body, a request in dialect d: a JSON object with a model,
// a non-empty messages array and, for Anthropic, max_tokens, as the
// providers require. An error is a *FieldError.
func Parse(d Dialect, body []byte) (*Request, error) {
	o, err := parseObject(body)
	if err != nil {
		if fe, ok := err.(*FieldError); ok {
			return nil, fe
		}
		return nil, &FieldError{Reason: "the body is not a JSON object: " + err.Error()}
	}
	r := &Request{Dialect: d, body: o}
	if err := str(o, "model", &r.Model); err != nil {
		return nil, err
	}
	if r.Model == "" {
		return nil, fieldErr("model", "missing: the model to ask")
	}
	var msgs []json.RawMessage
	if raw := o.get("messages"); raw == nil {
		return nil, fieldErr("messages", "missing: the conversation to continue")
	} else if json.Unmarshal(raw, &msgs) != nil {
		return nil, fieldErr("messages", "want an array of messages")
	} else if len(msgs) == 0 {
		return nil, fieldErr("messages", "empty: want at least one message")
	}
	if raw := o.get("stream"); raw != nil && json.Unmarshal(raw, &r.Stream) != nil {
		return nil, fieldErr("stream", "want true or false")
	}
	switch d {
	case OpenAI:
		var so struct {
			IncludeUsage bool `json:"include_usage"`
		}
		if raw := o.get("stream_options"); raw != nil && !isNull(raw) && json.Unmarshal(raw, &so) != nil {
			return nil, fieldErr("stream_options", "want {\"include_usage\": true|false}")
		}
		r.IncludeUsage = so.IncludeUsage
	case Anthropic:
		var n int
		if raw := o.get("max_tokens"); raw == nil {
			return nil, fieldErr("max_tokens", "missing: the Messages API requires it")
		} else if json.Unmarshal(raw, &n) != nil || n < 1 {
			return nil, fieldErr("max_tokens", "want a whole number of at least 1")
		}
	}
	return r, nil
}

// Target is the provider a request is asked of.
type Target struct {
	Dialect Dialect
	// Model is the provider's name for the model, sent in place of the
	// client's.
	Model string
	// MaxTokens is Anthropic's max_tokens when a request from an OpenAI
	// client gives none (the Messages API requires one); 0 means 4096.
	MaxTokens int
	// Prefix, when set, is the start of the assistant's reply, sent as a
	// last assistant message for the provider to continue: how a stream
	// cut mid-answer resumes on another provider.
	Prefix string
}

// DefaultMaxTokens is Anthropic's max_tokens for an OpenAI request that
// gives none and a target that sets none.
const DefaultMaxTokens = 4096

// For is the body to send t: the request itself with t's model when t
// speaks the client's dialect (every other field kept as written; an
// OpenAI stream also asks for its usage, which metering needs), else the
// request translated into t's dialect. An error is a *FieldError.
func (r *Request) For(t Target) ([]byte, error) {
	if t.Dialect == r.Dialect {
		o := append(object(nil), r.body...)
		o.set("model", t.Model)
		if r.Dialect == OpenAI && r.Stream && !r.IncludeUsage {
			o.set("stream_options", map[string]bool{"include_usage": true})
		}
		if t.Prefix != "" {
			if err := appendPrefix(&o, t.Prefix); err != nil {
				return nil, err
			}
		}
		return o.encode(), nil
	}
	var o object
	var err error
	if r.Dialect == OpenAI {
		o, err = anthropicFromOpenAI(r.body, t)
	} else {
		o, err = openAIFromAnthropic(r.body, t)
	}
	if err != nil {
		return nil, err
	}
	if t.Prefix != "" {
		if err := appendPrefix(&o, t.Prefix); err != nil {
			return nil, err
		}
	}
	return o.encode(), nil
}

// appendPrefix adds the start of the assistant's reply as the last
// message. Anthropic refuses a final assistant message that ends in
// white space, and continues the same with it trimmed.
func appendPrefix(o *object, prefix string) error {
	var msgs []json.RawMessage
	if err := json.Unmarshal(o.get("messages"), &msgs); err != nil {
		return fieldErr("messages", "want an array of messages")
	}
	m, _ := json.Marshal(map[string]string{"role": "assistant", "content": strings.TrimRight(prefix, " \t\n")})
	o.set("messages", append(msgs, m))
	return nil
}

// str reads o's key as a string into s, if it is there.
func str(o object, key string, s *string) error {
	if raw := o.get(key); raw != nil && json.Unmarshal(raw, s) != nil {
		return fieldErr(key, "want a string")
	}
	return nil
}

func isNull(raw json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(raw), []byte("null")) }

// field is a path into a request, for errors: field("messages", 2,
// "content") is messages[2].content.
func field(parts ...any) string {
	var b strings.Builder
	for _, p := range parts {
		switch p := p.(type) {
		case int:
			fmt.Fprintf(&b, "[%d]", p)
		default:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			fmt.Fprint(&b, p)
		}
	}
	return b.String()
}
