package mock

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/citypopy/highway/internal/sse"
)

// llm serves the fake providers on a real loopback socket.
func llm(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(LLM())
	t.Cleanup(srv.Close)
	return srv.URL
}

// post sends body to the fake provider at path, as that provider's own
// clients do.
func post(t *testing.T, base, path, body string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("POST", base+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("anthropic-version", "2023-06-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// chunks are a stream's data payloads, decoded; [DONE] is nil.
func chunks(t *testing.T, resp *http.Response) (types []string, data []map[string]any) {
	t.Helper()
	events, err := sse.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		var m map[string]any
		if string(e.Data) != "[DONE]" {
			if err := json.Unmarshal(e.Data, &m); err != nil {
				t.Fatalf("chunk %q: %v", e.Data, err)
			}
		}
		types, data = append(types, e.Type), append(data, m)
	}
	return types, data
}

const weatherTools = `[{"type":"function","function":{"name":"weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}},
 {"type":"function","function":{"name":"time","parameters":{"type":"object","properties":{"zone":{"type":"string"},"n":{"type":"integer"}}}}}]`

func TestFakeOpenAIStreamsSeveralToolCallsTheirArgumentsAsDeltas(t *testing.T) {
	base := llm(t)
	resp := post(t, base, OpenAIPath+"?token_delay=1ms", `{"model":"m","stream":true,"stream_options":{"include_usage":true},
		"messages":[{"role":"user","content":"Weather and time?"}],"tools":`+weatherTools+`}`)
	_, data := chunks(t, resp)
	args := map[float64]string{}
	names := map[float64]string{}
	deltas := 0
	var finish any
	for _, c := range data {
		choices, _ := c["choices"].([]any)
		for _, ch := range choices {
			ch := ch.(map[string]any)
			if f := ch["finish_reason"]; f != nil {
				finish = f
			}
			calls, _ := ch["delta"].(map[string]any)["tool_calls"].([]any)
			for _, tc := range calls {
				tc := tc.(map[string]any)
				i := tc["index"].(float64)
				fn := tc["function"].(map[string]any)
				if n, ok := fn["name"].(string); ok {
					names[i] = n
				}
				args[i] += fn["arguments"].(string)
				deltas++
			}
		}
	}
	if names[0] != "weather" || names[1] != "time" || args[0] != `{"city":"Citypopy"}` || args[1] != `{"zone":"Citypopy"}` || finish != "tool_calls" {
		t.Errorf("calls %v %v, finish %v", names, args, finish)
	}
	if deltas < 6 {
		t.Errorf("the arguments came in %d deltas; want them streamed in pieces", deltas)
	}
	if u := data[len(data)-2]["usage"].(map[string]any); u["completion_tokens"].(float64) != float64(deltas) {
		t.Errorf("usage %v", u)
	}
}

func TestFakeAnthropicAnswersToolsTextImagesAndPrefills(t *testing.T) {
	base := llm(t)
	anthropicTools := `[{"name":"weather","input_schema":{"type":"object","properties":{"city":{"type":"string"}}}}]`
	resp := post(t, base, AnthropicPath+"?token_delay=1ms", `{"model":"c","max_tokens":100,"stream":true,
		"messages":[{"role":"user","content":"Weather?"}],"tools":`+anthropicTools+`}`)
	types, data := chunks(t, resp)
	var input string
	var stop any
	for i, d := range data {
		if types[i] == "content_block_start" && d["content_block"].(map[string]any)["name"] != "weather" {
			t.Errorf("block %v", d)
		}
		if types[i] == "content_block_delta" {
			input += d["delta"].(map[string]any)["partial_json"].(string)
		}
		if types[i] == "message_delta" {
			stop = d["delta"].(map[string]any)["stop_reason"]
		}
	}
	if input != `{"city":"Citypopy"}` || stop != "tool_use" || types[len(types)-1] != "message_stop" {
		t.Errorf("input %q, stop %v, events %v", input, stop, types)
	}

	// The tool's result answered, with an image, then continued after a prefill.
	body := `{"model":"c","max_tokens":100,"messages":[{"role":"user","content":"Weather?"},
		{"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"weather","input":{"city":"Citypopy"}}]},
		{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"sunny"}]}]}`
	var whole struct {
		Content []struct{ Text string }
		Stop    string `json:"stop_reason"`
	}
	json.NewDecoder(post(t, base, AnthropicPath+"?token_delay=0s", body).Body).Decode(&whole)
	if len(whole.Content) != 1 || whole.Content[0].Text != "Hello from AI City! Popy heard: sunny" || whole.Stop != "end_turn" {
		t.Errorf("after the tool: %+v", whole)
	}
	body = `{"model":"c","max_tokens":100,"messages":[{"role":"user","content":[{"type":"text","text":"Look"},{"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}}]},
		{"role":"assistant","content":"Hello from AI City!"}]}`
	json.NewDecoder(post(t, base, AnthropicPath+"?token_delay=0s", body).Body).Decode(&whole)
	if whole.Content[0].Text != " Popy heard: Look and saw 1 image(s)" {
		t.Errorf("after a prefill: %+v", whole)
	}
	body = `{"model":"c","max_tokens":100,"messages":[{"role":"user","content":"Hi"},{"role":"assistant","content":"Hello "}]}`
	if resp := post(t, base, AnthropicPath, body); resp.StatusCode != 400 {
		t.Errorf("a prefill ending in whitespace: %d, as Anthropic refuses it", resp.StatusCode)
	}
}

func TestFakeProvidersEndAsAskedByStopAndMaxTokens(t *testing.T) {
	base := llm(t)
	var oa struct {
		Choices []struct {
			Message      struct{ Content string }
			FinishReason string `json:"finish_reason"`
		}
	}
	json.NewDecoder(post(t, base, OpenAIPath+"?token_delay=0s", `{"model":"m","max_tokens":3,"messages":[{"role":"user","content":"a b c"}]}`).Body).Decode(&oa)
	if oa.Choices[0].Message.Content != "Hello from AI" || oa.Choices[0].FinishReason != "length" {
		t.Errorf("max_tokens: %+v", oa)
	}
	var an struct {
		Content  []struct{ Text string }
		Stop     string `json:"stop_reason"`
		Sequence string `json:"stop_sequence"`
	}
	json.NewDecoder(post(t, base, AnthropicPath+"?token_delay=0s", `{"model":"c","max_tokens":9,"stop_sequences":["Popy"],"messages":[{"role":"user","content":"a"}]}`).Body).Decode(&an)
	if an.Content[0].Text != "Hello from AI City! " || an.Stop != "stop_sequence" || an.Sequence != "Popy" {
		t.Errorf("stop_sequences: %+v", an)
	}
}

func TestFakeProvidersFailMidStreamAsAsked(t *testing.T) {
	base := llm(t)
	oa := `{"model":"m","stream":true,"messages":[{"role":"user","content":"a b c d e"}]}`
	an := `{"model":"c","max_tokens":50,"stream":true,"messages":[{"role":"user","content":"a b c d e"}]}`

	_, data := chunks(t, post(t, base, OpenAIPath+"?token_delay=1ms&fault=error&after=3", oa))
	last := data[len(data)-1]
	if len(data) != 5 || last["error"] == nil {
		t.Errorf("an in-band error after 3 tokens: %d chunks, last %v", len(data), last)
	}
	types, data := chunks(t, post(t, base, AnthropicPath+"?token_delay=1ms&fault=error", an))
	if types[len(types)-1] != "error" || data[len(data)-1]["error"].(map[string]any)["type"] != "overloaded_error" {
		t.Errorf("anthropic in-band error: %v", types)
	}

	resp := post(t, base, OpenAIPath+"?token_delay=1ms&fault=cut&after=4", oa)
	events, err := sse.ReadAll(resp.Body)
	if err == nil || len(events) != 5 {
		t.Errorf("a cut after 4 tokens: %d events, %v", len(events), err)
	}
}

func TestFakeProvidersKeepAliveThroughAStallAndCanWithholdHeaders(t *testing.T) {
	base := llm(t)
	for _, c := range []struct{ path, body, keepAlive string }{
		{OpenAIPath, `{"model":"m","stream":true,"messages":[{"role":"user","content":"a"}]}`, ": keep-alive"},
		{AnthropicPath, `{"model":"c","max_tokens":50,"stream":true,"messages":[{"role":"user","content":"a"}]}`, "event: ping"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second) // bounds the read, should the stall not come
		req, _ := http.NewRequestWithContext(ctx, "POST", base+c.path+"?token_delay=1ms&fault=ping_stall&after=1", strings.NewReader(c.body))
		req.Header.Set("anthropic-version", "2023-06-01")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(resp.Body)
		// Keep-alives counted once the first token is out (Anthropic pings
		// before it, too); content after them is what a stall must not send.
		pings, content := 0, 0
		for pings < 5 && sc.Scan() {
			line := sc.Text()
			isContent := strings.Contains(line, `"content":"Hello"`) || strings.Contains(line, "text_delta")
			switch {
			case line == c.keepAlive && content > 0:
				pings++
			case isContent && pings > 0:
				content += 100
			case isContent:
				content++
			}
		}
		cancel()
		resp.Body.Close()
		if pings < 5 || content != 1 {
			t.Errorf("%s: %d keep-alives, %d content after them", c.path, pings, content)
		}
	}

	client := &http.Client{Timeout: 200 * time.Millisecond}
	resp, err := client.Post(base+OpenAIPath+"?fault=no_headers", "application/json", strings.NewReader(`{"model":"m","messages":[{"role":"user","content":"a"}]}`))
	if err == nil {
		resp.Body.Close()
		t.Errorf("headers came: %d", resp.StatusCode)
	}
}

func TestFakeOpenAIEmbeds(t *testing.T) {
	base := llm(t)
	var out struct {
		Data []struct {
			Index     int
			Embedding []float64
		}
		Usage struct {
			PromptTokens int `json:"prompt_tokens"`
		}
	}
	resp := post(t, base, OpenAIEmbeddingsPath, `{"model":"e","input":["a city","a city","popy"]}`)
	json.NewDecoder(resp.Body).Decode(&out)
	if len(out.Data) != 3 || len(out.Data[0].Embedding) != 8 || out.Data[0].Embedding[0] != out.Data[1].Embedding[0] ||
		out.Data[0].Embedding[0] == out.Data[2].Embedding[0] || out.Usage.PromptTokens != 5 {
		t.Errorf("%+v", out)
	}
	if resp := post(t, base, OpenAIEmbeddingsPath, `{"model":"e","input":7}`); resp.StatusCode != 400 {
		t.Errorf("a number as input: %d", resp.StatusCode)
	}
}

func FuzzConversation(f *testing.F) {
	for _, s := range []string{`{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"a"}]}]}`,
		`{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"tool_result","content":[{"type":"text","text":"x"}]}]}]}`, `{`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, parse := range []func([]byte) (*conversation, error){openAIConversation, anthropicConversation} {
			if c, err := parse(body); err == nil {
				c.answer().pieces()
			}
		}
		if f, err := parseFakeChat(string(body)); err == nil && (f.after < 0 || f.tokenDelay < 0) {
			t.Fatalf("%q accepted: %+v", body, f)
		}
	})
}
