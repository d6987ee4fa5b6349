package wire

import (
	"encoding/json"
	"strings"
)

// The parts of an Anthropic Messages request that translation reads.
type (
	anMessage struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	}
	anBlock struct {
		Type      string          `json:"type"`
		Text      string          `json:"text"`
		Source    *anImageSource  `json:"source"`
		ID        string          `json:"id"`
		Name      string          `json:"name"`
		Input     json.RawMessage `json:"input"`
		ToolUseID string          `json:"tool_use_id"`
		Content   json.RawMessage `json:"content"`
		IsError   bool            `json:"is_error"`
	}
	anImageSource struct {
		Type      string `json:"type"`
		MediaType string `json:"media_type"`
		Data      string `json:"data"`
		URL       string `json:"url"`
	}
	anTool struct {
		Type        string          `json:"type"`
		Name        string          `json:"name"`
		Description string          `json:"description"`
		InputSchema json.RawMessage `json:"input_schema"`
	}
)

// openAIFromAnthropic translates a Messages request into an OpenAI chat
// request for t, field by field; one it cannot is an error naming it.
func openAIFromAnthropic(in object, t Target) (object, error) {
	out := object{{"model", mustJSON(t.Model)}}
	var system []map[string]any
	for _, m := range in {
		k, v := m.key, m.value
		if isNull(v) {
			continue
		}
		switch k {
		case "model":
		case "system":
			text, err := anthropicText("system", v)
			if err != nil {
				return nil, err
			}
			system = []map[string]any{{"role": "system", "content": text}}
		case "messages":
			msgs, err := openAIMessages(v)
			if err != nil {
				return nil, err
			}
			out.set("messages", msgs)
		case "max_tokens":
			var n int
			if err := number(k, v, &n, 1); err != nil {
				return nil, err
			}
			out.set("max_tokens", n)
		case "temperature", "top_p":
			out.set(k, v)
		case "stop_sequences":
			var stops []string
			if json.Unmarshal(v, &stops) != nil {
				return nil, fieldErr(k, "want an array of strings")
			}
			if len(stops) > 0 {
				out.set("stop", stops)
			}
		case "stream":
			out.set(k, v)
			if string(v) == "true" {
				out.set("stream_options", map[string]bool{"include_usage": true})
			}
		case "tools":
			tools, err := openAITools(v)
			if err != nil {
				return nil, err
			}
			out.set("tools", tools)
		case "tool_choice":
			if err := openAIToolChoice(&out, v); err != nil {
				return nil, err
			}
		case "metadata":
			var md struct {
				UserID string `json:"user_id"`
			}
			if json.Unmarshal(v, &md) != nil {
				return nil, fieldErr(k, "want {\"user_id\": ...}")
			}
			if md.UserID != "" {
				out.set("user", md.UserID)
			}
		default:
			return nil, fieldErr(k, "cannot be asked of an OpenAI provider: the Chat Completions API has no such field")
		}
	}
	if system != nil {
		var msgs []map[string]any
		json.Unmarshal(out.get("messages"), &msgs)
		out.set("messages", append(system, msgs...))
	}
	return out, nil
}

// openAIMessages is Anthropic's messages as OpenAI's: a user turn's
// tool_result blocks become tool messages (first, as they answer the
// assistant turn before), an assistant turn's tool_use blocks its
// tool_calls.
func openAIMessages(raw json.RawMessage) ([]map[string]any, error) {
	var in []anMessage
	if err := json.Unmarshal(raw, &in); err != nil {
		return nil, fieldErr("messages", "want an array of messages: %v", err)
	}
	var out []map[string]any
	for i, m := range in {
		p := field("messages", i)
		if m.Role != "user" && m.Role != "assistant" {
			return nil, fieldErr(p+".role", "unknown role %q (user, assistant)", m.Role)
		}
		blocks, err := anthropicBlocks(p+".content", m.Content)
		if err != nil {
			return nil, err
		}
		var parts []map[string]any
		var calls []map[string]any
		for j, b := range blocks {
			bp := field(p, "content", j)
			switch {
			case b.Type == "text":
				parts = append(parts, map[string]any{"type": "text", "text": b.Text})
			case b.Type == "image" && m.Role == "user":
				url, err := imageURL(bp+".source", b.Source)
				if err != nil {
					return nil, err
				}
				parts = append(parts, map[string]any{"type": "image_url", "image_url": map[string]string{"url": url}})
			case b.Type == "tool_use" && m.Role == "assistant":
				input := b.Input
				if len(input) == 0 {
					input = json.RawMessage("{}")
				}
				calls = append(calls, map[string]any{"id": b.ID, "type": "function",
					"function": map[string]string{"name": b.Name, "arguments": string(input)}})
			case b.Type == "tool_result" && m.Role == "user":
				text, err := anthropicText(bp+".content", b.Content)
				if err != nil {
					return nil, err
				}
				if b.IsError {
					text = "Error: " + text // OpenAI has no error flag: the tool's answer says so
				}
				out = append(out, map[string]any{"role": "tool", "tool_call_id": b.ToolUseID, "content": text})
			default:
				return nil, fieldErr(bp+".type", "a %s's %q block cannot be sent to an OpenAI provider", m.Role, b.Type)
			}
		}
		msg := map[string]any{"role": m.Role}
		switch {
		case m.Role == "assistant":
			msg["content"] = joinText(parts)
			if len(calls) > 0 {
				msg["tool_calls"] = calls
			}
		case len(parts) == 0:
			continue // a turn of tool results alone
		case len(parts) == 1 && parts[0]["type"] == "text":
			msg["content"] = parts[0]["text"]
		default:
			msg["content"] = parts
		}
		out = append(out, msg)
	}
	return out, nil
}

