package wire

import (
	"encoding/json"
	"strings"
)

// The parts of an OpenAI chat request that translation reads.
type (
	oaMessage struct {
		Role       string          `json:"role"`
		Content    json.RawMessage `json:"content"`
		Name       string          `json:"name"`
		ToolCalls  []oaToolCall    `json:"tool_calls"`
		ToolCallID string          `json:"tool_call_id"`
	}
	oaPart struct {
		Type     string `json:"type"`
		Text     string `json:"text"`
		ImageURL *struct {
			URL string `json:"url"`
		} `json:"image_url"`
	}
	oaToolCall struct {
		ID       string     `json:"id"`
		Type     string     `json:"type"`
		Function oaFunction `json:"function"`
	}
	oaFunction struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	}
	oaTool struct {
		Type     string `json:"type"`
		Function struct {
			Name        string          `json:"name"`
			Description string          `json:"description"`
			Parameters  json.RawMessage `json:"parameters"`
		} `json:"function"`
	}
)

// anthropicFromOpenAI translates an OpenAI chat request into a Messages
// request for t, field by field; one it cannot is an error naming it.
func anthropicFromOpenAI(in object, t Target) (object, error) {
	out := object{{"model", mustJSON(t.Model)}}
	maxTokens := t.MaxTokens
	if maxTokens <= 0 {
		maxTokens = DefaultMaxTokens
	}
	var parallel *bool
	for _, m := range in {
		k, v := m.key, m.value
		if isNull(v) {
			continue // null is the default, for every field
		}
		switch k {
		case "model", "stream_options", "store", "metadata":
			// the target's own; metering's, which the answer honours; a
			// stored completion's, which nothing here stores
		case "messages":
			system, msgs, err := anthropicMessages(v)
			if err != nil {
				return nil, err
			}
			if system != "" {
				out.set("system", system)
			}
			out.set("messages", msgs)
		case "max_tokens", "max_completion_tokens":
			if err := number(k, v, &maxTokens, 1); err != nil {
				return nil, err
			}
		case "temperature":
			var f float64
			if json.Unmarshal(v, &f) != nil || f < 0 || f > 1 {
				return nil, fieldErr(k, "an Anthropic provider takes a temperature from 0 to 1, got %s", v)
			}
			out.set(k, v)
		case "top_p":
			out.set(k, v)
		case "stream":
			out.set(k, v)
		case "stop":
			stops, err := stopList(v)
			if err != nil {
				return nil, err
			}
			if len(stops) > 0 {
				out.set("stop_sequences", stops)
			}
		case "tools":
			tools, err := anthropicTools(v)
			if err != nil {
				return nil, err
			}
			out.set("tools", tools)
		case "tool_choice":
			choice, err := anthropicToolChoice(v)
			if err != nil {
				return nil, err
			}
			out.set("tool_choice", choice)
		case "parallel_tool_calls":
			var b bool
			if json.Unmarshal(v, &b) != nil {
				return nil, fieldErr(k, "want true or false")
			}
			parallel = &b
		case "user":
			var u string
			if json.Unmarshal(v, &u) != nil {
				return nil, fieldErr(k, "want a string")
			}
			out.set("metadata", map[string]string{"user_id": u})
		case "n":
			if string(v) != "1" {
				return nil, fieldErr(k, "an Anthropic provider answers one choice; ask for n: 1")
			}
		case "response_format":
			var rf struct {
				Type string `json:"type"`
			}
			if json.Unmarshal(v, &rf) != nil || rf.Type != "text" {
				return nil, fieldErr(k, "%s cannot be asked of an Anthropic provider (only text maps)", strings.TrimSpace(string(v)))
			}
		case "presence_penalty", "frequency_penalty":
			if f := 0.0; json.Unmarshal(v, &f) != nil || f != 0 {
				return nil, fieldErr(k, "an Anthropic provider has no %s", k)
			}
		case "logprobs":
			if string(v) != "false" {
				return nil, fieldErr(k, "an Anthropic provider gives no log probabilities")
			}
		default:
			return nil, fieldErr(k, "cannot be asked of an Anthropic provider: the Messages API has no such field")
		}
	}
	out.set("max_tokens", maxTokens)
	if parallel != nil && !*parallel {
		choice := map[string]any{"type": "auto"}
		if raw := out.get("tool_choice"); raw != nil {
			json.Unmarshal(raw, &choice)
		}
		choice["disable_parallel_tool_use"] = true
		out.set("tool_choice", choice)
	}
	return out, nil
}

