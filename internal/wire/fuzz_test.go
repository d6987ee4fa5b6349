package wire

import (
	"encoding/json"
	"testing"
)

// FuzzRequest: no body makes Parse or For panic, and what For gives a
// provider is JSON.
func FuzzRequest(f *testing.F) {
	f.Add(`{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true}`, true)
	f.Add(`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":"x"}]}],"tool_choice":{"type":"any"}}`, false)
	f.Add(`{"model":"m","messages":[{"role":"assistant","tool_calls":[{"id":"c","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c","content":"1"}]}`, true)
	f.Fuzz(func(t *testing.T, body string, openAI bool) {
		from, to := Anthropic, OpenAI
		if openAI {
			from, to = OpenAI, Anthropic
		}
		r, err := Parse(from, []byte(body))
		if err != nil {
			return
		}
		for _, target := range []Target{{Dialect: to, Model: "p"}, {Dialect: from, Model: "p", Prefix: "so far"}} {
			out, err := r.For(target)
			if err == nil && !json.Valid(out) {
				t.Fatalf("For(%v) of %s is not JSON: %s", target, body, out)
			}
		}
	})
}

// FuzzStream: no provider event makes a translator panic.
func FuzzStream(f *testing.F) {
	for _, e := range events(openAIStream + anthropicStream) {
		f.Add(e.Name, string(e.Data))
	}
	f.Fuzz(func(t *testing.T, name, data string) {
		for _, from := range []Dialect{OpenAI, Anthropic} {
			for _, to := range []Dialect{OpenAI, Anthropic} {
				s := NewStream(from, to, "m", true)
				s.Translate(Event{Name: name, Data: []byte(data)})
				s.Translate(Event{Name: name, Data: []byte(data)})
			}
		}
	})
}
