// Package wire speaks the two chat wire formats LLM providers use,
// OpenAI's Chat Completions and Anthropic's Messages: it asks a request
// of a provider in either (the same format passed through untouched but
// for the model's name, the other translated), and translates answers,
// whole or streamed event by event, back into the format the client
// asked in. What cannot be translated is a *FieldError naming the field
// and why, never dropped.
package wire

import "fmt"

// Dialect is a chat wire format. The zero value is none.
type Dialect uint8

// The dialects.
const (
	OpenAI    Dialect = iota + 1 // Chat Completions: POST /v1/chat/completions
	Anthropic                    // Messages: POST /v1/messages
)

// String names the dialect as people do.
func (d Dialect) String() string {
	switch d {
	case OpenAI:
		return "OpenAI"
	case Anthropic:
		return "Anthropic"
	}
	return "no dialect"
}

// FieldError is a request that cannot be read, or asked of a provider in
// another dialect: Field is where (messages[2].content[0].type), Reason
// why. It is the client's error: 400.
type FieldError struct {
	Field, Reason string
}

// Error says where and why.
func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.Reason
	}
	return e.Field + ": " + e.Reason
}

func fieldErr(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}
