package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

func withResponse(r **http.Response) option.RequestOption { return option.WithResponseInto(r) }

// curlStream posts body to url with curl -N, as a user would, and is
// what it printed.
func curlStream(t *testing.T, url, body string) string {
	t.Helper()
	out, err := exec.Command("curl", "-sN", "--max-time", "20", url, "-H", "Content-Type: application/json", "-d", body).Output()
	if err != nil {
		t.Fatalf("curl: %v\n%s", err, out)
	}
	return string(out)
}

// faultCity is a front door whose first provider of each model fails as
// the model's name says, the second answering.
func faultCity(t *testing.T) *httptest.Server {
	t.Helper()
	up := mockUpstream(t)
	s := newServer(t, fmt.Sprintf(`
sources:
  silent:   {kind: openai, base_url: "%[1]s/openai/v1?fault=no_headers", model: m, stream: true, header_timeout: 200ms}
  pinging:  {kind: anthropic, base_url: "%[1]s/anthropic?token_delay=5ms&fault=ping_stall&after=0", model: c, stream: true, first_token_timeout: 300ms}
  stalling: {kind: openai, base_url: "%[1]s/openai/v1?token_delay=5ms&fault=ping_stall&after=3", model: m, stream: true, stall_timeout: 200ms}
  erring:   {kind: anthropic, base_url: "%[1]s/anthropic?token_delay=1ms&fault=error&after=3", model: c, stream: true}
  limited:  {kind: openai, base_url: "%[1]s/openai/v1?failure_status=429&retry_after=7s", model: m}
  limited2: {kind: anthropic, base_url: "%[1]s/anthropic?failure_status=429&retry_after=3s", model: c}
  good:     {kind: anthropic, base_url: "%[1]s/anthropic?token_delay=1ms", model: c}
models:
  no-headers: {use: [silent, good]}
  pings-no-tokens: {use: [pinging, good]}
  stalls: {use: [stalling]}
  in-band: {use: [erring]}
  rate-limited: {use: [limited, limited2]}
`, up))
	front := httptest.NewServer(s)
	t.Cleanup(front.Close)
	return front
}