// anthropicMessages is OpenAI's messages as Anthropic's system prompt
// and messages: system and developer messages join the system prompt,
// tool results become a user turn's tool_result blocks, and consecutive
// turns of one role merge into one.
func anthropicMessages(raw json.RawMessage) (string, []map[string]any, error) {
	var in []oaMessage
	if err := json.Unmarshal(raw, &in); err != nil {
		return "", nil, fieldErr("messages", "want an array of messages: %v", err)
	}
	var system []string
	var out []map[string]any
	add := func(role string, blocks []map[string]any) {
		if n := len(out); n > 0 && out[n-1]["role"] == role {
			out[n-1]["content"] = append(out[n-1]["content"].([]map[string]any), blocks...)
			return
		}
		out = append(out, map[string]any{"role": role, "content": blocks})
	}
	for i, m := range in {
		p := field("messages", i)
		switch m.Role {
		case "system", "developer":
			text, err := plainText(p+".content", m.Content)
			if err != nil {
				return "", nil, err
			}
			system = append(system, text)
		case "user":
			blocks, err := anthropicContent(p+".content", m.Content)
			if err != nil {
				return "", nil, err
			}
			add("user", blocks)
		case "assistant":
			blocks, err := anthropicContent(p+".content", m.Content)
			if err != nil {
				return "", nil, err
			}
			for j, tc := range m.ToolCalls {
				input := json.RawMessage(tc.Function.Arguments)
				if strings.TrimSpace(tc.Function.Arguments) == "" {
					input = json.RawMessage("{}")
				}
				var obj map[string]any
				if json.Unmarshal(input, &obj) != nil {
					return "", nil, fieldErr(field(p, "tool_calls", j, "function", "arguments"), "want a JSON object, which an Anthropic provider takes as the tool's input")
				}
				blocks = append(blocks, map[string]any{"type": "tool_use", "id": tc.ID, "name": tc.Function.Name, "input": input})
			}
			if len(blocks) == 0 {
				continue // an empty assistant turn says nothing
			}
			add("assistant", blocks)
		case "tool":
			text, err := plainText(p+".content", m.Content)
			if err != nil {
				return "", nil, err
			}
			if m.ToolCallID == "" {
				return "", nil, fieldErr(p+".tool_call_id", "missing: which tool call this answers")
			}
			add("user", []map[string]any{{"type": "tool_result", "tool_use_id": m.ToolCallID, "content": text}})
		default:
			return "", nil, fieldErr(p+".role", "unknown role %q (system, developer, user, assistant, tool)", m.Role)
		}
	}
	if len(out) == 0 {
		return "", nil, fieldErr("messages", "only system messages: an Anthropic provider needs a user message")
	}
	return strings.Join(system, "\n\n"), out, nil
}

// anthropicContent is an OpenAI message's content (a string, or text and
// image parts) as Anthropic content blocks.
func anthropicContent(p string, raw json.RawMessage) ([]map[string]any, error) {
	if len(raw) == 0 || isNull(raw) {
		return nil, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if s == "" {
			return nil, nil
		}
		return []map[string]any{{"type": "text", "text": s}}, nil
	}
	var parts []oaPart
	if err := json.Unmarshal(raw, &parts); err != nil {
		return nil, fieldErr(p, "want a string or an array of content parts")
	}
	var out []map[string]any
	for j, part := range parts {
		switch part.Type {
		case "text":
			out = append(out, map[string]any{"type": "text", "text": part.Text})
		case "image_url":
			if part.ImageURL == nil {
				return nil, fieldErr(field(p, j, "image_url"), "missing")
			}
			src, err := imageSource(field(p, j, "image_url", "url"), part.ImageURL.URL)
			if err != nil {
				return nil, err
			}
			out = append(out, map[string]any{"type": "image", "source": src})
		default:
			return nil, fieldErr(field(p, j, "type"), "a %q part cannot be sent to an Anthropic provider (text and image_url can)", part.Type)
		}
	}
	return out, nil
}

