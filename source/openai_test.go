package source_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/citypopy/highway/policy"
	"github.com/citypopy/highway/source"
)

const key = "sk-test-s3cret"

// fakeOpenAI answers /v1/chat/completions by script.
func fakeOpenAI(t *testing.T, serve func(w http.ResponseWriter, req map[string]any)) string {
	srv := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != "POST" || r.URL.Path != "/v1/chat/completions" || r.Header.Get("Authorization") != "Bearer "+key {
			http.Error(w, `{"error":{"message":"bad call","type":"test"}}`, 400)
			return
		}
		var req map[string]any
		json.NewDecoder(r.Body).Decode(&req)
		serve(w, req)
	})
	return srv.URL + "/v1"
}

func chunk(w http.ResponseWriter, s string) {
	fmt.Fprintf(w, "data: %s\n\n", s)
	w.(http.Flusher).Flush()
}

func TestOpenAIAnswersAssembledReplyAndUsage(t *testing.T) {
	t.Parallel()
	base := fakeOpenAI(t, func(w http.ResponseWriter, req map[string]any) {
		msgs := req["messages"].([]any)
		if req["model"] != "gpt-test" || len(msgs) != 2 || req["max_tokens"] != 64.0 || req["stream"] != nil {
			http.Error(w, fmt.Sprint(req), 400)
			return
		}
		io.WriteString(w, `{"id":"c1","object":"chat.completion","model":"gpt-test-0","choices":[{"index":0,"message":{"role":"assistant","content":"Sunny in Citypopy."},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":4,"total_tokens":13}}`)
	})
	o := &source.OpenAI{LLM: source.LLM{BaseURL: base, Model: "gpt-test", APIKey: key, System: "Be brief.", User: "Weather?", MaxTokens: 64}}
	v, err := whole(t.Context(), o, nil)
	if err != nil || string(v) != `{"reply":"Sunny in Citypopy.","model":"gpt-test-0","finish_reason":"stop","usage":{"prompt_tokens":9,"completion_tokens":4,"total_tokens":13}}` {
		t.Errorf("%s %v", v, err)
	}
}

func TestOpenAIStreamsTokensAsDeltas(t *testing.T) {
	t.Parallel()
	base := fakeOpenAI(t, func(w http.ResponseWriter, req map[string]any) {
		if req["stream"] != true || req["stream_options"].(map[string]any)["include_usage"] != true {
			http.Error(w, "want stream", 400)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		chunk(w, `{"object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}`)
		for _, tok := range []string{"Hello", " from", " AI City!"} {
			chunk(w, `{"object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{"content":"`+tok+`"},"finish_reason":null}]}`)
		}
		chunk(w, `{"object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`)
		chunk(w, `{"object":"chat.completion.chunk","model":"m","choices":[],"usage":{"total_tokens":7}}`)
		chunk(w, `[DONE]`)
	})
	o := &source.OpenAI{LLM: source.LLM{Name: "chat", BaseURL: base, Model: "m", APIKey: key, User: "hi", Stream: true, FirstToken: time.Second, Stall: time.Second}}
	got, v, err := streamed(t.Context(), o)
	if err != nil || string(v) != `{"reply":"Hello from AI City!","model":"m","finish_reason":"stop","usage":{"total_tokens":7}}` {
		t.Fatalf("%s %v", v, err)
	}
	if strings.Join(got, "|") != "chat:Hello|chat: from|chat: AI City!" {
		t.Errorf("deltas %q", got)
	}
}

func TestOpenAIErrorsAreClearAndNeverShowTheKey(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		stream    bool
		serve     func(w http.ResponseWriter)
		want      string
		retryable bool
		after     time.Duration
	}{
		{"unauthorized", false, func(w http.ResponseWriter) {
			http.Error(w, `{"error":{"message":"Incorrect API key provided: sk-t...cret","type":"invalid_request_error"}}`, 401)
		}, "upstream answered 401 Unauthorized: invalid_request_error: Incorrect API key provided", false, 0},
		{"rate limited", false, func(w http.ResponseWriter) {
			w.Header().Set("Retry-After", "2")
			http.Error(w, `{"error":{"message":"Rate limit reached","type":"requests"}}`, 429)
		}, "upstream answered 429 Too Many Requests: requests: Rate limit reached", true, 2 * time.Second},
		{"server error", false, func(w http.ResponseWriter) { http.Error(w, "oops", 502) }, "upstream answered 502 Bad Gateway: oops", true, 0},
		{"malformed json", false, func(w http.ResponseWriter) { io.WriteString(w, `{"choices": [`) }, "upstream answered non-JSON", false, 0},
		{"no choices", false, func(w http.ResponseWriter) { io.WriteString(w, `{"choices": []}`) }, "upstream answered no choices", false, 0},
		{"malformed sse line", true, func(w http.ResponseWriter) {
			chunk(w, `{"choices":[{"delta":{"content":"Hi"}}]}`)
			chunk(w, `{not json`)
		},
			`upstream stream: malformed chunk "{not json"`, false, 0},
		{"stream cut short", true, func(w http.ResponseWriter) { chunk(w, `{"choices":[{"delta":{"content":"Hi"}}]}`) },
			"upstream stream: ended before data: [DONE]", false, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			base := fakeOpenAI(t, func(w http.ResponseWriter, _ map[string]any) { c.serve(w) })
			_, err := whole(t.Context(), &source.OpenAI{LLM: source.LLM{BaseURL: base, Model: "m", APIKey: key, User: "hi", Stream: c.stream}}, nil)
			if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), key) {
				t.Fatalf("err = %v, want %q and no key", err, c.want)
			}
			if policy.IsRetryable(err) != c.retryable || policy.RetryAfter(err) != c.after {
				t.Errorf("retryable %v after %v", policy.IsRetryable(err), policy.RetryAfter(err))
			}
		})
	}
}

