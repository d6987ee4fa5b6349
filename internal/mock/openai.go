package mock

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// OpenAIPath is where highway mock speaks the OpenAI Chat Completions API:
// point an openai source's base_url at http://HOST:PORT/openai/v1.
const OpenAIPath = "/openai/v1/chat/completions"

// fakeChat is what the fake LLM endpoints do with one request, from the
// query string: token_delay and first_token pace the stream, and
// tail_rate of requests wait tail_first_token instead (a provider's heavy
// time-to-first-token tail); failure_status (with retry_after) fails it
// the way providers do; fault=
// stall stops mid-stream, fault=garbage sends a malformed chunk,
// fault=cut closes the connection mid-stream, as a provider that falls
// over does.
type fakeChat struct {
	tokenDelay, firstToken, retryAfter time.Duration
	tailRate                           float64
	tailFirstToken                     time.Duration
	failureStatus                      int
	fault                              string
}

func parseFakeChat(raw string) (fakeChat, error) {
	f := fakeChat{tokenDelay: 20 * time.Millisecond}
	q, err := url.ParseQuery(raw)
	if err != nil {
		return f, fmt.Errorf("malformed query: %v", err)
	}
	f.firstToken = -1
	for k, vs := range q {
		v := vs[0]
		switch k {
		case "token_delay":
			f.tokenDelay, err = duration(v)
		case "first_token":
			f.firstToken, err = duration(v)
		case "retry_after":
			f.retryAfter, err = duration(v)
		case "tail_rate":
			f.tailRate, err = ratio(v)
		case "tail_first_token":
			f.tailFirstToken, err = duration(v)
		case "failure_status":
			f.failureStatus, err = strconv.Atoi(v)
			if err == nil && (f.failureStatus < 400 || f.failureStatus > 599) {
				err = fmt.Errorf("want 400 to 599")
			}
		case "fault":
			if v != "stall" && v != "garbage" && v != "cut" {
				err = fmt.Errorf("want stall, garbage or cut")
			}
			f.fault = v
		default:
			return f, fmt.Errorf("unknown query parameter %q; known: token_delay, first_token, tail_rate, tail_first_token, failure_status, retry_after, fault", k)
		}
		if err != nil {
			return f, fmt.Errorf("%s=%q: %v", k, v, err)
		}
	}
	if f.firstToken < 0 {
		f.firstToken = f.tokenDelay
	}
	if f.tailRate > 0 && rand.Float64() < f.tailRate {
		f.firstToken = f.tailFirstToken
	}
	return f, nil
}

type openAIRequest struct {
	Model    string `json:"model"`
	Messages []struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	} `json:"messages"`
	Stream bool `json:"stream"`
}

// replyTime is how long a whole (unstreamed) reply of n tokens takes.
func (f fakeChat) replyTime(n int) time.Duration {
	return f.firstToken + time.Duration(n-1)*f.tokenDelay
}

// emit paces tokens to send, playing the stall and garbage faults at the
// third token (garbage is the malformed line to write). It reports whether
// every token went out; false when the client left or a fault ended it.
func (f fakeChat) emit(w http.ResponseWriter, r *http.Request, tokens []string, garbage string, send func(tok string)) bool {
	for i, tok := range tokens {
		delay := f.tokenDelay
		if i == 0 {
			delay = f.firstToken
		}
		if !wait(r, delay) {
			return false
		}
		switch {
		case f.fault == "stall" && i == 2:
			<-r.Context().Done()
			return false
		case f.fault == "garbage" && i == 2:
			fmt.Fprint(w, garbage)
			http.NewResponseController(w).Flush()
			return false
		case f.fault == "cut" && i == 2:
			panic(http.ErrAbortHandler) // net/http drops the connection, mid-stream
		}
		send(tok)
	}
	return true
}

// setRetryAfter sets a Retry-After header of d, rounded up to seconds.
func setRetryAfter(w http.ResponseWriter, d time.Duration) {
	if d > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((d+time.Second-1)/time.Second)))
	}
}

// serveOpenAI answers a chat completion the way the API does.
func serveOpenAI(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		openAIError(w, http.StatusMethodNotAllowed, "invalid_request_error", "use POST")
		return
	}
	f, err := parseFakeChat(r.URL.RawQuery)
	if err != nil {
		openAIError(w, http.StatusBadRequest, "invalid_request_error", err.Error())
		return
	}
	var req openAIRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil {
		openAIError(w, http.StatusBadRequest, "invalid_request_error", "body is not a JSON chat request: "+err.Error())
		return
	}
	if req.Model == "" || len(req.Messages) == 0 {
		openAIError(w, http.StatusBadRequest, "invalid_request_error", "model and messages are required")
		return
	}
	if f.failureStatus != 0 {
		setRetryAfter(w, f.retryAfter)
		openAIError(w, f.failureStatus, "mock_error", "mock failure with status "+strconv.Itoa(f.failureStatus))
		return
	}
	tokens := replyTokens(req.Messages[len(req.Messages)-1].Content)
	if !req.Stream {
		if !wait(r, f.replyTime(len(tokens))) {
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"id": "chatcmpl-mock", "object": "chat.completion", "created": time.Now().Unix(), "model": req.Model,
			"choices": []any{map[string]any{"index": 0, "message": map[string]string{"role": "assistant", "content": strings.Join(tokens, "")}, "finish_reason": "stop"}},
			"usage":   usage(req, tokens),
		})
		return
	}
	streamOpenAI(w, r, req, tokens, f)
}

func streamOpenAI(w http.ResponseWriter, r *http.Request, req openAIRequest, tokens []string, f fakeChat) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	rc := http.NewResponseController(w)
	send := func(v any) {
		b, _ := json.Marshal(v)
		fmt.Fprintf(w, "data: %s\n\n", b)
		rc.Flush()
	}
	chunk := func(delta map[string]string, finish any) map[string]any {
		return map[string]any{"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": time.Now().Unix(), "model": req.Model,
			"choices": []any{map[string]any{"index": 0, "delta": delta, "finish_reason": finish}}}
	}
	send(chunk(map[string]string{"role": "assistant", "content": ""}, nil))
	if !f.emit(w, r, tokens, "data: {\"choices\": [oops\n\n", func(tok string) { send(chunk(map[string]string{"content": tok}, nil)) }) {
		return
	}
	send(chunk(map[string]string{}, "stop"))
	send(map[string]any{"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": time.Now().Unix(), "model": req.Model,
		"choices": []any{}, "usage": usage(req, tokens)})
	fmt.Fprint(w, "data: [DONE]\n\n")
	rc.Flush()
}

// replyTokens is the mock's answer, a word at a time.
func replyTokens(prompt string) []string {
	words := strings.Fields("Hello from AI City! Popy heard: " + prompt)
	for i := 1; i < len(words); i++ {
		words[i] = " " + words[i]
	}
	return words
}

func usage(req openAIRequest, tokens []string) map[string]int {
	prompt := 0
	for _, m := range req.Messages {
		prompt += len(strings.Fields(m.Content))
	}
	return map[string]int{"prompt_tokens": prompt, "completion_tokens": len(tokens), "total_tokens": prompt + len(tokens)}
}

func wait(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

func openAIError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"message": msg, "type": typ, "code": nil}})
}
