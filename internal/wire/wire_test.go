package wire

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func mustParse(t *testing.T, d Dialect, body string) *Request {
	t.Helper()
	r, err := Parse(d, []byte(body))
	if err != nil {
		t.Fatalf("Parse(%s): %v", body, err)
	}
	return r
}

func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return v
}

func TestTheSameDialectPassesThroughButForTheModel(t *testing.T) {
	body := `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"logit_bias":{"50256":-100},"x_vendor":{"a":1}}`
	out, err := mustParse(t, OpenAI, body).For(Target{Dialect: OpenAI, Model: "gpt-4o-2024-08-06"})
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(body, `"gpt-4o"`, `"gpt-4o-2024-08-06"`, 1)
	if string(out) != want {
		t.Errorf("got  %s\nwant %s", out, want)
	}
	// A stream asks for its usage, which metering needs, and says the client did not.
	r := mustParse(t, OpenAI, `{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	out, _ = r.For(Target{Dialect: OpenAI, Model: "p"})
	if !strings.Contains(string(out), `"stream_options":{"include_usage":true}`) || r.IncludeUsage {
		t.Errorf("%s (include usage %v)", out, r.IncludeUsage)
	}
}

func TestParseRefusesWhatProvidersRefuse(t *testing.T) {
	for _, tc := range []struct {
		d          Dialect
		body, want string
	}{
		{OpenAI, `not json`, "not a JSON object"},
		{OpenAI, `[1]`, "not a JSON object"},
		{OpenAI, `{"messages":[{"role":"user","content":"x"}]}`, "model: missing"},
		{OpenAI, `{"model":"m"}`, "messages: missing"},
		{OpenAI, `{"model":"m","messages":[]}`, "messages: empty"},
		{OpenAI, `{"model":"m","messages":{}}`, "messages: want an array"},
		{OpenAI, `{"model":7,"messages":[{}]}`, "model: want a string"},
		{OpenAI, `{"model":"m","model":"n","messages":[{}]}`, "model: given twice"},
		{OpenAI, `{"model":"m","messages":[{}],"stream":"yes"}`, "stream: want true or false"},
		{Anthropic, `{"model":"m","messages":[{"role":"user","content":"x"}]}`, "max_tokens: missing"},
		{Anthropic, `{"model":"m","max_tokens":0,"messages":[{"role":"user","content":"x"}]}`, "max_tokens: want a whole number"},
		{OpenAI, `{"model":"m","messages":[{}]} {}`, "not a JSON object"},
	} {
		_, err := Parse(tc.d, []byte(tc.body))
		var fe *FieldError
		if !errors.As(err, &fe) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want a *FieldError with %q", tc.body, err, tc.want)
		}
	}
}

func TestAnOpenAIRequestIsAskedOfAnthropic(t *testing.T) {
	r := mustParse(t, OpenAI, `{"model":"gpt-4o","messages":[
		{"role":"system","content":"Be brief."},
		{"role":"user","content":[{"type":"text","text":"What is this?"},{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBOR"}}]},
		{"role":"assistant","content":null,"tool_calls":[
			{"id":"call_1","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Paris\"}"}},
			{"id":"call_2","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Rome\"}"}}]},
		{"role":"tool","tool_call_id":"call_1","content":"22C"},
		{"role":"tool","tool_call_id":"call_2","content":"25C"}],
		"tools":[{"type":"function","function":{"name":"weather","description":"Weather now","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}],
		"tool_choice":"required","parallel_tool_calls":false,
		"max_completion_tokens":300,"temperature":0.5,"top_p":0.9,"stop":["END"],"stream":true,"stream_options":{"include_usage":true},"user":"u-1"}`)
	out, err := r.For(Target{Dialect: Anthropic, Model: "claude-sonnet-4-5"})
	if err != nil {
		t.Fatal(err)
	}
	got := decode(t, out)
	want := decode(t, []byte(`{"model":"claude-sonnet-4-5","system":"Be brief.","messages":[
		{"role":"user","content":[{"type":"text","text":"What is this?"},{"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBOR"}}]},
		{"role":"assistant","content":[{"type":"tool_use","id":"call_1","name":"weather","input":{"city":"Paris"}},{"type":"tool_use","id":"call_2","name":"weather","input":{"city":"Rome"}}]},
		{"role":"user","content":[{"type":"tool_result","tool_use_id":"call_1","content":"22C"},{"type":"tool_result","tool_use_id":"call_2","content":"25C"}]}],
		"tools":[{"name":"weather","description":"Weather now","input_schema":{"type":"object","properties":{"city":{"type":"string"}}}}],
		"tool_choice":{"type":"any","disable_parallel_tool_use":true},
		"max_tokens":300,"temperature":0.5,"top_p":0.9,"stop_sequences":["END"],"stream":true,"metadata":{"user_id":"u-1"}}`))
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %s", out)
	}
}

func TestAnAnthropicRequestIsAskedOfOpenAI(t *testing.T) {
	r := mustParse(t, Anthropic, `{"model":"claude","max_tokens":200,"system":[{"type":"text","text":"Be brief."}],"messages":[
		{"role":"user","content":[{"type":"text","text":"Look"},{"type":"image","source":{"type":"url","url":"https://example.com/a.png"}}]},
		{"role":"assistant","content":[{"type":"text","text":"Checking."},{"type":"tool_use","id":"toolu_1","name":"weather","input":{"city":"Paris"}}]},
		{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":[{"type":"text","text":"22C"}]},{"type":"text","text":"And?"}]}],
		"tools":[{"name":"weather","input_schema":{"type":"object"}}],"tool_choice":{"type":"tool","name":"weather"},
		"stop_sequences":["END"],"temperature":0.2,"stream":true,"metadata":{"user_id":"u-1"}}`)
	out, err := r.For(Target{Dialect: OpenAI, Model: "gpt-4o"})
	if err != nil {
		t.Fatal(err)
	}
	got := decode(t, out)
	want := decode(t, []byte(`{"model":"gpt-4o","max_tokens":200,"messages":[
		{"role":"system","content":"Be brief."},
		{"role":"user","content":[{"type":"text","text":"Look"},{"type":"image_url","image_url":{"url":"https://example.com/a.png"}}]},
		{"role":"assistant","content":"Checking.","tool_calls":[{"id":"toolu_1","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Paris\"}"}}]},
		{"role":"tool","tool_call_id":"toolu_1","content":"22C"},
		{"role":"user","content":"And?"}],
		"tools":[{"type":"function","function":{"name":"weather","parameters":{"type":"object"}}}],
		"tool_choice":{"type":"function","function":{"name":"weather"}},
		"stop":["END"],"temperature":0.2,"stream":true,"stream_options":{"include_usage":true},"user":"u-1"}`))
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %s", out)
	}
}

func TestWhatCannotBeTranslatedSaysWhichFieldAndWhy(t *testing.T) {
	for _, tc := range []struct {
		d          Dialect
		body, want string
	}{
		{OpenAI, `{"model":"m","messages":[{"role":"user","content":"x"}],"n":2}`, "n: an Anthropic provider answers one choice"},
		{OpenAI, `{"model":"m","messages":[{"role":"user","content":"x"}],"temperature":1.5}`, "temperature: an Anthropic provider takes a temperature from 0 to 1"},
		{OpenAI, `{"model":"m","messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_schema"}}`, "response_format:"},
		{OpenAI, `{"model":"m","messages":[{"role":"user","content":"x"}],"frequency_penalty":0.5}`, "frequency_penalty: an Anthropic provider has no frequency_penalty"},
		{OpenAI, `{"model":"m","messages":[{"role":"user","content":"x"}],"seed":7}`, "seed: cannot be asked of an Anthropic provider"},
		{OpenAI, `{"model":"m","messages":[{"role":"user","content":[{"type":"input_audio"}]}]}`, `messages[0].content[0].type: a "input_audio" part cannot be sent`},
		{OpenAI, `{"model":"m","messages":[{"role":"wizard","content":"x"}]}`, `messages[0].role: unknown role "wizard"`},
		{OpenAI, `{"model":"m","messages":[{"role":"assistant","tool_calls":[{"id":"c","function":{"name":"f","arguments":"nope"}}]}]}`, "messages[0].tool_calls[0].function.arguments: want a JSON object"},
		{OpenAI, `{"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"custom"}]}`, `tools[0].type: a "custom" tool`},
		{Anthropic, `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"x"}],"top_k":5}`, "top_k: cannot be asked of an OpenAI provider"},
		{Anthropic, `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"document"}]}]}`, `messages[0].content[0].type: a user's "document" block`},
		{Anthropic, `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"x"}],"tools":[{"type":"web_search_20250305","name":"web_search"}]}`, "tools[0].type: the server tool"},
		{Anthropic, `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"x"}],"thinking":{"type":"enabled"}}`, "thinking: cannot be asked"},
	} {
		other := Anthropic
		if tc.d == Anthropic {
			other = OpenAI
		}
		_, err := mustParse(t, tc.d, tc.body).For(Target{Dialect: other, Model: "p"})
		var fe *FieldError
		if !errors.As(err, &fe) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s:\n got %v\nwant %q", tc.body, err, tc.want)
		}
	}
}

func TestAPrefixIsTheAssistantsLastMessage(t *testing.T) {
	r := mustParse(t, OpenAI, `{"model":"m","messages":[{"role":"user","content":"count"}]}`)
	out, err := r.For(Target{Dialect: Anthropic, Model: "c", Prefix: "one two "})
	if err != nil {
		t.Fatal(err)
	}
	msgs := decode(t, out)["messages"].([]any)
	if last := msgs[len(msgs)-1].(map[string]any); last["role"] != "assistant" || last["content"] != "one two" {
		t.Errorf("last message %v: want the prefix, its trailing space trimmed", last)
	}
}

// events splits an SSE text into events, as a client reads it.
func events(text string) []Event {
	var out []Event
	var name string
	for _, line := range strings.Split(text, "\n") {
		switch {
		case strings.HasPrefix(line, "event: "):
			name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			out = append(out, Event{Name: name, Data: []byte(strings.TrimPrefix(line, "data: "))})
			name = ""
		}
	}
	return out
}

const openAIStream = `data: {"id":"c1","object":"chat.completion.chunk","model":"gpt-4o","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}
data: {"id":"c1","model":"gpt-4o","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}
data: {"id":"c1","model":"gpt-4o","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"weather","arguments":""}}]},"finish_reason":null}]}
data: {"id":"c1","model":"gpt-4o","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":"}}]},"finish_reason":null}]}
data: {"id":"c1","model":"gpt-4o","choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_2","type":"function","function":{"name":"search","arguments":"{}"}}]},"finish_reason":null}]}
data: {"id":"c1","model":"gpt-4o","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"Paris\"}"}}]},"finish_reason":null}]}
data: {"id":"c1","model":"gpt-4o","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}
data: {"id":"c1","model":"gpt-4o","choices":[],"usage":{"prompt_tokens":11,"completion_tokens":7,"total_tokens":18}}
data: [DONE]
`

const anthropicStream = `event: message_start
data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude","content":[],"usage":{"input_tokens":11,"output_tokens":1}}}
event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}
event: ping
data: {"type":"ping"}
event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}
event: content_block_stop
data: {"type":"content_block_stop","index":0}
event: content_block_start
data: {"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_1","name":"weather","input":{}}}
event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"city\":"}}
event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"\"Paris\"}"}}
event: content_block_stop
data: {"type":"content_block_stop","index":1}
event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":7}}
event: message_stop
data: {"type":"message_stop"}
`

func translate(t *testing.T, s *Stream, in []Event) []Event {
	t.Helper()
	var out []Event
	for _, e := range in {
		evs, err := s.Translate(e)
		if err != nil {
			t.Fatalf("%s: %v", e.Data, err)
		}
		out = append(out, evs...)
	}
	if !s.Done() {
		t.Error("the stream did not reach its end")
	}
	return out
}

func TestAnOpenAIStreamReadsAsAnAnthropicOne(t *testing.T) {
	s := NewStream(OpenAI, Anthropic, "", false)
	out := translate(t, s, events(openAIStream))
	var names []string
	var text, args0, args1 string
	for _, e := range out {
		names = append(names, e.Name)
		v := decode(t, e.Data)
		if v["type"] != e.Name {
			t.Errorf("event %s says type %v", e.Name, v["type"])
		}
		if d, ok := v["delta"].(map[string]any); ok && e.Name == "content_block_delta" {
			switch v["index"].(float64) {
			case 0:
				text += d["text"].(string)
			case 1:
				args0 += d["partial_json"].(string)
			case 2:
				args1 += d["partial_json"].(string)
			}
		}
		if e.Name == "message_delta" {
			if d := v["delta"].(map[string]any); d["stop_reason"] != "tool_use" {
				t.Errorf("stop reason %v", d["stop_reason"])
			}
			if u := v["usage"].(map[string]any); u["output_tokens"].(float64) != 7 {
				t.Errorf("usage %v", u)
			}
		}
	}
	want := "message_start content_block_start content_block_delta content_block_stop content_block_start content_block_delta " +
		"content_block_stop content_block_start content_block_delta content_block_delta content_block_stop message_delta message_stop"
	if strings.Join(names, " ") != want {
		t.Errorf("events %s\nwant   %s", strings.Join(names, " "), want)
	}
	if text != "Hi" || args0 != `{"city":"Paris"}` || args1 != "{}" {
		t.Errorf("text %q, tool arguments %q and %q", text, args0, args1)
	}
	if u := s.Usage(); u != (Usage{11, 7}) {
		t.Errorf("usage %+v", u)
	}
}

func TestAnAnthropicStreamReadsAsAnOpenAIOne(t *testing.T) {
	s := NewStream(Anthropic, OpenAI, "", true)
	out := translate(t, s, events(anthropicStream))
	var text, args, finish string
	var usage map[string]any
	for _, e := range out[:len(out)-1] {
		v := decode(t, e.Data)
		if u, ok := v["usage"].(map[string]any); ok {
			usage = u
		}
		for _, c := range v["choices"].([]any) {
			c := c.(map[string]any)
			d := c["delta"].(map[string]any)
			if s, ok := d["content"].(string); ok {
				text += s
			}
			calls, _ := d["tool_calls"].([]any)
			for _, tc := range calls {
				f := tc.(map[string]any)["function"].(map[string]any)
				args += f["arguments"].(string)
				if tc.(map[string]any)["index"].(float64) != 0 {
					t.Errorf("tool call index %v", tc)
				}
			}
			if f, ok := c["finish_reason"].(string); ok {
				finish = f
			}
		}
	}
	if string(out[len(out)-1].Data) != "[DONE]" {
		t.Errorf("last event %s", out[len(out)-1].Data)
	}
	if text != "Hi" || args != `{"city":"Paris"}` || finish != "tool_calls" {
		t.Errorf("text %q, arguments %q, finish %q", text, args, finish)
	}
	if usage["prompt_tokens"].(float64) != 11 || usage["completion_tokens"].(float64) != 7 || usage["total_tokens"].(float64) != 18 {
		t.Errorf("usage %v", usage)
	}
}

func TestAStreamOfOneDialectPassesThrough(t *testing.T) {
	in := events(openAIStream)
	out := translate(t, NewStream(OpenAI, OpenAI, "", false), in)
	if len(out) != len(in)-1 {
		t.Fatalf("%d events out of %d: want all but the usage chunk the client did not ask for", len(out), len(in))
	}
	for i := range out[:len(out)-1] {
		if string(out[i].Data) != string(in[i].Data) {
			t.Errorf("event %d: %s, want it as it came: %s", i, out[i].Data, in[i].Data)
		}
	}
	in = events(anthropicStream)
	if out := translate(t, NewStream(Anthropic, Anthropic, "", false), in); !reflect.DeepEqual(out, in) {
		t.Errorf("an Anthropic stream changed on its way")
	}
}

func TestAnInBandErrorIsAFailure(t *testing.T) {
	s := NewStream(Anthropic, OpenAI, "", false)
	_, err := s.Translate(Event{Name: "error", Data: []byte(`{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`)})
	var f *StreamFailure
	if !errors.As(err, &f) || f.Type != "overloaded_error" {
		t.Fatalf("%v", err)
	}
	if e := decode(t, s.Fail("server_error", "the provider failed").Data); e["error"].(map[string]any)["message"] != "the provider failed" {
		t.Errorf("%v", e)
	}
}

func TestAResumedStreamReadsAsOneAnswer(t *testing.T) {
	s := NewStream(OpenAI, Anthropic, "", false)
	in := events(openAIStream)
	translate2 := func(evs []Event) (out []Event) {
		for _, e := range evs {
			o, _ := s.Translate(e)
			out = append(out, o...)
		}
		return out
	}
	first := translate2(in[:2])                                 // the start and "Hi", then a cut
	s.Resume(Anthropic, Usage{InputTokens: 5, OutputTokens: 1}) // Highway's estimate of the cut part's
	rest := translate2(events(anthropicStream))
	starts := 0
	for _, e := range append(first, rest...) {
		if e.Name == "message_start" {
			starts++
		}
	}
	if starts != 1 {
		t.Errorf("%d message_start events, want one", starts)
	}
	if rest[0].Name != "content_block_delta" || !strings.Contains(string(rest[0].Data), `"index":0`) {
		t.Errorf("the resumed text goes on in the open block: %s %s", rest[0].Name, rest[0].Data)
	}
	if u := s.Usage(); u.InputTokens != 5+11 || u.OutputTokens != 1+7 {
		t.Errorf("usage %+v", u)
	}
}

func TestAWholeAnswerTranslatesBothWays(t *testing.T) {
	oa := `{"id":"c1","object":"chat.completion","model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"Hi","tool_calls":[{"id":"call_1","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Paris\"}"}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":3,"completion_tokens":4}}`
	an, err := Answer([]byte(oa), OpenAI, Anthropic)
	if err != nil {
		t.Fatal(err)
	}
	got := decode(t, an)
	want := decode(t, []byte(`{"id":"msg_c1","type":"message","role":"assistant","model":"gpt-4o","content":[{"type":"text","text":"Hi"},{"type":"tool_use","id":"call_1","name":"weather","input":{"city":"Paris"}}],"stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":3,"output_tokens":4}}`))
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %s", an)
	}
	back, err := Answer(an, Anthropic, OpenAI)
	if err != nil {
		t.Fatal(err)
	}
	v := decode(t, back)
	ch := v["choices"].([]any)[0].(map[string]any)
	if v["id"] != "chatcmpl-c1" || ch["finish_reason"] != "tool_calls" || ch["message"].(map[string]any)["content"] != "Hi" || v["usage"].(map[string]any)["total_tokens"].(float64) != 7 {
		t.Errorf("got %s", back)
	}
	if _, err := Answer([]byte(`{"nope":1}`), Anthropic, OpenAI); err == nil {
		t.Error("an answer that is not a message translated")
	}
}
