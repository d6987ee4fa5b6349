package mock

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// conversation is what the fake providers read of a chat request, in
// either dialect: enough to answer it the way a model would, and
// deterministically, so that a test knows the answer.
type conversation struct {
	model  string
	stream bool
	// last is the last message's text: a user's, or the results of the
	// tool calls it answers.
	last    string
	images  int    // images in the last user message
	prefix  string // an assistant's reply so far, to continue (a prefill)
	results bool   // the last message answers tool calls
	tools   []fakeTool
	noTools bool // tool_choice none
	words   int  // the prompt's words, for usage
	// maxTokens cuts a text reply short (finish "length"); stop ends it
	// before the first of these sequences (finish "stop_sequence").
	maxTokens int
	stop      []string
	usage     bool // an OpenAI stream asked for its usage chunk
}

type fakeTool struct {
	name  string
	props []string // the string parameters its schema declares
}

// toolCall is one tool call the fake model makes.
type toolCall struct {
	id, name, args string
}

// reply is what the fake model answers: text, a word at a time, or tool
// calls (each tool offered, once), and why it ended: finishStop,
// finishLength, finishSequence (with the sequence) or finishTools.
type reply struct {
	tokens   []string
	calls    []toolCall
	finish   string
	sequence string
}

// The reasons a fake reply ends, named as OpenAI does; each dialect says
// them its own way.
const (
	finishStop     = "stop"
	finishLength   = "length"
	finishSequence = "stop_sequence"
	finishTools    = "tool_calls"
)

// answer is the fake model's reply to c: tool calls when tools are
// offered and the last message is the user's; otherwise "Hello from AI
// City! Popy heard: ..." with what it heard (continued after a prefill
// that starts it).
func (c *conversation) answer() reply {
	if len(c.tools) > 0 && !c.noTools && !c.results && c.prefix == "" {
		var r reply
		for i, t := range c.tools {
			args := map[string]string{}
			for _, p := range t.props {
				args[p] = "Citypopy"
			}
			b, _ := json.Marshal(args)
			r.calls = append(r.calls, toolCall{id: fmt.Sprintf("mock_%d", i+1), name: t.name, args: string(b)})
		}
		r.finish = finishTools
		return r
	}
	heard := c.last
	if c.images > 0 {
		heard += fmt.Sprintf(" and saw %d image(s)", c.images)
	}
	tokens := replyTokens(heard)
	if c.prefix != "" {
		// A prefill: go on from where the reply so far ends, as a model
		// continuing its own words does.
		have := strings.Fields(c.prefix)
		for len(tokens) > 0 && len(have) > 0 && strings.TrimSpace(tokens[0]) == have[0] {
			tokens, have = tokens[1:], have[1:]
		}
	}
	return c.cut(tokens)
}

// cut ends tokens at the first stop sequence, or after maxTokens.
func (c *conversation) cut(tokens []string) reply {
	r := reply{finish: finishStop}
	for i, tok := range tokens {
		for _, s := range c.stop {
			if j := strings.Index(tok, s); s != "" && j >= 0 {
				r.tokens = append(tokens[:i:i], tok[:j])
				if tok[:j] == "" {
					r.tokens = tokens[:i]
				}
				r.finish, r.sequence = finishSequence, s
				return r
			}
		}
		if c.maxTokens > 0 && i == c.maxTokens {
			r.tokens, r.finish = tokens[:i], finishLength
			return r
		}
	}
	r.tokens = tokens
	return r
}