func TestTheDoorsTimeoutsMoveOnToTheNextProvider(t *testing.T) {
	front := faultCity(t)
	client := openAIClient(front.URL)
	for _, model := range []string{"no-headers", "pings-no-tokens"} {
		var resp *http.Response
		stream := client.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{Model: model,
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hi there")}}, withResponse(&resp))
		defer stream.Close() // an SDK stream that ends in an error is the caller's to close
		var acc openai.ChatCompletionAccumulator
		for stream.Next() {
			acc.AddChunk(stream.Current())
		}
		if err := stream.Err(); err != nil {
			t.Fatalf("%s: %v", model, err)
		}
		if acc.Choices[0].Message.Content != heard || resp.Header.Get("X-Highway-Provider") != "good" || resp.Header.Get("X-Highway-Attempts") != "2" {
			t.Errorf("%s: %q from %s after %s attempts", model, acc.Choices[0].Message.Content, resp.Header.Get("X-Highway-Provider"), resp.Header.Get("X-Highway-Attempts"))
		}
	}
}

func TestACommittedStreamThatStallsOrErrsEndsWithAnErrorEvent(t *testing.T) {
	front := faultCity(t)
	// A stall past the idle timeout, keep-alives and all: an OpenAI error
	// data event, and no [DONE].
	body := curlStream(t, front.URL+"/v1/chat/completions", `{"model":"stalls","stream":true,"messages":[{"role":"user","content":"Hi there"}]}`)
	if !strings.Contains(body, `data: {"error":`) || strings.Contains(body, "[DONE]") || strings.Contains(body, `"finish_reason":"stop"`) {
		t.Errorf("a stalled stream:\n%s", body)
	}
	// An in-band error, through the Anthropic door and the SDK.
	an := anthropicClient(front.URL)
	stream := an.Messages.NewStreaming(context.Background(), anthropic.MessageNewParams{Model: "in-band", MaxTokens: 100,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Hi there"))}})
	defer stream.Close() // an SDK stream that ends in an error is the caller's to close
	for stream.Next() {
		if stream.Current().Type == "message_stop" {
			t.Error("an errored stream stopped as a success")
		}
	}
	if err := stream.Err(); err == nil || !strings.Contains(err.Error(), "overloaded") {
		t.Errorf("an in-band error: %v", err)
	}
}

func TestEveryProviderRateLimitedIsA429WithRetryAfter(t *testing.T) {
	front := faultCity(t)
	resp, err := http.Post(front.URL+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"rate-limited","messages":[{"role":"user","content":"Hi"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "3" || !strings.Contains(string(b), "limited2") {
		t.Errorf("%d Retry-After %q: %s", resp.StatusCode, resp.Header.Get("Retry-After"), b)
	}
}

func TestTheDoorSpendsAKeysBudgetFromTheProvidersStreamedUsage(t *testing.T) {
	up := mockUpstream(t)
	s := newServerEnv(t, fmt.Sprintf(`
clients:
  keys: [{name: app, key: "${APP_KEY}", tokens_per_minute: 10}]
sources:
  oa: {kind: openai, base_url: "%[1]s/openai/v1?token_delay=1ms", model: popy-1, price: {input_per_mtok: 1, output_per_mtok: 2}}
models:
  gpt: {use: [oa]}
`, up), map[string]string{"APP_KEY": "hw-app-key-0123456789"}, Options{Admin: true})
	front := httptest.NewServer(s)
	defer front.Close()
	client := openAIClient(front.URL)
	params := openai.ChatCompletionNewParams{Model: "gpt", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("one two three four")}}
	stream := client.Chat.Completions.NewStreaming(context.Background(), params)
	defer stream.Close() // an SDK stream that ends in an error is the caller's to close
	for stream.Next() {
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	// 4 prompt and 10 answer tokens: over the 10 a minute, so the next is refused.
	_, err := client.Chat.Completions.New(context.Background(), params)
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 429 || apiErr.Response.Header.Get("Retry-After") == "" {
		t.Fatalf("after the budget was spent: %v", err)
	}
	rec := httptest.NewRecorder() // the operator's listener: the key's own budget is spent
	s.ServeAdmin(rec, httptest.NewRequest("GET", "/metrics", nil))
	b := rec.Body.Bytes()
	for _, want := range []string{`highway_door_requests_total{client="app",code="200",model="gpt",provider="oa"} 1`,
		`highway_door_tokens_total{client="app",direction="output",model="gpt",provider="oa"} 10`,
		`highway_door_cost_usd_total{client="app",model="gpt",provider="oa"}`, `highway_door_first_token_seconds_count{model="gpt",provider="oa"} 1`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %s:\n%s", want, grepLines(string(b), "highway_door"))
		}
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestAModelHedgesCachesAndReplaysAStreamedHitAsAStream(t *testing.T) {
	up := mockUpstream(t)
	s := newServer(t, fmt.Sprintf(`
sources:
  slow: {kind: openai, base_url: "%[1]s/openai/v1?first_token=5s", model: m, stream: true}
  fast: {kind: anthropic, base_url: "%[1]s/anthropic?token_delay=1ms", model: c, stream: true}
models:
  hedged: {use: [slow, fast], failover_hedge: 100ms}
  cached: {use: [fast], cache: {ttl: 1m}}
`, up))
	front := httptest.NewServer(s)
	defer front.Close()
	client := openAIClient(front.URL)
	var resp *http.Response
	got, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "hedged",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hi there")}}, withResponse(&resp))
	if err != nil {
		t.Fatal(err)
	}
	if got.Choices[0].Message.Content != heard || resp.Header.Get("X-Highway-Provider") != "fast" {
		t.Errorf("hedged: %q from %s", got.Choices[0].Message.Content, resp.Header.Get("X-Highway-Provider"))
	}

	body := `{"model":"cached","stream":true,"messages":[{"role":"user","content":"Hi there"}]}`
	// A translated stream is stamped when it is sent: only that differs.
	created := regexp.MustCompile(`"created":\d+`)
	first := created.ReplaceAllString(curlStream(t, front.URL+"/v1/chat/completions", body), "")
	calls := anthropicCalls(t, up)
	again := created.ReplaceAllString(curlStream(t, front.URL+"/v1/chat/completions", body), "")
	if n := anthropicCalls(t, up); n != calls {
		t.Errorf("the hit called the provider: %d calls, then %d", calls, n)
	}
	if first != again || strings.Count(again, "data: ") < 10 || !strings.HasSuffix(again, "data: [DONE]\n\n") {
		t.Errorf("a streamed hit is not the stream replayed:\n%s\n---\n%s", first, again)
	}
}

// anthropicCalls is how many calls highway mock at up has had at its
// fake Anthropic endpoint.
func anthropicCalls(t *testing.T, up string) int64 {
	t.Helper()
	resp, err := http.Get(up + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var index struct {
		LLMCalls map[string]int64 `json:"llm_calls"`
	}
	json.NewDecoder(resp.Body).Decode(&index)
	return index.LLMCalls["anthropic"]
}
