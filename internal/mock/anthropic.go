package mock

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// AnthropicPath is where highway mock speaks the Anthropic Messages API:
// point an anthropic source's base_url at http://HOST:PORT/anthropic.
const AnthropicPath = "/anthropic/v1/messages"

type anthropicRequest struct {
	Model     string `json:"model"`
	MaxTokens int    `json:"max_tokens"`
	Messages  []struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	} `json:"messages"`
	Stream bool `json:"stream"`
}

// serveAnthropic answers a message the way the API does, with the same
// query-string faults as the fake OpenAI endpoint.
func serveAnthropic(w http.ResponseWriter, r *http.Request) {
	fail := func(status int, typ, msg string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]any{"type": "error", "error": map[string]string{"type": typ, "message": msg}})
	}
	if r.Method != http.MethodPost {
		fail(http.StatusMethodNotAllowed, "invalid_request_error", "use POST")
		return
	}
	if r.Header.Get("anthropic-version") == "" {
		fail(http.StatusBadRequest, "invalid_request_error", "anthropic-version header is required")
		return
	}
	f, err := parseFakeChat(r.URL.RawQuery)
	if err != nil {
		fail(http.StatusBadRequest, "invalid_request_error", err.Error())
		return
	}
	var req anthropicRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil || req.Model == "" || req.MaxTokens < 1 || len(req.Messages) == 0 {
		fail(http.StatusBadRequest, "invalid_request_error", "model, max_tokens and messages are required")
		return
	}
	if f.failureStatus != 0 {
		setRetryAfter(w, f.retryAfter)
		fail(f.failureStatus, "mock_error", "mock failure with status "+strconv.Itoa(f.failureStatus))
		return
	}
	prompt := len(strings.Fields(req.Messages[len(req.Messages)-1].Content))
	tokens := replyTokens(req.Messages[len(req.Messages)-1].Content)
	usage := map[string]int{"input_tokens": prompt, "output_tokens": len(tokens)}
	if !req.Stream {
		if !wait(r, f.replyTime(len(tokens))) {
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"id": "msg_mock", "type": "message", "role": "assistant", "model": req.Model,
			"content": []any{map[string]string{"type": "text", "text": strings.Join(tokens, "")}}, "stop_reason": "end_turn", "stop_sequence": nil, "usage": usage})
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	rc := http.NewResponseController(w)
	send := func(typ string, v map[string]any) {
		v["type"] = typ
		b, _ := json.Marshal(v)
		fmt.Fprintf(w, "event: %s\ndata: %s\n\n", typ, b)
		rc.Flush()
	}
	send("message_start", map[string]any{"message": map[string]any{"id": "msg_mock", "type": "message", "role": "assistant", "model": req.Model,
		"content": []any{}, "stop_reason": nil, "usage": map[string]int{"input_tokens": prompt, "output_tokens": 1}}})
	send("content_block_start", map[string]any{"index": 0, "content_block": map[string]string{"type": "text", "text": ""}})
	send("ping", map[string]any{})
	if !f.emit(w, r, tokens, "event: content_block_delta\ndata: {oops\n\n", func(tok string) {
		send("content_block_delta", map[string]any{"index": 0, "delta": map[string]string{"type": "text_delta", "text": tok}})
	}) {
		return
	}
	send("content_block_stop", map[string]any{"index": 0})
	send("message_delta", map[string]any{"delta": map[string]any{"stop_reason": "end_turn", "stop_sequence": nil}, "usage": map[string]int{"output_tokens": len(tokens)}})
	send("message_stop", map[string]any{})
}
