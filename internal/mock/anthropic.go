package mock

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// AnthropicPath is where highway mock speaks the Anthropic Messages API:
// point an anthropic source's base_url at http://HOST:PORT/anthropic.
const AnthropicPath = "/anthropic/v1/messages"

// serveAnthropic answers a message the way the API does, with the same
// query-string faults as the fake OpenAI endpoint.
func serveAnthropic(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost && r.Header.Get("anthropic-version") == "" {
		anthropicError(w, http.StatusBadRequest, "invalid_request_error", "anthropic-version header is required")
		return
	}
	c, f, ok := readChat(w, r, anthropicError, anthropicConversation)
	if !ok {
		return
	}
	rep := c.answer()
	if !c.stream {
		if !wait(r, f.replyTime(len(rep.pieces()))) {
			return
		}
		var content []any
		if len(rep.tokens) > 0 {
			content = append(content, map[string]string{"type": "text", "text": strings.Join(rep.tokens, "")})
		}
		for _, tc := range rep.calls {
			content = append(content, map[string]any{"type": "tool_use", "id": "toolu_" + tc.id, "name": tc.name, "input": json.RawMessage(tc.args)})
		}
		writeJSON(w, map[string]any{"id": "msg_mock", "type": "message", "role": "assistant", "model": c.model,
			"content": content, "stop_reason": anthropicStop(rep.finish), "stop_sequence": nilIfEmpty(rep.sequence), "usage": anthropicUsage(c, rep)})
		return
	}
	sseHeaders(w)
	rc := http.NewResponseController(w)
	send := func(typ string, v map[string]any) {
		v["type"] = typ
		b, _ := json.Marshal(v)
		fmt.Fprintf(w, "event: %s\ndata: %s\n\n", typ, b)
		rc.Flush()
	}
	send("message_start", map[string]any{"message": map[string]any{"id": "msg_mock", "type": "message", "role": "assistant", "model": c.model,
		"content": []any{}, "stop_reason": nil, "stop_sequence": nil, "usage": map[string]int{"input_tokens": c.words, "output_tokens": 1}}})
	if len(rep.tokens) > 0 {
		send("content_block_start", map[string]any{"index": 0, "content_block": map[string]string{"type": "text", "text": ""}})
	}
	send("ping", map[string]any{})
	pieces := rep.pieces()
	how := faults{
		garbage:   "event: content_block_delta\ndata: {oops\n\n",
		keepAlive: "event: ping\ndata: {\"type\": \"ping\"}\n\n",
		inBand:    "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"mock provider overloaded mid-stream\"}}\n\n",
	}
	// Text is block 0; each tool call is a block after it.
	block := func(p piece) int {
		if len(rep.tokens) > 0 {
			return p.call + 1
		}
		return p.call
	}
	if !f.emit(w, r, len(pieces), how, func(i int) {
		p := pieces[i]
		switch {
		case p.call < 0:
			send("content_block_delta", map[string]any{"index": 0, "delta": map[string]string{"type": "text_delta", "text": p.text}})
		case p.start:
			if b := block(p); b > 0 {
				send("content_block_stop", map[string]any{"index": b - 1})
			}
			tc := rep.calls[p.call]
			send("content_block_start", map[string]any{"index": block(p), "content_block": map[string]any{"type": "tool_use", "id": "toolu_" + tc.id, "name": tc.name, "input": map[string]any{}}})
		default:
			send("content_block_delta", map[string]any{"index": block(p), "delta": map[string]string{"type": "input_json_delta", "partial_json": p.text}})
		}
	}) {
		return
	}
	if len(pieces) > 0 {
		send("content_block_stop", map[string]any{"index": block(pieces[len(pieces)-1])})
	}
	send("message_delta", map[string]any{"delta": map[string]any{"stop_reason": anthropicStop(rep.finish), "stop_sequence": nilIfEmpty(rep.sequence)},
		"usage": map[string]int{"output_tokens": len(pieces)}})
	send("message_stop", map[string]any{})
}

func anthropicStop(finish string) string {
	switch finish {
	case finishLength:
		return "max_tokens"
	case finishTools:
		return "tool_use"
	case finishSequence:
		return "stop_sequence"
	}
	return "end_turn"
}

func anthropicUsage(c *conversation, rep reply) map[string]int {
	return map[string]int{"input_tokens": c.words, "output_tokens": len(rep.pieces())}
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func anthropicError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"type": "error", "error": map[string]string{"type": typ, "message": msg}})
}
