package source_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/citypopy/highway/fanout"
	"github.com/citypopy/highway/source"
)

// withNeeds is a context whose task's needs answered as given.
func withNeeds(needs map[string]string) context.Context {
	in := map[string]json.RawMessage{}
	for k, v := range needs {
		in[k] = json.RawMessage(v)
	}
	return fanout.WithInputs(source.WithParams(context.Background(), source.Params{"city": "Paris"}), in)
}

func TestTemplatesReadNeedsEscapedForEachPlace(t *testing.T) {
	ctx := withNeeds(map[string]string{
		"weather": `{"temp": 22.5, "sky": "sun & \"clouds\"/rain\n"}`,
		"search":  `{"hits": ["a b", {"t": "x<y"}], "ok": true, "none": null}`,
	})
	cases := []struct {
		place, text string
		escape      func(string) string
		want        string
	}{
		{"prompt", "{{.params.city}}: {{.weather.temp}}°, {{.weather.sky}}", source.EscapeNone, "Paris: 22.5°, sun & \"clouds\"/rain\n"},
		{"prompt, whole answer as JSON", "hits {{.search.hits}} ok={{.search.ok}} none=[{{.search.none}}]", source.EscapeNone, `hits ["a b",{"t":"x<y"}] ok=true none=[]`},
		{"path", "/w/{{.weather.sky}}", source.EscapePath, "/w/sun%20&%20%22clouds%22%2Frain%0A"},
		{"query", "q={{.weather.sky}}", source.EscapeQuery, "q=sun+%26+%22clouds%22%2Frain%0A"},
		{"header", "{{.weather.sky}}", source.EscapeHeader, `sun & "clouds"/rain`},
		{"JSON body", `{"q": "{{.weather.sky}}", "hits": "{{.search.hits}}"}`, source.EscapeJSON, `{"q": "sun & \"clouds\"/rain\n", "hits": "[\"a b\",{\"t\":\"x<y\"}]"}`},
		{"a variable is escaped where it prints", `{{$s := .weather.sky}}{{$s}}`, source.EscapeQuery, "sun+%26+%22clouds%22%2Frain%0A"},
		{"a function's result is escaped too", `{{printf "%s/%s" .weather.sky .params.city}}`, source.EscapePath, "sun%20&%20%22clouds%22%2Frain%0A%2FParis"},
	}
	for _, c := range cases {
		tp, err := source.ParseTemplate(c.place, c.text, c.escape)
		if err != nil {
			t.Fatalf("%s: %v", c.place, err)
		}
		got, err := tp.Render(ctx)
		if err != nil || got != c.want {
			t.Errorf("%s: %q %v\nwant %q", c.place, got, err, c.want)
		}
	}
}

func TestTemplateValuesAreCapped(t *testing.T) {
	big := `{"text": "` + strings.Repeat("x", source.MaxValue+1) + `"}`
	tp, _ := source.ParseTemplate("prompt", "{{.search.text}}", source.EscapeNone)
	if _, err := tp.Render(withNeeds(map[string]string{"search": big})); err == nil || !strings.Contains(err.Error(), "cap") {
		t.Errorf("a %d-byte value rendered: %v", source.MaxValue+1, err)
	}
	if _, err := tp.Render(withNeeds(map[string]string{"other": `1`})); err == nil {
		t.Error("a template referring to a need that did not answer rendered")
	}
}

func TestHTTPBodyTemplateSendsValidJSON(t *testing.T) {
	var got map[string]any
	var method string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		method = r.Method
		json.NewDecoder(r.Body).Decode(&got)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{}`))
	}))
	defer up.Close()
	h := &source.HTTP{URL: up.URL, Body: `{"city": "{{.params.city}}", "context": "{{.weather.sky}}"}`}
	if _, err := h.Fetch(withNeeds(map[string]string{"weather": `{"sky": "\"},{\"evil\": 1"}`})); err != nil {
		t.Fatal(err)
	}
	if method != "POST" || got["city"] != "Paris" || got["context"] != `"},{"evil": 1` || got["evil"] != nil {
		t.Errorf("%s %v", method, got)
	}
	bad := &source.HTTP{URL: up.URL, Body: `{"n": {{.params.city}}}`}
	if _, err := bad.Fetch(withNeeds(nil)); err == nil || !strings.Contains(err.Error(), "not JSON") {
		t.Errorf("a body rendering to invalid JSON was sent: %v", err)
	}
}

func FuzzNeedValuesStayInTheirPlace(f *testing.F) {
	for _, s := range []string{"sun", `"},{"x":1`, "a/b?c#d", "\r\nX-Evil: 1", "{{.params.city}}", "日本", "%2F..%2F", "\\u0000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		answer, _ := json.Marshal(map[string]string{"v": v})
		ctx := withNeeds(map[string]string{"n": string(answer)})
		render := func(text string, escape func(string) string) (string, bool) {
			tp, err := source.ParseTemplate("t", text, escape)
			if err != nil {
				t.Fatal(err)
			}
			out, err := tp.Render(ctx)
			if err != nil && len(answer) <= source.MaxValue {
				t.Fatalf("%q: %v", v, err)
			}
			return out, err == nil
		}
		if out, ok := render(`{"q":"{{.n.v}}"}`, source.EscapeJSON); ok {
			var back map[string]string
			if err := json.Unmarshal([]byte(out), &back); err != nil || len(back) != 1 {
				t.Fatalf("%q broke the JSON body: %s", v, out)
			}
			if utf8.ValidString(v) && back["q"] != v {
				t.Fatalf("%q came back from the body as %q", v, back["q"])
			}
		}
		if out, ok := render("/a/{{.n.v}}/b", source.EscapePath); ok && strings.Count(out, "/") != 3 {
			t.Fatalf("%q escaped its path segment: %s", v, out)
		}
		if out, ok := render("{{.n.v}}", source.EscapeHeader); ok && strings.ContainsAny(out, "\r\n\x00") {
			t.Fatalf("%q put a control character in a header", v)
		}
		if out, ok := render("x={{.n.v}}&y=1", source.EscapeQuery); ok && (strings.Count(out, "&") != 1 || strings.Count(out, "=") != 2) {
			t.Fatalf("%q escaped its query value: %s", v, out)
		}
	})
}
