package source

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
)

// OpenAI is a chat lane on the OpenAI Chat Completions API
// (POST {BaseURL}/chat/completions), which OpenAI, Ollama, vLLM, llama.cpp's
// server and many others speak. It answers
//
//	{"reply": "...", "model": "...", "finish_reason": "stop", "usage": {...}}
//
// as an Answer that streams the reply's tokens as they arrive when Stream
// is set. APIKey is sent as a bearer token and never appears in
// an error.
type OpenAI struct {
	LLM
}

type chatRequest struct {
	Model         string        `json:"model"`
	Messages      []chatMessage `json:"messages"`
	MaxTokens     int           `json:"max_tokens,omitempty"`
	Stream        bool          `json:"stream,omitempty"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options,omitempty"`
}

type chatMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
	// ToolCalls, in a streamed delta, is a tool call arriving: content,
	// as text is, for the first-token timeout.
	ToolCalls json.RawMessage `json:"tool_calls,omitempty"`
}

// Fetch asks for one chat completion.
func (o *OpenAI) Fetch(ctx context.Context, call *Call) (*Answer, error) {
	c, err := o.prepare(call, DialectOpenAI, "/chat/completions", o.request, readCompletion, o.parser)
	if err != nil {
		return nil, err
	}
	if o.APIKey != "" {
		c.header.Set("Authorization", "Bearer "+o.APIKey)
	}
	return c.do(ctx)
}

func (o *OpenAI) request(system, user string) any {
	r := chatRequest{Model: o.Model, MaxTokens: o.MaxTokens, Stream: o.Stream}
	if system != "" {
		r.Messages = append(r.Messages, chatMessage{Role: "system", Content: system})
	}
	r.Messages = append(r.Messages, chatMessage{Role: "user", Content: user})
	if o.Stream {
		r.StreamOptions = &struct {
			IncludeUsage bool `json:"include_usage"`
		}{true}
	}
	return r
}

// completion is the part of a chat.completion or chat.completion.chunk we read.
type completion struct {
	Model   string `json:"model"`
	Choices []struct {
		Message      *chatMessage `json:"message"`
		Delta        *chatMessage `json:"delta"`
		FinishReason *string      `json:"finish_reason"`
	} `json:"choices"`
	Usage json.RawMessage `json:"usage"`
	// Error is an error a provider sent in its stream, in place of a chunk.
	Error *struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	} `json:"error"`
}

// openAIUsage is the part of OpenAI's usage we read.
type openAIUsage struct {
	Prompt     int `json:"prompt_tokens"`
	Completion int `json:"completion_tokens"`
}

// typedUsage is OpenAI's usage, typed; nil when it is absent or says
// nothing we read.
func typedUsage(raw json.RawMessage) *Usage {
	var u openAIUsage
	if raw == nil || json.Unmarshal(raw, &u) != nil {
		return nil
	}
	return &Usage{InputTokens: u.Prompt, OutputTokens: u.Completion}
}

func readCompletion(body []byte) (*chatReply, error) {
	var c completion
	if err := json.Unmarshal(body, &c); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrNotJSON, quoteSnippet(body))
	}
	if len(c.Choices) == 0 || c.Choices[0].Message == nil {
		return nil, fmt.Errorf("upstream answered no choices: %s", quoteSnippet(body))
	}
	reply := &chatReply{Reply: c.Choices[0].Message.Content, Model: c.Model, Usage: nonNull(c.Usage)}
	reply.usage = typedUsage(reply.Usage)
	if f := c.Choices[0].FinishReason; f != nil {
		reply.FinishReason = *f
	}
	return reply, nil
}

// parser reads a streamed reply from its data: lines, adding each token
// to a as it arrives, until data: [DONE].
func (o *OpenAI) parser(watch *tokenWatch, a *Answer) lineParser {
	var reply chatReply
	var text strings.Builder
	return lineParser{marker: "data: [DONE]", parse: func(line string) (*chatReply, bool, error) {
		data, ok := strings.CutPrefix(line, "data:")
		if !ok {
			return nil, false, nil // blank lines, comments, event: and id: lines
		}
		data = strings.TrimSpace(data)
		if data == "[DONE]" {
			a.record("", data)
			reply.Reply = text.String()
			reply.usage = typedUsage(reply.Usage)
			return &reply, true, nil
		}
		var c completion
		if err := json.Unmarshal([]byte(data), &c); err != nil {
			return nil, true, &StreamError{Kind: StreamMalformed, Reason: "malformed chunk " + quoteSnippet([]byte(data))}
		}
		if e := c.Error; e != nil {
			return nil, true, &StreamError{Kind: StreamInBand, Reason: "error event: " + e.Type + ": " + e.Message}
		}
		a.record("", data)
		if c.Model != "" {
			reply.Model = c.Model
		}
		if u := nonNull(c.Usage); u != nil {
			reply.Usage = u
		}
		content := 0 // bytes of text or tool call
		for _, ch := range c.Choices {
			if ch.Delta != nil && ch.Delta.Content != "" {
				content += len(ch.Delta.Content)
				text.WriteString(ch.Delta.Content)
				a.add(ch.Delta.Content)
			}
			if ch.Delta != nil && len(ch.Delta.ToolCalls) > 0 {
				content += len(ch.Delta.ToolCalls)
				a.begin() // content that is not text
			}
			if ch.FinishReason != nil {
				reply.FinishReason = *ch.FinishReason
			}
		}
		if content > 0 {
			// Only content is a token: a role-only or empty chunk, which
			// many servers send at once, says nothing of the answer.
			watch.tick(content)
		}
		return nil, false, nil
	}}
}
