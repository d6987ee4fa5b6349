package template_test

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/citypopy/highway/internal/template"
)

// withNeeds is the values of a call for Paris whose needs answered as
// given.
func withNeeds(needs map[string]string) *template.Values {
	in := map[string]json.RawMessage{}
	for k, v := range needs {
		in[k] = json.RawMessage(v)
	}
	return template.NewValues(map[string]string{"city": "Paris"}, in)
}

func TestTemplatesReadNeedsEscapedForEachPlace(t *testing.T) {
	vals := withNeeds(map[string]string{
		"weather": `{"temp": 22.5, "sky": "sun & \"clouds\"/rain\n"}`,
		"search":  `{"hits": ["a b", {"t": "x<y"}], "ok": true, "none": null}`,
	})
	cases := []struct {
		place, text string
		escape      func(string) string
		want        string
	}{
		{"prompt", "{{.params.city}}: {{.weather.temp}}°, {{.weather.sky}}", template.None, "Paris: 22.5°, sun & \"clouds\"/rain\n"},
		{"prompt, whole answer as JSON", "hits {{.search.hits}} ok={{.search.ok}} none=[{{.search.none}}]", template.None, `hits ["a b",{"t":"x<y"}] ok=true none=[]`},
		{"path", "/w/{{.weather.sky}}", template.Path, "/w/sun%20&%20%22clouds%22%2Frain%0A"},
		{"query", "q={{.weather.sky}}", template.Query, "q=sun+%26+%22clouds%22%2Frain%0A"},
		{"header", "{{.weather.sky}}", template.Header, `sun & "clouds"/rain`},
		{"JSON body", `{"q": "{{.weather.sky}}", "hits": "{{.search.hits}}"}`, template.JSON, `{"q": "sun & \"clouds\"/rain\n", "hits": "[\"a b\",{\"t\":\"x<y\"}]"}`},
		{"a variable is escaped where it prints", `{{$s := .weather.sky}}{{$s}}`, template.Query, "sun+%26+%22clouds%22%2Frain%0A"},
		{"a function's result is escaped too", `{{printf "%s/%s" .weather.sky .params.city}}`, template.Path, "sun%20&%20%22clouds%22%2Frain%0A%2FParis"},
	}
	for _, c := range cases {
		tp, err := template.Parse(c.place, c.text, c.escape)
		if err != nil {
			t.Fatalf("%s: %v", c.place, err)
		}
		got, err := tp.Render(vals)
		if err != nil || got != c.want {
			t.Errorf("%s: %q %v\nwant %q", c.place, got, err, c.want)
		}
	}
}

func TestTemplateValuesAreCapped(t *testing.T) {
	big := `{"text": "` + strings.Repeat("x", template.MaxValue+1) + `"}`
	tp, _ := template.Parse("prompt", "{{.search.text}}", template.None)
	if _, err := tp.Render(withNeeds(map[string]string{"search": big})); err == nil || !strings.Contains(err.Error(), "cap") {
		t.Errorf("a %d-byte value rendered: %v", template.MaxValue+1, err)
	}
	if _, err := tp.Render(withNeeds(map[string]string{"other": `1`})); err == nil {
		t.Error("a template referring to a need that did not answer rendered")
	}
}

func FuzzNeedValuesStayInTheirPlace(f *testing.F) {
	for _, s := range []string{"sun", `"},{"x":1`, "a/b?c#d", "\r\nX-Evil: 1", "{{.params.city}}", "日本", "%2F..%2F", "\\u0000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		answer, _ := json.Marshal(map[string]string{"v": v})
		vals := withNeeds(map[string]string{"n": string(answer)})
		render := func(text string, escape func(string) string) (string, bool) {
			tp, err := template.Parse("t", text, escape)
			if err != nil {
				t.Fatal(err)
			}
			out, err := tp.Render(vals)
			if err != nil && len(answer) <= template.MaxValue {
				t.Fatalf("%q: %v", v, err)
			}
			return out, err == nil
		}
		if out, ok := render(`{"q":"{{.n.v}}"}`, template.JSON); ok {
			var back map[string]string
			if err := json.Unmarshal([]byte(out), &back); err != nil || len(back) != 1 {
				t.Fatalf("%q broke the JSON body: %s", v, out)
			}
			if utf8.ValidString(v) && back["q"] != v {
				t.Fatalf("%q came back from the body as %q", v, back["q"])
			}
		}
		if out, ok := render("/a/{{.n.v}}/b", template.Path); ok && strings.Count(out, "/") != 3 {
			t.Fatalf("%q escaped its path segment: %s", v, out)
		}
		if out, ok := render("{{.n.v}}", template.Header); ok && strings.ContainsAny(out, "\r\n\x00") {
			t.Fatalf("%q put a control character in a header", v)
		}
		if out, ok := render("x={{.n.v}}&y=1", template.Query); ok && (strings.Count(out, "&") != 1 || strings.Count(out, "=") != 2) {
			t.Fatalf("%q escaped its query value: %s", v, out)
		}
	})
}

// Inside if, range and with, values are escaped and referred to like
// anywhere else, and one outside JSON quotes is found.
func TestBranchesAreEscapedAndRead(t *testing.T) {
	tp, err := template.Parse("body", `{"a": "{{if .params.city}}{{.params.city}}{{end}}", "n": {{with .weather}}{{.temp}}{{end}}}`, template.JSON)
	if err != nil {
		t.Fatal(err)
	}
	got, err := tp.Render(withNeeds(map[string]string{"weather": `{"temp": 22}`}))
	if err != nil || got != `{"a": "Paris", "n": 22}` {
		t.Errorf("%q %v", got, err)
	}
	if refs := tp.Refs(); len(refs) != 4 {
		t.Errorf("refs %v", refs)
	}
	if un := tp.UnquotedRefs(); len(un) != 1 || un[0][0] != "temp" {
		t.Errorf("unquoted %v", un)
	}
}
