package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	anthropicoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/citypopy/highway/internal/door"
)

// doorCity is a front door on highway mock's fake providers, one model
// per provider, and models that fail over, resume and fail.
func doorCity(t *testing.T) *httptest.Server {
	t.Helper()
	up := mockUpstream(t)
	s := newServerEnv(t, fmt.Sprintf(`
clients:
  keys: [{name: app, key: "${APP_KEY}"}]
sources:
  oa:    {kind: openai, base_url: "%[1]s/openai/v1?token_delay=1ms", model: popy-1, api_key: sk-provider-secret, price: {input_per_mtok: 1, output_per_mtok: 2}}
  an:    {kind: anthropic, base_url: "%[1]s/anthropic?token_delay=1ms", model: claude-mock, api_key: sk-provider-secret}
  down:  {kind: openai, base_url: "%[1]s/openai/v1?failure_status=503", model: popy-1, api_key: sk-provider-secret}
  cut:   {kind: openai, base_url: "%[1]s/openai/v1?token_delay=1ms&fault=cut&after=4", model: popy-1, api_key: sk-provider-secret}
  wrong: {kind: openai, base_url: "%[1]s/openai/v1?failure_status=401", model: popy-1, api_key: sk-provider-secret}
models:
  gpt:       {use: [oa]}
  claude:    {use: [an]}
  steady:    {use: [down, an]}
  resumed:   {use: [cut, an], resume: true}
  skipping:  {use: [cut, oa, an], resume: true} # oa takes no prefill: passed over
  cut-short: {use: [cut]}
  locked:    {use: [wrong]}
`, up), map[string]string{"APP_KEY": "hw-app-key-0123456789"}, Options{})
	front := httptest.NewServer(s)
	t.Cleanup(front.Close)
	return front
}

func openAIClient(front string) openai.Client {
	return openai.NewClient(option.WithBaseURL(front+"/v1/"), option.WithAPIKey("hw-app-key-0123456789"), option.WithMaxRetries(0))
}

func anthropicClient(front string) anthropic.Client {
	return anthropic.NewClient(anthropicoption.WithBaseURL(front+"/"), anthropicoption.WithAPIKey("hw-app-key-0123456789"), anthropicoption.WithMaxRetries(0))
}

const heard = "Hello from AI City! Popy heard: Hi there"

func TestOpenAISDKChatsThroughTheDoorOnEitherProvider(t *testing.T) {
	front := doorCity(t)
	client := openAIClient(front.URL)
	ctx := context.Background()
	for _, model := range []string{"gpt", "claude", "steady"} {
		params := openai.ChatCompletionNewParams{Model: model, Messages: []openai.ChatCompletionMessageParamUnion{
			openai.SystemMessage("Be brief."), openai.UserMessage("Hi there")}}
		resp, err := client.Chat.Completions.New(ctx, params)
		if err != nil {
			t.Fatalf("%s: %v", model, err)
		}
		if resp.Choices[0].Message.Content != heard || resp.Choices[0].FinishReason != "stop" || resp.Usage.CompletionTokens == 0 ||
			!strings.HasPrefix(resp.ID, "chatcmpl-") {
			t.Errorf("%s: %+v", model, resp.Choices[0])
		}
		params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
		stream := client.Chat.Completions.NewStreaming(ctx, params)
		defer stream.Close() // an SDK stream that ends in an error is the caller's to close
		var acc openai.ChatCompletionAccumulator
		chunks := 0
		for stream.Next() {
			if !acc.AddChunk(stream.Current()) {
				t.Errorf("%s: the accumulator refused chunk %d: %s", model, chunks, stream.Current().RawJSON())
			}
			chunks++
		}
		if err := stream.Err(); err != nil {
			t.Fatalf("%s stream: %v", model, err)
		}
		if acc.Choices[0].Message.Content != heard || acc.Choices[0].FinishReason != "stop" || acc.Usage.CompletionTokens == 0 || chunks < 8 {
			t.Errorf("%s stream: %d chunks, %+v usage %+v", model, chunks, acc.Choices[0], acc.Usage)
		}
	}

	page, err := client.Models.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range page.Data {
		ids = append(ids, m.ID)
	}
	if strings.Join(ids, " ") != "claude cut-short gpt locked resumed skipping steady" {
		t.Errorf("models: %v", ids)
	}
}

