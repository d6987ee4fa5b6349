package mock

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// OpenAIPath is where highway mock speaks the OpenAI Chat Completions API:
// point an openai source's base_url at http://HOST:PORT/openai/v1.
const OpenAIPath = "/openai/v1/chat/completions"

// OpenAIEmbeddingsPath is the fake OpenAI provider's embeddings endpoint.
const OpenAIEmbeddingsPath = "/openai/v1/embeddings"

// maxChatBody is the largest request body the fake providers read.
const maxChatBody = 1 << 20

// serveOpenAI answers a chat completion the way the API does.
func serveOpenAI(w http.ResponseWriter, r *http.Request) {
	c, f, ok := readChat(w, r, openAIError, openAIConversation)
	if !ok {
		return
	}
	rep := c.answer()
	if c.stream {
		streamOpenAI(w, r, c, rep, f)
		return
	}
	if !wait(r, f.replyTime(len(rep.pieces()))) {
		return
	}
	msg := map[string]any{"role": "assistant", "content": strings.Join(rep.tokens, ""), "refusal": nil}
	if len(rep.calls) > 0 {
		var calls []any
		for _, tc := range rep.calls {
			calls = append(calls, map[string]any{"id": "call_" + tc.id, "type": "function", "function": map[string]string{"name": tc.name, "arguments": tc.args}})
		}
		msg["content"], msg["tool_calls"] = nil, calls
	}
	writeJSON(w, map[string]any{
		"id": "chatcmpl-mock", "object": "chat.completion", "created": time.Now().Unix(), "model": c.model,
		"choices": []any{map[string]any{"index": 0, "message": msg, "finish_reason": openAIFinish(rep.finish), "logprobs": nil}},
		"usage":   openAIUsage(c, rep),
	})
}

// readChat reads a chat request in a dialect (its parse and its error
// writer), answering the fake provider's own failures; ok is false when
// it has answered.
func readChat(w http.ResponseWriter, r *http.Request, fail func(http.ResponseWriter, int, string, string), parse func([]byte) (*conversation, error)) (*conversation, fakeChat, bool) {
	if r.Method != http.MethodPost {
		fail(w, http.StatusMethodNotAllowed, "invalid_request_error", "use POST")
		return nil, fakeChat{}, false
	}
	f, err := parseFakeChat(r.URL.RawQuery)
	if err != nil {
		fail(w, http.StatusBadRequest, "invalid_request_error", err.Error())
		return nil, f, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxChatBody))
	if err != nil {
		fail(w, http.StatusBadRequest, "invalid_request_error", "reading the body: "+err.Error())
		return nil, f, false
	}
	c, err := parse(body)
	if err != nil {
		fail(w, http.StatusBadRequest, "invalid_request_error", err.Error())
		return nil, f, false
	}
	if f.holdsHeaders(r) {
		return nil, f, false
	}
	if f.failureStatus != 0 {
		setRetryAfter(w, f.retryAfter)
		fail(w, f.failureStatus, "mock_error", "mock failure with status "+strconv.Itoa(f.failureStatus))
		return nil, f, false
	}
	return c, f, true
}

func streamOpenAI(w http.ResponseWriter, r *http.Request, c *conversation, rep reply, f fakeChat) {
	sseHeaders(w)
	rc := http.NewResponseController(w)
	send := func(v any) {
		b, _ := json.Marshal(v)
		fmt.Fprintf(w, "data: %s\n\n", b)
		rc.Flush()
	}
	chunk := func(delta map[string]any, finish any) map[string]any {
		return map[string]any{"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": time.Now().Unix(), "model": c.model,
			"choices": []any{map[string]any{"index": 0, "delta": delta, "finish_reason": finish}}}
	}
	if len(rep.calls) > 0 {
		send(chunk(map[string]any{"role": "assistant", "content": nil}, nil))
	} else {
		send(chunk(map[string]any{"role": "assistant", "content": ""}, nil))
	}
	pieces := rep.pieces()
	how := faults{
		garbage:   "data: {\"choices\": [oops\n\n",
		keepAlive: ": keep-alive\n\n",
		inBand:    `data: {"error":{"message":"mock provider overloaded mid-stream","type":"server_error","param":null,"code":null}}` + "\n\n",
	}
	if !f.emit(w, r, len(pieces), how, func(i int) { send(chunk(openAIDelta(pieces[i], rep), nil)) }) {
		return
	}
	send(chunk(map[string]any{}, openAIFinish(rep.finish)))
	if c.usage {
		send(map[string]any{"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": time.Now().Unix(), "model": c.model,
			"choices": []any{}, "usage": openAIUsage(c, rep)})
	}
	fmt.Fprint(w, "data: [DONE]\n\n")
	rc.Flush()
}

// openAIDelta is a piece as a chunk's delta.
func openAIDelta(p piece, rep reply) map[string]any {
	if p.call < 0 {
		return map[string]any{"content": p.text}
	}
	call := map[string]any{"index": p.call, "function": map[string]string{"arguments": p.text}}
	if p.start {
		tc := rep.calls[p.call]
		call["id"], call["type"], call["function"] = "call_"+tc.id, "function", map[string]string{"name": tc.name, "arguments": ""}
	}
	return map[string]any{"tool_calls": []any{call}}
}

func openAIFinish(finish string) string {
	if finish == finishSequence {
		return "stop"
	}
	return finish
}

// replyTokens is the mock's answer, a word at a time.
func replyTokens(prompt string) []string {
	words := strings.Fields("Hello from AI City! Popy heard: " + prompt)
	for i := 1; i < len(words); i++ {
		words[i] = " " + words[i]
	}
	return words
}

func openAIUsage(c *conversation, rep reply) map[string]int {
	n := len(rep.pieces())
	return map[string]int{"prompt_tokens": c.words, "completion_tokens": n, "total_tokens": c.words + n}
}

// serveEmbeddings answers an embeddings request with a small vector per
// input, the same for the same text.
func serveEmbeddings(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Model string          `json:"model"`
		Input json.RawMessage `json:"input"`
	}
	if r.Method != http.MethodPost {
		openAIError(w, http.StatusMethodNotAllowed, "invalid_request_error", "use POST")
		return
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxChatBody)).Decode(&req); err != nil || req.Model == "" {
		openAIError(w, http.StatusBadRequest, "invalid_request_error", "model and input are required")
		return
	}
	var inputs []string
	var one string
	if json.Unmarshal(req.Input, &one) == nil {
		inputs = []string{one}
	} else if json.Unmarshal(req.Input, &inputs) != nil || len(inputs) == 0 {
		openAIError(w, http.StatusBadRequest, "invalid_request_error", "input: want a string or an array of strings")
		return
	}
	var data []any
	words := 0
	for i, in := range inputs {
		sum := sha256.Sum256([]byte(in))
		vec := make([]float64, 8)
		for j := range vec {
			vec[j] = float64(sum[j])/127.5 - 1
		}
		words += len(strings.Fields(in))
		data = append(data, map[string]any{"object": "embedding", "index": i, "embedding": vec})
	}
	writeJSON(w, map[string]any{"object": "list", "data": data, "model": req.Model, "usage": map[string]int{"prompt_tokens": words, "total_tokens": words}})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func openAIError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"message": msg, "type": typ, "param": nil, "code": nil}})
}