// imageSource is an image URL (https, or a base64 data URL) as an
// Anthropic image source.
func imageSource(p, url string) (map[string]string, error) {
	if rest, ok := strings.CutPrefix(url, "data:"); ok {
		media, data, ok := strings.Cut(rest, ";base64,")
		if !ok || media == "" {
			return nil, fieldErr(p, "want a data:MEDIA;base64,DATA URL")
		}
		return map[string]string{"type": "base64", "media_type": media, "data": data}, nil
	}
	if !strings.HasPrefix(url, "https://") && !strings.HasPrefix(url, "http://") {
		return nil, fieldErr(p, "want an http(s) or data: URL")
	}
	return map[string]string{"type": "url", "url": url}, nil
}

// plainText is content that must be text: a string, or text parts.
func plainText(p string, raw json.RawMessage) (string, error) {
	var s string
	if len(raw) == 0 || isNull(raw) || json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var parts []oaPart
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", fieldErr(p, "want a string or an array of text parts")
	}
	var b strings.Builder
	for j, part := range parts {
		if part.Type != "text" {
			return "", fieldErr(field(p, j, "type"), "want text here, got %q", part.Type)
		}
		b.WriteString(part.Text)
	}
	return b.String(), nil
}

// anthropicTools is OpenAI's function tools as Anthropic's.
func anthropicTools(raw json.RawMessage) ([]map[string]any, error) {
	var in []oaTool
	if err := json.Unmarshal(raw, &in); err != nil {
		return nil, fieldErr("tools", "want an array of tools")
	}
	out := make([]map[string]any, 0, len(in))
	for i, t := range in {
		if t.Type != "function" {
			return nil, fieldErr(field("tools", i, "type"), "a %q tool cannot be offered to an Anthropic provider (function can)", t.Type)
		}
		if t.Function.Name == "" {
			return nil, fieldErr(field("tools", i, "function", "name"), "missing")
		}
		schema := t.Function.Parameters
		if len(schema) == 0 || isNull(schema) {
			schema = json.RawMessage(`{"type":"object","properties":{}}`)
		}
		tool := map[string]any{"name": t.Function.Name, "input_schema": schema}
		if t.Function.Description != "" {
			tool["description"] = t.Function.Description
		}
		out = append(out, tool)
	}
	return out, nil
}

// anthropicToolChoice is OpenAI's tool_choice as Anthropic's.
func anthropicToolChoice(raw json.RawMessage) (map[string]any, error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		switch s {
		case "auto":
			return map[string]any{"type": "auto"}, nil
		case "required":
			return map[string]any{"type": "any"}, nil
		case "none":
			return map[string]any{"type": "none"}, nil
		}
		return nil, fieldErr("tool_choice", "unknown choice %q (auto, required, none)", s)
	}
	var c struct {
		Type     string `json:"type"`
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	}
	if json.Unmarshal(raw, &c) != nil || c.Type != "function" || c.Function.Name == "" {
		return nil, fieldErr("tool_choice", "want auto, required, none or {\"type\": \"function\", \"function\": {\"name\": ...}}")
	}
	return map[string]any{"type": "tool", "name": c.Function.Name}, nil
}

// stopList is OpenAI's stop, a string or strings.
func stopList(raw json.RawMessage) ([]string, error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []string{s}, nil
	}
	var list []string
	if json.Unmarshal(raw, &list) != nil {
		return nil, fieldErr("stop", "want a string or an array of strings")
	}
	return list, nil
}

// number reads a whole number of at least least.
func number(k string, v json.RawMessage, n *int, least int) error {
	if json.Unmarshal(v, n) != nil || *n < least {
		return fieldErr(k, "want a whole number of at least %d", least)
	}
	return nil
}

func mustJSON(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}
