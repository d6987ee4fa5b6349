package wire

import (
	"encoding/json"
	"strings"
	"time"
)

// Answer is body, a provider's whole answer in dialect from, as the
// client's dialect to has it: itself when they are one, else translated
// (text, tool calls, the finish or stop reason and usage).
func Answer(body []byte, from, to Dialect) ([]byte, error) {
	if from == to {
		return body, nil
	}
	if from == OpenAI {
		return anthropicAnswer(body)
	}
	return openAIAnswer(body)
}

// anthropicAnswer is an OpenAI chat.completion as a Messages message.
func anthropicAnswer(body []byte) ([]byte, error) {
	var c struct {
		ID      string `json:"id"`
		Model   string `json:"model"`
		Choices []struct {
			Message struct {
				Content   *string      `json:"content"`
				Refusal   *string      `json:"refusal"`
				ToolCalls []oaToolCall `json:"tool_calls"`
			} `json:"message"`
			FinishReason string `json:"finish_reason"`
		} `json:"choices"`
		Usage struct {
			Prompt     int `json:"prompt_tokens"`
			Completion int `json:"completion_tokens"`
		} `json:"usage"`
	}
	if err := json.Unmarshal(body, &c); err != nil || len(c.Choices) == 0 {
		return nil, &FieldError{Reason: "the provider's answer is not a chat completion"}
	}
	ch := c.Choices[0]
	content := []map[string]any{}
	if t := ch.Message.Content; t != nil && *t != "" {
		content = append(content, map[string]any{"type": "text", "text": *t})
	} else if r := ch.Message.Refusal; r != nil && *r != "" {
		content = append(content, map[string]any{"type": "text", "text": *r})
	}
	for _, tc := range ch.Message.ToolCalls {
		input := json.RawMessage(tc.Function.Arguments)
		if !json.Valid(input) || strings.TrimSpace(tc.Function.Arguments) == "" {
			input = json.RawMessage("{}")
		}
		content = append(content, map[string]any{"type": "tool_use", "id": tc.ID, "name": tc.Function.Name, "input": input})
	}
	return json.Marshal(map[string]any{"id": messageID(c.ID), "type": "message", "role": "assistant", "model": c.Model,
		"content": content, "stop_reason": stopFromOpenAI(orStop(ch.FinishReason)), "stop_sequence": nil,
		"usage": map[string]int{"input_tokens": c.Usage.Prompt, "output_tokens": c.Usage.Completion}})
}

// openAIAnswer is a Messages message as an OpenAI chat.completion.
func openAIAnswer(body []byte) ([]byte, error) {
	var m struct {
		ID         string    `json:"id"`
		Type       string    `json:"type"`
		Model      string    `json:"model"`
		Content    []anBlock `json:"content"`
		StopReason string    `json:"stop_reason"`
		Usage      struct {
			InputTokens  int `json:"input_tokens"`
			OutputTokens int `json:"output_tokens"`
		} `json:"usage"`
	}
	if err := json.Unmarshal(body, &m); err != nil || m.Type != "message" {
		return nil, &FieldError{Reason: "the provider's answer is not a message"}
	}
	var text strings.Builder
	var calls []map[string]any
	for _, b := range m.Content {
		switch b.Type {
		case "text":
			text.WriteString(b.Text)
		case "tool_use":
			args := string(b.Input)
			if args == "" {
				args = "{}"
			}
			calls = append(calls, map[string]any{"id": b.ID, "type": "function", "function": map[string]string{"name": b.Name, "arguments": args}})
		}
	}
	msg := map[string]any{"role": "assistant", "content": nil, "refusal": nil}
	if text.Len() > 0 {
		msg["content"] = text.String()
	}
	if len(calls) > 0 {
		msg["tool_calls"] = calls
	}
	u := Usage{InputTokens: m.Usage.InputTokens, OutputTokens: m.Usage.OutputTokens}
	return json.Marshal(map[string]any{"id": completionID(m.ID), "object": "chat.completion", "created": time.Now().Unix(), "model": m.Model,
		"choices": []any{map[string]any{"index": 0, "message": msg, "finish_reason": orStop(finishFromAnthropic(m.StopReason)), "logprobs": nil}},
		"usage":   openAIUsage(u)})
}

// messageID is the provider's answer id as an Anthropic message's, which
// begins msg_: an OpenAI completion's chatcmpl-ID becomes msg_ID.
func messageID(id string) string { return "msg_" + bareID(id) }

// completionID is the provider's answer id as an OpenAI completion's,
// which begins chatcmpl-: an Anthropic message's msg_ID becomes
// chatcmpl-ID.
func completionID(id string) string { return "chatcmpl-" + bareID(id) }

// bareID is id without the prefix of either API's answer ids; "highway"
// for none.
func bareID(id string) string {
	id = strings.TrimPrefix(strings.TrimPrefix(id, "chatcmpl-"), "msg_")
	if id == "" {
		return "highway"
	}
	return id
}