func TestOpenAIStreamTimeouts(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, want string
		tokens     int
		roleFirst  bool // an empty role chunk at once, as most servers send
	}{
		{"no first token", "no token within 50ms (first-token timeout)", 0, false},
		{"a role chunk is not a token", "no token within 50ms (first-token timeout)", 0, true},
		{"stalls mid-stream", "no token for 50ms mid-stream (stall timeout)", 2, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			base := fakeOpenAI(t, func(w http.ResponseWriter, _ map[string]any) {
				if c.roleFirst {
					chunk(w, `{"choices":[{"delta":{"role":"assistant","content":""}}]}`)
				}
				for range c.tokens {
					chunk(w, `{"choices":[{"delta":{"content":"x"}}]}`)
				}
				time.Sleep(2 * time.Second) // then nothing
			})
			// The upstream's 2s of silence ends in another error: only the
			// token timers' own say this.
			_, err := whole(t.Context(), &source.OpenAI{LLM: source.LLM{BaseURL: base, Model: "m", APIKey: key, User: "hi", Stream: true, FirstToken: 50 * time.Millisecond, Stall: 50 * time.Millisecond}}, nil)
			var se *source.StreamError
			if !errors.As(err, &se) || err.Error() != "upstream stream: "+c.want {
				t.Errorf("err = %v", err)
			}
		})
	}
}

// A stream whose server gives no usage (it ignored stream_options) is
// counted from what arrived, about four characters a token, and says so.
func TestAStreamWithoutUsageIsEstimated(t *testing.T) {
	t.Parallel()
	base := fakeOpenAI(t, func(w http.ResponseWriter, _ map[string]any) {
		chunk(w, `{"choices":[{"delta":{"content":"Hello from AI City!"}}]}`) // 19 characters
		chunk(w, `{"choices":[{"delta":{},"finish_reason":"stop"}]}`)
		fmt.Fprint(w, "data: [DONE]\n\n")
	})
	v, err := whole(t.Context(), &source.OpenAI{LLM: source.LLM{BaseURL: base, Model: "m", APIKey: key, User: "Say hello.", Stream: true}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Usage struct {
			In        int  `json:"input_tokens"`
			Out       int  `json:"output_tokens"`
			Estimated bool `json:"estimated"`
		} `json:"usage"`
	}
	json.Unmarshal(v, &got)
	if !got.Usage.Estimated || got.Usage.Out != 5 || got.Usage.In != 3 {
		t.Errorf("usage %+v in %s, want 3 in and 5 out, estimated", got.Usage, v)
	}
}

// A streamed call returns at its first content, not at an empty role
// chunk (the time to first token a hedged failover races on); a stream
// that ends early after the provider accepted the call ends its answer
// with what it is estimated to have spent.
func TestAStreamBeginsAtItsFirstTokenAndCountsWhatItSpent(t *testing.T) {
	t.Parallel()
	base := fakeOpenAI(t, func(w http.ResponseWriter, _ map[string]any) {
		chunk(w, `{"choices":[{"delta":{"role":"assistant","content":""}}]}`)
		time.Sleep(50 * time.Millisecond)
		chunk(w, `{"choices":[{"delta":{"content":"Hello from"}}]}`)
		chunk(w, `{"choices":[{"delta":{"content":" AI City"}}]}`) // 18 characters, then the stream ends
	})
	o := &source.OpenAI{LLM: source.LLM{Name: "chat", BaseURL: base, Model: "m", APIKey: key, User: "Say hello.", Stream: true}}
	a, err := o.Fetch(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	looking, stop := context.WithCancel(t.Context())
	stop() // only looks: what has arrived by the time Fetch returned
	if got := slices.Collect(a.Tokens(looking)); len(got) == 0 || got[0] != "Hello from" {
		t.Errorf("returned with %q: before the first token", got)
	}
	got := slices.Collect(a.Tokens(t.Context()))
	_, err = a.Value(t.Context())
	var spent *source.SpentError
	var se *source.StreamError
	if !errors.As(err, &spent) || !errors.As(err, &se) || spent.Usage.InputTokens != 3 || spent.Usage.OutputTokens != 5 || !spent.Usage.Estimated {
		t.Errorf("%v (%+v), want a stream error having spent 3 in and 5 out", err, spent)
	}
	if len(got) != 2 {
		t.Errorf("tokens %q", got)
	}
}

// A tool call is content: a streamed call begins at it (returns), though
// it streams no text.
func TestAToolCallBeginsAStream(t *testing.T) {
	t.Parallel()
	base := fakeOpenAI(t, func(w http.ResponseWriter, _ map[string]any) {
		chunk(w, `{"choices":[{"delta":{"role":"assistant","content":""}}]}`)
		chunk(w, `{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"name":"weather","arguments":"{}"}}]}}]}`)
		chunk(w, `{"choices":[{"delta":{},"finish_reason":"tool_calls"}]}`)
		chunk(w, `[DONE]`)
	})
	o := &source.OpenAI{LLM: source.LLM{Name: "chat", BaseURL: base, Model: "m", APIKey: key, User: "hi", Stream: true, FirstToken: time.Second}}
	got, v, err := streamed(t.Context(), o)
	if err != nil || len(got) != 0 || !strings.Contains(string(v), `"finish_reason":"tool_calls"`) {
		t.Errorf("pieces %q, %s %v: want the tool call to begin a stream of no text", got, v, err)
	}
}
