package source

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
)

// AnthropicVersion is the API version Highway speaks.
const AnthropicVersion = "2023-06-01"

// Anthropic is a chat lane on the Anthropic Messages API
// (POST {BaseURL}/v1/messages, with x-api-key and anthropic-version). It
// answers like OpenAI does, with finish_reason from stop_reason, and streams
// each text_delta as a token of its Answer. MaxTokens 0 means 1024, since
// the API requires it. APIKey never appears in an error.
type Anthropic struct {
	LLM
}

type anthropicRequest struct {
	Model     string        `json:"model"`
	MaxTokens int           `json:"max_tokens"`
	System    string        `json:"system,omitempty"`
	Messages  []chatMessage `json:"messages"`
	Stream    bool          `json:"stream,omitempty"`
}

// Fetch asks for one message.
func (a *Anthropic) Fetch(ctx context.Context, call *Call) (*Answer, error) {
	c, err := a.prepare(call, DialectAnthropic, "/v1/messages", a.request, readMessage, a.parser)
	if err != nil {
		return nil, err
	}
	c.header.Set("anthropic-version", AnthropicVersion)
	if a.APIKey != "" {
		c.header.Set("x-api-key", a.APIKey)
	}
	return c.do(ctx)
}

func (a *Anthropic) request(system, user string) any {
	max := a.MaxTokens
	if max <= 0 {
		max = 1024
	}
	return anthropicRequest{Model: a.Model, MaxTokens: max, System: system,
		Messages: []chatMessage{{Role: "user", Content: user}}, Stream: a.Stream}
}

// message is the part of a Messages API message or stream event we read.
type message struct {
	Type    string `json:"type"`
	Model   string `json:"model"`
	Content []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	} `json:"content"`
	StopReason string `json:"stop_reason"`
	Usage      struct {
		InputTokens  int `json:"input_tokens"`
		OutputTokens int `json:"output_tokens"`
	} `json:"usage"`
}

// streamEvent is one data: line of a Messages API stream.
type streamEvent struct {
	Type         string   `json:"type"`
	Message      *message `json:"message"`
	ContentBlock *struct {
		Type string `json:"type"`
		Name string `json:"name"`
	} `json:"content_block"`
	Delta struct {
		Type        string `json:"type"`
		Text        string `json:"text"`
		PartialJSON string `json:"partial_json"`
		StopReason  string `json:"stop_reason"`
	} `json:"delta"`
	Usage *struct {
		OutputTokens int `json:"output_tokens"`
	} `json:"usage"`
	Error *struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	} `json:"error"`
}

func usageJSON(in, out int) json.RawMessage {
	b, _ := json.Marshal(map[string]int{"input_tokens": in, "output_tokens": out})
	return b
}

func readMessage(body []byte) (*chatReply, error) {
	var m message
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrNotJSON, quoteSnippet(body))
	}
	if m.Type != "message" {
		return nil, fmt.Errorf("upstream answered no message: %s", quoteSnippet(body))
	}
	var text strings.Builder
	for _, c := range m.Content {
		if c.Type == "text" {
			text.WriteString(c.Text)
		}
	}
	return &chatReply{Reply: text.String(), Model: m.Model, FinishReason: m.StopReason,
		Usage: usageJSON(m.Usage.InputTokens, m.Usage.OutputTokens), usage: &Usage{InputTokens: m.Usage.InputTokens, OutputTokens: m.Usage.OutputTokens}}, nil
}

// parser reads a streamed message from its events, adding each
// text_delta to ans as it arrives, until message_stop.
func (a *Anthropic) parser(watch *tokenWatch, ans *Answer) lineParser {
	var reply chatReply
	var text strings.Builder
	in, out := 0, 0
	return lineParser{marker: "message_stop", parse: func(line string) (*chatReply, bool, error) {
		data, ok := strings.CutPrefix(line, "data:")
		if !ok {
			return nil, false, nil // event: lines name what data: says again in "type"
		}
		var e streamEvent
		if err := json.Unmarshal([]byte(strings.TrimSpace(data)), &e); err != nil {
			return nil, true, &StreamError{Kind: StreamMalformed, Reason: "malformed event " + quoteSnippet([]byte(data))}
		}
		if e.Type != "error" {
			ans.record(e.Type, strings.TrimSpace(data)) // before its content wakes a reader
		}
		switch e.Type {
		case "message_start":
			if e.Message != nil {
				reply.Model, in = e.Message.Model, e.Message.Usage.InputTokens
			}
		case "content_block_start":
			if e.ContentBlock != nil && e.ContentBlock.Type == "tool_use" {
				watch.tick(len(e.ContentBlock.Name)) // a tool call's start is content
				ans.begin()
			}
		case "content_block_delta":
			if e.Delta.Type == "input_json_delta" {
				watch.tick(len(e.Delta.PartialJSON)) // a tool call arriving is content too
				ans.begin()
			}
			if e.Delta.Type == "text_delta" {
				watch.tick(len(e.Delta.Text))
				text.WriteString(e.Delta.Text)
				ans.add(e.Delta.Text)
			}
		case "message_delta":
			if e.Delta.StopReason != "" {
				reply.FinishReason = e.Delta.StopReason
			}
			if e.Usage != nil {
				out = e.Usage.OutputTokens
			}
		case "message_stop":
			reply.Reply, reply.Usage, reply.usage = text.String(), usageJSON(in, out), &Usage{InputTokens: in, OutputTokens: out}
			return &reply, true, nil
		case "error":
			reason := "error event"
			if e.Error != nil {
				reason = "error event: " + e.Error.Type + ": " + e.Error.Message
			}
			return nil, true, &StreamError{Kind: StreamInBand, Reason: reason}
		}
		return nil, false, nil
	}}
}