// openAIConversation reads an OpenAI chat request.
func openAIConversation(body []byte) (*conversation, error) {
	var req struct {
		Model    string `json:"model"`
		Stream   bool   `json:"stream"`
		Messages []struct {
			Role    string          `json:"role"`
			Content json.RawMessage `json:"content"`
		} `json:"messages"`
		Tools []struct {
			Function struct {
				Name       string          `json:"name"`
				Parameters json.RawMessage `json:"parameters"`
			} `json:"function"`
		} `json:"tools"`
		ToolChoice          json.RawMessage `json:"tool_choice"`
		MaxTokens           int             `json:"max_tokens"`
		MaxCompletionTokens int             `json:"max_completion_tokens"`
		Stop                json.RawMessage `json:"stop"`
		StreamOptions       struct {
			IncludeUsage bool `json:"include_usage"`
		} `json:"stream_options"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, fmt.Errorf("body is not a JSON chat request: %v", err)
	}
	if req.Model == "" || len(req.Messages) == 0 {
		return nil, fmt.Errorf("model and messages are required")
	}
	c := &conversation{model: req.Model, stream: req.Stream, noTools: string(req.ToolChoice) == `"none"`,
		maxTokens: max(req.MaxTokens, req.MaxCompletionTokens), usage: req.StreamOptions.IncludeUsage}
	var one string
	if json.Unmarshal(req.Stop, &one) == nil {
		c.stop = []string{one}
	} else {
		json.Unmarshal(req.Stop, &c.stop)
	}
	for _, t := range req.Tools {
		c.tools = append(c.tools, fakeTool{name: t.Function.Name, props: stringProps(t.Function.Parameters)})
	}
	var results []string
	for i, m := range req.Messages {
		text, images, err := openAIText(m.Content)
		if err != nil {
			return nil, fmt.Errorf("messages[%d].content: %v", i, err)
		}
		c.words += len(strings.Fields(text))
		switch {
		case m.Role == "tool":
			results = append(results, text)
		case m.Role == "assistant" && i == len(req.Messages)-1 && text != "":
			c.prefix = text
		case m.Role == "user":
			c.last, c.images, results = text, images, nil
		}
	}
	if results != nil {
		c.last, c.images, c.results = strings.Join(results, ", "), 0, true
	}
	return c, nil
}

func openAIText(raw json.RawMessage) (string, int, error) {
	var s string
	if len(raw) == 0 || string(raw) == "null" || json.Unmarshal(raw, &s) == nil {
		return s, 0, nil
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", 0, fmt.Errorf("want a string or content parts")
	}
	var text []string
	images := 0
	for _, p := range parts {
		switch p.Type {
		case "text":
			text = append(text, p.Text)
		case "image_url":
			images++
		default:
			return "", 0, fmt.Errorf("unsupported content part %q", p.Type)
		}
	}
	return strings.Join(text, " "), images, nil
}

// anthropicConversation reads a Messages request.
func anthropicConversation(body []byte) (*conversation, error) {
	var req struct {
		Model     string          `json:"model"`
		MaxTokens int             `json:"max_tokens"`
		Stream    bool            `json:"stream"`
		System    json.RawMessage `json:"system"`
		Messages  []struct {
			Role    string          `json:"role"`
			Content json.RawMessage `json:"content"`
		} `json:"messages"`
		Tools []struct {
			Name        string          `json:"name"`
			InputSchema json.RawMessage `json:"input_schema"`
		} `json:"tools"`
		ToolChoice *struct {
			Type string `json:"type"`
		} `json:"tool_choice"`
		StopSequences []string `json:"stop_sequences"`
	}
	if err := json.Unmarshal(body, &req); err != nil || req.Model == "" || req.MaxTokens < 1 || len(req.Messages) == 0 {
		return nil, fmt.Errorf("model, max_tokens and messages are required")
	}
	c := &conversation{model: req.Model, stream: req.Stream, noTools: req.ToolChoice != nil && req.ToolChoice.Type == "none",
		maxTokens: req.MaxTokens, stop: req.StopSequences}
	for _, t := range req.Tools {
		c.tools = append(c.tools, fakeTool{name: t.Name, props: stringProps(t.InputSchema)})
	}
	for i, m := range req.Messages {
		text, images, results, err := anthropicText(m.Content)
		if err != nil {
			return nil, fmt.Errorf("messages[%d].content: %v", i, err)
		}
		c.words += len(strings.Fields(text + " " + strings.Join(results, " ")))
		switch {
		case m.Role == "assistant" && i == len(req.Messages)-1 && text != "":
			if strings.TrimRight(text, " \t\n") != text {
				return nil, fmt.Errorf("final assistant content cannot end with trailing whitespace")
			}
			c.prefix = text
		case m.Role == "user" && len(results) > 0:
			c.last, c.images, c.results = strings.Join(results, ", "), 0, true
		case m.Role == "user":
			c.last, c.images, c.results = text, images, false
		}
	}
	return c, nil
}

func anthropicText(raw json.RawMessage) (text string, images int, results []string, err error) {
	if json.Unmarshal(raw, &text) == nil {
		return text, 0, nil, nil
	}
	var blocks []struct {
		Type    string          `json:"type"`
		Text    string          `json:"text"`
		Content json.RawMessage `json:"content"`
	}
	if err := json.Unmarshal(raw, &blocks); err != nil {
		return "", 0, nil, fmt.Errorf("want a string or content blocks")
	}
	var texts []string
	for _, b := range blocks {
		switch b.Type {
		case "text":
			texts = append(texts, b.Text)
		case "image":
			images++
		case "tool_use":
		case "tool_result":
			r, _, _, err := anthropicText(b.Content)
			if err != nil {
				return "", 0, nil, err
			}
			results = append(results, r)
		default:
			return "", 0, nil, fmt.Errorf("unsupported content block %q", b.Type)
		}
	}
	return strings.Join(texts, " "), images, results, nil
}

// stringProps are the string properties a JSON Schema declares, sorted.
func stringProps(schema json.RawMessage) []string {
	var s struct {
		Properties map[string]struct {
			Type string `json:"type"`
		} `json:"properties"`
	}
	json.Unmarshal(schema, &s)
	var out []string
	for name, p := range s.Properties {
		if p.Type == "string" {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}