// anthropicBlocks is a message's content as blocks: a string is one text
// block.
func anthropicBlocks(p string, raw json.RawMessage) ([]anBlock, error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []anBlock{{Type: "text", Text: s}}, nil
	}
	var blocks []anBlock
	if err := json.Unmarshal(raw, &blocks); err != nil {
		return nil, fieldErr(p, "want a string or an array of content blocks")
	}
	return blocks, nil
}

// anthropicText is content that must be text: a string or text blocks.
func anthropicText(p string, raw json.RawMessage) (string, error) {
	if len(raw) == 0 || isNull(raw) {
		return "", nil
	}
	blocks, err := anthropicBlocks(p, raw)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for j, bl := range blocks {
		if bl.Type != "text" {
			return "", fieldErr(field(p, j, "type"), "want text here to send to an OpenAI provider, got %q", bl.Type)
		}
		b.WriteString(bl.Text)
	}
	return b.String(), nil
}

// joinText is text parts' text, or nil (JSON null) when there is none,
// as an assistant turn of tool calls alone has.
func joinText(parts []map[string]any) any {
	if len(parts) == 0 {
		return nil
	}
	var b strings.Builder
	for _, p := range parts {
		b.WriteString(p["text"].(string))
	}
	return b.String()
}

// imageURL is an Anthropic image source as an OpenAI image URL.
func imageURL(p string, src *anImageSource) (string, error) {
	switch {
	case src == nil:
		return "", fieldErr(p, "missing")
	case src.Type == "base64" && src.MediaType != "":
		return "data:" + src.MediaType + ";base64," + src.Data, nil
	case src.Type == "url" && src.URL != "":
		return src.URL, nil
	}
	return "", fieldErr(p+".type", "a %q image source cannot be sent to an OpenAI provider (base64 and url can)", src.Type)
}

// openAITools is Anthropic's custom tools as OpenAI's function tools.
func openAITools(raw json.RawMessage) ([]map[string]any, error) {
	var in []anTool
	if err := json.Unmarshal(raw, &in); err != nil {
		return nil, fieldErr("tools", "want an array of tools")
	}
	out := make([]map[string]any, 0, len(in))
	for i, t := range in {
		if t.Type != "" && t.Type != "custom" {
			return nil, fieldErr(field("tools", i, "type"), "the server tool %q cannot be offered to an OpenAI provider", t.Type)
		}
		if t.Name == "" {
			return nil, fieldErr(field("tools", i, "name"), "missing")
		}
		fn := map[string]any{"name": t.Name}
		if t.Description != "" {
			fn["description"] = t.Description
		}
		if len(t.InputSchema) > 0 {
			fn["parameters"] = t.InputSchema
		}
		out = append(out, map[string]any{"type": "function", "function": fn})
	}
	return out, nil
}

// openAIToolChoice sets Anthropic's tool_choice on out as OpenAI's
// tool_choice and parallel_tool_calls.
func openAIToolChoice(out *object, raw json.RawMessage) error {
	var c struct {
		Type                   string `json:"type"`
		Name                   string `json:"name"`
		DisableParallelToolUse bool   `json:"disable_parallel_tool_use"`
	}
	if json.Unmarshal(raw, &c) != nil {
		return fieldErr("tool_choice", "want {\"type\": auto|any|tool|none}")
	}
	switch c.Type {
	case "auto":
		out.set("tool_choice", "auto")
	case "any":
		out.set("tool_choice", "required")
	case "none":
		out.set("tool_choice", "none")
	case "tool":
		if c.Name == "" {
			return fieldErr("tool_choice.name", "missing: the tool to use")
		}
		out.set("tool_choice", map[string]any{"type": "function", "function": map[string]string{"name": c.Name}})
	default:
		return fieldErr("tool_choice.type", "unknown choice %q (auto, any, tool, none)", c.Type)
	}
	if c.DisableParallelToolUse {
		out.set("parallel_tool_calls", false)
	}
	return nil
}
