package wire

import (
	"encoding/json"
	"strings"
)

// Event is one server-sent event of a chat stream: its name (Anthropic
// names each; OpenAI none) and its data, a JSON value (or OpenAI's
// [DONE]).
type Event struct {
	Name string
	Data []byte
}

// delta is what one provider event says, in neither dialect: the
// meeting point of translation.
type delta struct {
	start     bool // the answer's first event: its id, model and prompt's tokens
	id, model string
	text      string
	tool      *toolDelta
	finish    string // OpenAI's words: stop, length, tool_calls, content_filter
	usage     *Usage
	done      bool // the stream's end marker
	fail      *StreamFailure
}

// toolDelta is a piece of a tool call: its start (ID and Name set) or
// some of its arguments. Index is the provider's own.
type toolDelta struct {
	index    int
	id, name string
	args     string
}

// Usage is an answer's tokens, as both dialects count them.
type Usage struct {
	InputTokens, OutputTokens int
}

// StreamFailure is an error event a provider sent mid-stream.
type StreamFailure struct {
	Type, Message string
}

// Error is the provider's type and message.
func (f *StreamFailure) Error() string { return f.Type + ": " + f.Message }

// finishFromAnthropic maps Anthropic's stop_reason to OpenAI's
// finish_reason.
func finishFromAnthropic(stop string) string {
	switch stop {
	case "max_tokens", "model_context_window_exceeded":
		return "length"
	case "tool_use":
		return "tool_calls"
	case "refusal":
		return "content_filter"
	case "":
		return ""
	}
	return "stop" // end_turn, stop_sequence, pause_turn
}

// stopFromOpenAI maps OpenAI's finish_reason to Anthropic's stop_reason.
func stopFromOpenAI(finish string) string {
	switch finish {
	case "length":
		return "max_tokens"
	case "tool_calls", "function_call":
		return "tool_use"
	case "content_filter":
		return "refusal"
	case "":
		return ""
	}
	return "end_turn"
}

// openAIChunk is the part of a chat.completion.chunk decoding reads.
type openAIChunk struct {
	ID      string `json:"id"`
	Model   string `json:"model"`
	Choices []struct {
		Delta struct {
			Content   string `json:"content"`
			ToolCalls []struct {
				Index    int        `json:"index"`
				ID       string     `json:"id"`
				Function oaFunction `json:"function"`
			} `json:"tool_calls"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *struct {
		Prompt     int `json:"prompt_tokens"`
		Completion int `json:"completion_tokens"`
	} `json:"usage"`
	Error *struct {
		Type    string `json:"type"`
		Code    any    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// decodeOpenAI is what one OpenAI chunk says, in order.
func decodeOpenAI(e Event, first bool) ([]delta, error) {
	data := strings.TrimSpace(string(e.Data))
	if data == "[DONE]" {
		return []delta{{done: true}}, nil
	}
	var c openAIChunk
	if err := json.Unmarshal([]byte(data), &c); err != nil {
		return nil, &FieldError{Reason: "malformed chunk"}
	}
	if c.Error != nil {
		return []delta{{fail: &StreamFailure{Type: c.Error.Type, Message: c.Error.Message}}}, nil
	}
	var out []delta
	if first {
		out = append(out, delta{start: true, id: c.ID, model: c.Model})
	}
	for _, ch := range c.Choices {
		if ch.Delta.Content != "" {
			out = append(out, delta{text: ch.Delta.Content})
		}
		for _, tc := range ch.Delta.ToolCalls {
			if tc.ID != "" || tc.Function.Name != "" {
				out = append(out, delta{tool: &toolDelta{index: tc.Index, id: tc.ID, name: tc.Function.Name}})
			}
			if tc.Function.Arguments != "" {
				out = append(out, delta{tool: &toolDelta{index: tc.Index, args: tc.Function.Arguments}})
			}
		}
		if ch.FinishReason != nil && *ch.FinishReason != "" {
			out = append(out, delta{finish: *ch.FinishReason})
		}
	}
	if c.Usage != nil {
		out = append(out, delta{usage: &Usage{InputTokens: c.Usage.Prompt, OutputTokens: c.Usage.Completion}})
	}
	return out, nil
}

// anthropicEvent is the part of a Messages stream event decoding reads.
type anthropicEvent struct {
	Type    string `json:"type"`
	Index   int    `json:"index"`
	Message *struct {
		ID    string `json:"id"`
		Model string `json:"model"`
		Usage struct {
			InputTokens int `json:"input_tokens"`
		} `json:"usage"`
	} `json:"message"`
	ContentBlock *struct {
		Type string `json:"type"`
		ID   string `json:"id"`
		Name string `json:"name"`
		Text string `json:"text"`
	} `json:"content_block"`
	Delta struct {
		Type        string `json:"type"`
		Text        string `json:"text"`
		PartialJSON string `json:"partial_json"`
		StopReason  string `json:"stop_reason"`
	} `json:"delta"`
	Usage *struct {
		InputTokens  int `json:"input_tokens"`
		OutputTokens int `json:"output_tokens"`
	} `json:"usage"`
	Error *StreamFailure `json:"error"`
}

// decodeAnthropic is what one Messages stream event says.
func decodeAnthropic(e Event) ([]delta, error) {
	var ev anthropicEvent
	if err := json.Unmarshal(e.Data, &ev); err != nil {
		return nil, &FieldError{Reason: "malformed event"}
	}
	switch ev.Type {
	case "message_start":
		d := delta{start: true}
		if m := ev.Message; m != nil {
			d.id, d.model = m.ID, m.Model
			d.usage = &Usage{InputTokens: m.Usage.InputTokens}
		}
		return []delta{d}, nil
	case "content_block_start":
		if b := ev.ContentBlock; b != nil && b.Type == "tool_use" {
			return []delta{{tool: &toolDelta{index: ev.Index, id: b.ID, name: b.Name}}}, nil
		} else if b != nil && b.Type == "text" && b.Text != "" {
			return []delta{{text: b.Text}}, nil
		}
	case "content_block_delta":
		switch ev.Delta.Type {
		case "text_delta":
			return []delta{{text: ev.Delta.Text}}, nil
		case "input_json_delta":
			if ev.Delta.PartialJSON != "" {
				return []delta{{tool: &toolDelta{index: ev.Index, args: ev.Delta.PartialJSON}}}, nil
			}
		}
	case "message_delta":
		var out []delta
		if f := finishFromAnthropic(ev.Delta.StopReason); f != "" {
			out = append(out, delta{finish: f})
		}
		if u := ev.Usage; u != nil {
			out = append(out, delta{usage: &Usage{InputTokens: u.InputTokens, OutputTokens: u.OutputTokens}})
		}
		return out, nil
	case "message_stop":
		return []delta{{done: true}}, nil
	case "error":
		f := ev.Error
		if f == nil {
			f = &StreamFailure{Type: "api_error", Message: "error event"}
		}
		return []delta{{fail: f}}, nil
	}
	return nil, nil // ping, content_block_stop, and what a later API adds
}
