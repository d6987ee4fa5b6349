package source_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/citypopy/highway/policy"
	"github.com/citypopy/highway/source"
)

func fakeAnthropic(t *testing.T, serve func(w http.ResponseWriter, req map[string]any)) string {
	srv := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != "POST" || r.URL.Path != "/v1/messages" || r.Header.Get("x-api-key") != key || r.Header.Get("anthropic-version") != source.AnthropicVersion {
			http.Error(w, `{"type":"error","error":{"type":"invalid_request_error","message":"bad call"}}`, 400)
			return
		}
		var req map[string]any
		json.NewDecoder(r.Body).Decode(&req)
		serve(w, req)
	})
	return srv.URL
}

func event(w http.ResponseWriter, typ, data string) {
	fmt.Fprintf(w, "event: %s\ndata: %s\n\n", typ, data)
	w.(http.Flusher).Flush()
}

func TestAnthropicAnswersTheMessage(t *testing.T) {
	t.Parallel()
	base := fakeAnthropic(t, func(w http.ResponseWriter, req map[string]any) {
		if req["model"] != "claude-test" || req["max_tokens"] != 1024.0 || req["system"] != "Be brief." {
			http.Error(w, fmt.Sprint(req), 400)
			return
		}
		io.WriteString(w, `{"id":"msg_1","type":"message","role":"assistant","model":"claude-test","content":[{"type":"text","text":"Sunny."}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":12,"output_tokens":3}}`)
	})
	v, err := whole(t.Context(), &source.Anthropic{LLM: source.LLM{BaseURL: base, Model: "claude-test", APIKey: key, System: "Be brief.", User: "Weather?"}}, nil)
	if err != nil || string(v) != `{"reply":"Sunny.","model":"claude-test","finish_reason":"end_turn","usage":{"input_tokens":12,"output_tokens":3}}` {
		t.Errorf("%s %v", v, err)
	}
}

func TestAnthropicStreamsTextDeltas(t *testing.T) {
	t.Parallel()
	base := fakeAnthropic(t, func(w http.ResponseWriter, req map[string]any) {
		w.Header().Set("Content-Type", "text/event-stream")
		event(w, "message_start", `{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-test","content":[],"usage":{"input_tokens":5,"output_tokens":1}}}`)
		event(w, "content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`)
		event(w, "ping", `{"type":"ping"}`)
		for _, tok := range []string{"Hello", " from", " Claude"} {
			event(w, "content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"`+tok+`"}}`)
		}
		event(w, "content_block_stop", `{"type":"content_block_stop","index":0}`)
		event(w, "message_delta", `{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":3}}`)
		event(w, "message_stop", `{"type":"message_stop"}`)
	})
	got, v, err := streamed(t.Context(), &source.Anthropic{LLM: source.LLM{Name: "chat", BaseURL: base, Model: "claude-test", APIKey: key, User: "hi", Stream: true, FirstToken: time.Second}})
	if err != nil || string(v) != `{"reply":"Hello from Claude","model":"claude-test","finish_reason":"end_turn","usage":{"input_tokens":5,"output_tokens":3}}` {
		t.Fatalf("%s %v", v, err)
	}
	if strings.Join(got, "|") != "chat:Hello|chat: from|chat: Claude" {
		t.Errorf("deltas %q", got)
	}
}

func TestAnthropicErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		stream    bool
		serve     func(w http.ResponseWriter)
		want      string
		retryable bool
	}{
		{"bad key", false, func(w http.ResponseWriter) {
			http.Error(w, `{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}`, 401)
		}, "upstream answered 401 Unauthorized: authentication_error: invalid x-api-key", false},
		{"overloaded", false, func(w http.ResponseWriter) {
			http.Error(w, `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`, 529)
		}, "upstream answered 529", true},
		{"error event mid-stream", true, func(w http.ResponseWriter) {
			event(w, "error", `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`)
		}, "upstream stream: error event: overloaded_error: Overloaded", false},
		{"malformed event", true, func(w http.ResponseWriter) { event(w, "content_block_delta", `{oops`) }, "upstream stream: malformed event", false},
		{"cut short", true, func(w http.ResponseWriter) {
			event(w, "content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}`)
		}, "upstream stream: ended before message_stop", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			base := fakeAnthropic(t, func(w http.ResponseWriter, _ map[string]any) { c.serve(w) })
			_, err := whole(t.Context(), &source.Anthropic{LLM: source.LLM{BaseURL: base, Model: "m", APIKey: key, User: "hi", Stream: c.stream}}, nil)
			if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), key) || policy.IsRetryable(err) != c.retryable {
				t.Fatalf("err = %v (retryable %v), want %q", err, policy.IsRetryable(err), c.want)
			}
		})
	}
}
