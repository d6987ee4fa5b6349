package source_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/citypopy/highway/source"
)

// needsOf is a call for Paris whose needs answered as given.
func needsOf(needs map[string]string) *source.Call {
	in := map[string]json.RawMessage{}
	for k, v := range needs {
		in[k] = json.RawMessage(v)
	}
	return &source.Call{Params: map[string]string{"city": "Paris"}, Needs: in}
}

func TestHTTPBodyTemplateSendsValidJSON(t *testing.T) {
	t.Parallel()
	var got map[string]any
	var method string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		method = r.Method
		json.NewDecoder(r.Body).Decode(&got)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{}`))
	}))
	defer up.Close()
	defer source.Pool.CloseIdleConnections()
	h := &source.HTTP{URL: up.URL, Body: `{"city": "{{.params.city}}", "context": "{{.weather.sky}}"}`}
	if _, err := whole(t.Context(), h, needsOf(map[string]string{"weather": `{"sky": "\"},{\"evil\": 1"}`})); err != nil {
		t.Fatal(err)
	}
	if method != "POST" || got["city"] != "Paris" || got["context"] != `"},{"evil": 1` || got["evil"] != nil {
		t.Errorf("%s %v", method, got)
	}
	bad := &source.HTTP{URL: up.URL, Body: `{"n": {{.params.city}}}`}
	if _, err := whole(t.Context(), bad, needsOf(nil)); err == nil || !strings.Contains(err.Error(), "not JSON") {
		t.Errorf("a body rendering to invalid JSON was sent: %v", err)
	}
}

// capture is a RoundTripper that records the request it is given, as the
// upstream would see it, and sends nothing.
type capture struct{ got string }

func (c *capture) RoundTrip(r *http.Request) (*http.Response, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s\n", r.Method, r.URL)
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range r.Header {
			if !yield(k) {
				return
			}
		}
	}) {
		fmt.Fprintf(&b, "%s: %q\n", k, r.Header[k])
	}
	if r.Body != nil {
		body, _ := io.ReadAll(r.Body)
		b.Write(body)
	}
	c.got = b.String()
	return nil, errors.New("captured")
}

// kinds are a source of every kind whose request renders every value of a
// call: parameters p and q, need n's field v, and the body.
func kinds(rt http.RoundTripper) map[string]source.Source {
	const url = "http://upstream.test/x/{{.params.p}}?q={{.params.q}}&n={{.n.v}}"
	llm := func() source.LLM {
		return source.LLM{BaseURL: "http://upstream.test/v1", Model: "m", Transport: rt,
			System: "about {{.n.v}}", User: "{{.params.p}}|{{.params.q}}"}
	}
	return map[string]source.Source{
		"mock": &source.Mock{Data: json.RawMessage(`{"ok":true}`)},
		"http": &source.HTTP{URL: url, Header: http.Header{"X-N": {"{{.n.v}}"}}, Transport: rt},
		"http body": &source.HTTP{URL: "http://upstream.test/x", Transport: rt,
			Body: `{"p": "{{.params.p}}", "q": "{{.params.q}}", "n": {{.n}}}`},
		"http forward_body": &source.HTTP{URL: url, Method: "POST", ForwardBody: true, Transport: rt},
		"openai":            &source.OpenAI{LLM: llm()},
		"anthropic":         &source.Anthropic{LLM: llm()},
	}
}

// rendered is the upstream request a source sends for call, or what
// stopped it.
func rendered(src source.Source, rt *capture, call *source.Call) string {
	rt.got = ""
	v, err := whole(context.Background(), src, call)
	if rt.got != "" {
		return rt.got
	}
	return fmt.Sprintf("answered %s %v", v, err) // a mock, or rendering refused it
}

// variants are calls made of the same pieces, shuffled in the ways a naive
// key (values joined, names dropped, answers concatenated) would confuse.
func variants(a, b, c, body string) []*source.Call {
	need := func(v string) map[string]json.RawMessage {
		raw, _ := json.Marshal(map[string]string{"v": v})
		return map[string]json.RawMessage{"n": raw}
	}
	return []*source.Call{
		{Params: map[string]string{"p": a, "q": b}, Needs: need(c), Body: []byte(body)},
		{Params: map[string]string{"p": a + b, "q": ""}, Needs: need(c), Body: []byte(body)},
		{Params: map[string]string{"p": b, "q": a}, Needs: need(c), Body: []byte(body)},
		{Params: map[string]string{"p": a, "q": b + c}, Needs: need(""), Body: []byte(body)},
		{Params: map[string]string{"p": a, "q": b}, Needs: need(c + body), Body: nil},
		{Params: map[string]string{"p": a, "q": b}, Needs: need(c), Body: []byte(body + " ")},
		{Params: map[string]string{"p": a, "q": b, "x": c}, Needs: need(c), Body: []byte(body)},
		{Params: map[string]string{"p": a, "q": b}},
		nil,
	}
}

// FuzzCallKey is the key's promise, for every kind of source: two calls
// whose rendered upstream requests differ never share a key.
func FuzzCallKey(f *testing.F) {
	f.Add("Paris", "2", "sun", `{"a":1}`)
	f.Add("a", "b", "", "")
	f.Add("", "", "x", "null")
	f.Add("a&q=b", "", "=", `"x"`)
	rt := &capture{}
	srcs := kinds(rt)
	f.Fuzz(func(t *testing.T, a, b, c, body string) {
		calls := variants(a, b, c, body)
		for name, src := range srcs {
			seen := map[string]string{} // key → rendered request
			for _, call := range calls {
				req := rendered(src, rt, call)
				if prev, ok := seen[call.Key()]; ok && prev != req {
					t.Fatalf("%s: calls sharing key %q render differently:\n%s\n---\n%s", name, call.Key(), prev, req)
				}
				seen[call.Key()] = req
			}
		}
	})
}

func TestCallKeyTellsCallsApart(t *testing.T) {
	t.Parallel()
	keys := map[string]int{}
	for i, call := range variants("a", "b", "c", `{"x":1}`) {
		if j, dup := keys[call.Key()]; dup {
			t.Errorf("variants %d and %d share the key %q", j, i, call.Key())
		}
		keys[call.Key()] = i
	}
	if (&source.Call{}).Key() != "" || (&source.Call{Params: map[string]string{}}).Key() != "" {
		t.Error("an empty call has a key")
	}
	p := &source.Call{Params: map[string]string{"city": "Paris", "days": "2"}}
	q := &source.Call{Params: map[string]string{"days": "2", "city": "Paris"}}
	if p.Key() != q.Key() {
		t.Error("the same parameters gave two keys")
	}
}