func TestOpenAISDKGetsToolCallsStreamedFromEitherProvider(t *testing.T) {
	front := doorCity(t)
	client := openAIClient(front.URL)
	city := openai.FunctionParameters{"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}}
	for _, model := range []string{"gpt", "claude"} {
		params := openai.ChatCompletionNewParams{Model: model, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Weather and news?")},
			Tools: []openai.ChatCompletionToolUnionParam{
				openai.ChatCompletionFunctionTool(openai.FunctionDefinitionParam{Name: "weather", Parameters: city}),
				openai.ChatCompletionFunctionTool(openai.FunctionDefinitionParam{Name: "news", Parameters: city}),
			}}
		stream := client.Chat.Completions.NewStreaming(context.Background(), params)
		defer stream.Close() // an SDK stream that ends in an error is the caller's to close
		var acc openai.ChatCompletionAccumulator
		for stream.Next() {
			acc.AddChunk(stream.Current())
		}
		if err := stream.Err(); err != nil {
			t.Fatalf("%s: %v", model, err)
		}
		calls := acc.Choices[0].Message.ToolCalls
		if len(calls) != 2 || calls[0].Function.Name != "weather" || calls[1].Function.Name != "news" ||
			calls[0].Function.Arguments != `{"city":"Citypopy"}` || calls[0].ID == "" || acc.Choices[0].FinishReason != "tool_calls" {
			t.Errorf("%s: %+v finish %q", model, calls, acc.Choices[0].FinishReason)
		}

		// The tool's result goes back, and the model answers from it.
		params.Messages = append(params.Messages, acc.Choices[0].Message.ToParam(),
			openai.ToolMessage("sunny", calls[0].ID), openai.ToolMessage("quiet", calls[1].ID))
		resp, err := client.Chat.Completions.New(context.Background(), params)
		if err != nil {
			t.Fatalf("%s after the tools: %v", model, err)
		}
		if got := resp.Choices[0].Message.Content; got != "Hello from AI City! Popy heard: sunny, quiet" {
			t.Errorf("%s after the tools: %q", model, got)
		}
	}
}

func TestAnthropicSDKMessagesThroughTheDoorOnEitherProvider(t *testing.T) {
	front := doorCity(t)
	client := anthropicClient(front.URL)
	ctx := context.Background()
	for _, model := range []string{"claude", "gpt"} {
		params := anthropic.MessageNewParams{Model: model, MaxTokens: 200,
			System:   []anthropic.TextBlockParam{{Text: "Be brief."}},
			Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Hi there"))}}
		msg, err := client.Messages.New(ctx, params)
		if err != nil {
			t.Fatalf("%s: %v", model, err)
		}
		if len(msg.Content) != 1 || msg.Content[0].Text != heard || msg.StopReason != "end_turn" || msg.Usage.OutputTokens == 0 ||
			msg.Usage.InputTokens == 0 || !strings.HasPrefix(msg.ID, "msg_") {
			t.Errorf("%s: %+v", model, msg)
		}
		stream := client.Messages.NewStreaming(ctx, params)
		defer stream.Close() // an SDK stream that ends in an error is the caller's to close
		var acc anthropic.Message
		for stream.Next() {
			if err := acc.Accumulate(stream.Current()); err != nil {
				t.Fatalf("%s: accumulate: %v", model, err)
			}
		}
		if err := stream.Err(); err != nil {
			t.Fatalf("%s stream: %v", model, err)
		}
		// The usage the SDK adds up is the whole answer's, input tokens too,
		// from either provider; the id is a message's.
		if len(acc.Content) != 1 || acc.Content[0].Text != heard || acc.StopReason != "end_turn" || acc.Usage.OutputTokens == 0 ||
			acc.Usage.InputTokens != msg.Usage.InputTokens || !strings.HasPrefix(acc.ID, "msg_") {
			t.Errorf("%s stream: %+v (the whole answer's usage: %+v)", model, acc, msg.Usage)
		}

		params.Tools = []anthropic.ToolUnionParam{anthropic.ToolUnionParamOfTool(anthropic.ToolInputSchemaParam{
			Properties: map[string]any{"city": map[string]any{"type": "string"}}}, "weather")}
		stream = client.Messages.NewStreaming(ctx, params)
		defer stream.Close() // an SDK stream that ends in an error is the caller's to close
		acc = anthropic.Message{}
		for stream.Next() {
			acc.Accumulate(stream.Current())
		}
		if err := stream.Err(); err != nil {
			t.Fatalf("%s tools: %v", model, err)
		}
		if len(acc.Content) != 1 || acc.Content[0].Name != "weather" || string(acc.Content[0].Input) != `{"city":"Citypopy"}` || acc.StopReason != "tool_use" {
			t.Errorf("%s tools: %+v", model, acc)
		}
	}
}

func TestTheDoorsErrorsAreTheSDKsOwn(t *testing.T) {
	front := doorCity(t)
	ctx := context.Background()
	oa := openAIClient(front.URL)
	user := []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hi")}
	cases := []struct {
		name   string
		client openai.Client
		model  string
		status int
		code   string
	}{
		{"unknown model", oa, "gpt-5", 404, "model_not_found"},
		{"no key", openai.NewClient(option.WithBaseURL(front.URL+"/v1/"), option.WithAPIKey("wrong"), option.WithMaxRetries(0)), "gpt", 401, "invalid_api_key"},
		{"provider refuses its key", oa, "locked", 502, ""},
	}
	for _, c := range cases {
		_, err := c.client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: c.model, Messages: user})
		var apiErr *openai.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != c.status || apiErr.Code != c.code {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if strings.Contains(apiErr.RawJSON(), "sk-provider-secret") || apiErr.Message == "" {
			t.Errorf("%s: %s", c.name, apiErr.RawJSON())
		}
	}
	an := anthropicClient(front.URL)
	_, err := an.Messages.New(ctx, anthropic.MessageNewParams{Model: "nope", MaxTokens: 10,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Hi"))}})
	var anErr *anthropic.Error
	if !errors.As(err, &anErr) || anErr.StatusCode != 404 || !strings.Contains(anErr.RawJSON(), "not_found_error") {
		t.Errorf("anthropic unknown model: %v", err)
	}

	// A committed stream cut mid-way ends as an error, never a success.
	stream := oa.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{Model: "cut-short", Messages: user})
	defer stream.Close() // an SDK stream that ends in an error is the caller's to close
	for stream.Next() {
		if stream.Current().Choices[0].FinishReason == "stop" {
			t.Error("a cut stream said stop")
		}
	}
	if stream.Err() == nil {
		t.Error("a cut stream ended without an error")
	}
}

func TestACutStreamResumesOnTheNextProvider(t *testing.T) {
	front := doorCity(t)
	for _, model := range []string{"resumed", "skipping"} {
		resumes(t, front.URL, model)
	}
}

// resumes checks that model's stream, cut by its first source, reads as
// one whole answer, switched once from cut to an, its usage counting both
// providers as the client's budget does.
func resumes(t *testing.T, front, model string) {
	client := openAIClient(front)
	stream := client.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{Model: model,
		Messages:      []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hi there")},
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}})
	defer stream.Close() // an SDK stream that ends in an error is the caller's to close
	var acc openai.ChatCompletionAccumulator
	switched := 0
	for stream.Next() {
		c := stream.Current()
		if !acc.AddChunk(c) {
			t.Errorf("refused: %s", c.RawJSON())
		}
		var ext struct {
			Highway struct{ Resumed struct{ From, To string } }
		}
		json.Unmarshal([]byte(c.RawJSON()), &ext)
		if ext.Highway.Resumed.To == "an" && ext.Highway.Resumed.From == "cut" {
			switched++
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if acc.Choices[0].Message.Content != heard || switched != 1 || acc.Choices[0].FinishReason != "stop" {
		t.Errorf("%s: %q, switched %d", model, acc.Choices[0].Message.Content, switched)
	}
	last := lastPassage(t, front, model)
	if acc.Usage.TotalTokens != int64(last.Tokens) || acc.Usage.CompletionTokens <= int64(len(strings.Fields(heard))/2) {
		t.Errorf("%s: the client was told %+v, its budget spent %d tokens", model, acc.Usage, last.Tokens)
	}
}

// lastPassage is the door's last finished request of model, waited for:
// the door records it once its handler has returned, which may be just
// after the client has read the whole answer.
func lastPassage(t *testing.T, front, model string) door.Passage {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for {
		recent := doorTraffic(t, front).Recent
		for i := len(recent) - 1; i >= 0; i-- {
			if recent[i].Model == model {
				return recent[i]
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no request of %s recorded: %v", model, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// doorTraffic is the door's traffic as the live page reads it.
func doorTraffic(t *testing.T, front string) door.Traffic {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, front+"/highway/door", nil)
	req.Header.Set("Authorization", "Bearer hw-app-key-0123456789")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tr door.Traffic
	if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestTheDoorRefusesBadRequestsInItsDialect(t *testing.T) {
	front := doorCity(t)
	post := func(path, body string) (int, map[string]any) {
		req, _ := http.NewRequest("POST", front.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer hw-app-key-0123456789")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	for _, c := range []struct{ path, body, param string }{
		{"/v1/chat/completions", `{"model":`, ""},
		{"/v1/chat/completions", `{"model":"gpt"}`, "messages"},
		{"/v1/chat/completions", `{"model":"claude","messages":[{"role":"user","content":"Hi"}],"logprobs":true}`, "logprobs"},
	} {
		code, m := post(c.path, c.body)
		e, _ := m["error"].(map[string]any)
		if code != 400 || e == nil || e["type"] != "invalid_request_error" || c.param != "" && e["param"] != c.param {
			t.Errorf("%s: %d %v", c.body, code, m)
		}
	}
	code, m := post("/v1/messages", `{"model":"claude","messages":[]}`)
	if code != 400 || m["type"] != "error" || m["error"].(map[string]any)["type"] != "invalid_request_error" {
		t.Errorf("messages: %d %v", code, m)
	}
	code, m = post("/v1/chat/completions", `{"model":"gpt","messages":[{"role":"user","content":"`+strings.Repeat("x", 5<<20)+`"}]}`)
	if code != 413 || m["error"] == nil {
		t.Errorf("a body over server.max_body: %d", code)
	}
}

// The door's traffic, as the live page reads it, is behind the client
// keys as the rest of what the page reads, and counts what was sent.
func TestTheDoorsTrafficIsReadWithAKey(t *testing.T) {
	front := doorCity(t)
	client := openAIClient(front.URL)
	if _, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "steady",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hi")}}); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(front.URL + "/highway/door")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("without a key: %s", resp.Status)
	}
	lastPassage(t, front.URL, "steady") // recorded once its handler has returned
	tr := doorTraffic(t, front.URL)
	for _, m := range tr.Models {
		if m.Name != "steady" {
			continue
		}
		if m.Requests != 1 || m.Failovers != 1 || m.InFlight != 0 || len(m.Lanes) != 2 || m.Lanes[0].Failures != 1 || m.Lanes[1].Calls != 1 {
			t.Errorf("steady: %+v", m)
		}
	}
	if len(tr.Recent) != 1 || tr.Recent[0].Provider != "an" || len(tr.Recent[0].Steps) != 1 || tr.Recent[0].Steps[0].Reason != "5xx" {
		t.Errorf("recent: %+v", tr.Recent)
	}
	if len(tr.Models) != 7 {
		t.Errorf("%d models, want the 7 configured", len(tr.Models))
	}
}

// A key limited to some models is refused the others as a provider
// refuses a model the key has no access to (404 model_not_found, naming
// the models it may use), and /v1/models lists only those.
func TestAKeyUsesOnlyItsModels(t *testing.T) {
	up := mockUpstream(t)
	front := httptest.NewServer(newServerEnv(t, fmt.Sprintf(`
clients:
  keys:
    - {name: app, key: "${APP_KEY}", models: [gpt]}
    - {name: ops, key: "${OPS_KEY}"}
sources:
  oa: {kind: openai, base_url: "%[1]s/openai/v1?token_delay=1ms", model: popy-1}
  an: {kind: anthropic, base_url: "%[1]s/anthropic?token_delay=1ms", model: claude-mock}
models:
  gpt:    {use: [oa]}
  claude: {use: [an]}
`, up), map[string]string{"APP_KEY": "hw-app-key-0123456789", "OPS_KEY": "hw-ops-key-0123456789"}, Options{}))
	defer front.Close()
	ctx := context.Background()
	user := []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hi")}
	app := openAIClient(front.URL)
	ops := openai.NewClient(option.WithBaseURL(front.URL+"/v1/"), option.WithAPIKey("hw-ops-key-0123456789"), option.WithMaxRetries(0))
	if _, err := app.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "gpt", Messages: user}); err != nil {
		t.Errorf("app on its model: %v", err)
	}
	_, err := app.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "claude", Messages: user})
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 404 || apiErr.Code != "model_not_found" || !strings.HasSuffix(apiErr.Message, "models: gpt") {
		t.Errorf("app on another model: %v", err)
	}
	if _, err := ops.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "claude", Messages: user}); err != nil {
		t.Errorf("a key with every model: %v", err)
	}
	for key, want := range map[*openai.Client][]string{&app: {"gpt"}, &ops: {"claude", "gpt"}} {
		page, err := key.Models.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, m := range page.Data {
			got = append(got, m.ID)
		}
		if !slices.Equal(got, want) {
			t.Errorf("models listed %v, want %v", got, want)
		}
	}
	an := anthropic.NewClient(anthropicoption.WithBaseURL(front.URL+"/"), anthropicoption.WithAPIKey("hw-app-key-0123456789"), anthropicoption.WithMaxRetries(0))
	_, err = an.Messages.New(ctx, anthropic.MessageNewParams{Model: "claude", MaxTokens: 10,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Hi"))}})
	var anErr *anthropic.Error
	if !errors.As(err, &anErr) || anErr.StatusCode != 404 || !strings.Contains(anErr.RawJSON(), "not_found_error") {
		t.Errorf("anthropic, another model: %v", err)
	}
}
