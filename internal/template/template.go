// Package template renders the text a source sends upstream (a URL's
// path and query, headers, a JSON body, LLM prompts) from one call's
// values: {{.params.NAME}} for a request parameter and {{.NEED.field}} for
// a field of a need's answer. Every value is escaped for the place it
// goes, whatever the template computes it with, and capped in size; the
// scheme and host of an address are never templated.
package template

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	gotemplate "text/template"
	"text/template/parse"
)

// MaxRendered caps what a template may render to.
const MaxRendered = 64 << 10

// Escapers for where a rendered value goes.

// Path escapes a value as one segment of a URL path.
func Path(s string) string { return url.PathEscape(s) }

// Query escapes a value as a URL query's key or value.
func Query(s string) string { return url.QueryEscape(s) }

// Header drops the control characters a header value must not hold.
func Header(s string) string { return strings.Map(dropControl, s) }

// None leaves a value as it is: for a prompt, which is JSON-encoded whole.
func None(s string) string { return s }

// JSON makes s the inside of a JSON string: a template puts it between
// quotes.
func JSON(s string) string {
	b, _ := marshal(s)
	return string(b[1 : len(b)-1])
}

// marshal is json.Marshal without HTML escaping: a prompt should read
// "x<y", not "x\u003cy".
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

func dropControl(r rune) rune {
	if r < 0x20 || r == 0x7f {
		return -1
	}
	return r
}

// MaxValue caps one value a template puts into its text: a need's answer
// cannot swell a prompt or a URL without bound.
const MaxValue = 8 << 10

// Template is text with references, rendered per call: {{.params.NAME}}
// for a request parameter and {{.NEED.field}} for a field of a need's
// answer, every value escaped for where the text goes.
// A value that is an object or an array is written as compact JSON. Plain
// text without "{{" renders as itself at no cost.
type Template struct {
	text   string
	t      *gotemplate.Template
	escape func(string) string
}

// escFunc is appended to every printing action of a template, so that
// whatever an action computes is escaped last, however it was computed.
const escFunc = "highwayEscape"

// Parse compiles text, whose values escape makes safe.
func Parse(name, text string, escape func(string) string) (*Template, error) {
	tp := &Template{text: text, escape: escape}
	if !strings.Contains(text, "{{") {
		return tp, nil
	}
	t, err := gotemplate.New(name).Option("missingkey=error").Funcs(gotemplate.FuncMap{escFunc: tp.value}).Parse(text)
	if err != nil {
		return nil, err
	}
	for _, at := range t.Templates() {
		escapeActions(at.Tree, at.Tree.Root)
	}
	tp.t = t
	return tp, nil
}

// escapeActions makes every printing action {{X}} into {{X | escape}}.
func escapeActions(tree *parse.Tree, n parse.Node) {
	switch n := n.(type) {
	case *parse.ListNode:
		if n != nil {
			for _, c := range n.Nodes {
				escapeActions(tree, c)
			}
		}
	case *parse.ActionNode:
		if len(n.Pipe.Decl) == 0 { // {{$x := ...}} prints nothing
			n.Pipe.Cmds = append(n.Pipe.Cmds, &parse.CommandNode{NodeType: parse.NodeCommand,
				Args: []parse.Node{parse.NewIdentifier(escFunc).SetTree(tree).SetPos(n.Pos)}})
		}
	default:
		if b := branch(n); b != nil {
			escapeActions(tree, b.List)
			escapeActions(tree, b.ElseList)
		}
	}
}

// branch is the branch an if, range or with node holds: its pipeline and
// its two lists; nil for any other node.
func branch(n parse.Node) *parse.BranchNode {
	switch n := n.(type) {
	case *parse.IfNode:
		return &n.BranchNode
	case *parse.RangeNode:
		return &n.BranchNode
	case *parse.WithNode:
		return &n.BranchNode
	}
	return nil
}

// value is one action's value as escaped text.
func (t *Template) value(v any) (string, error) {
	var s string
	switch v := v.(type) {
	case string:
		s = v
	case json.Number:
		s = v.String()
	case nil:
		s = ""
	case map[string]any, []any:
		b, err := marshal(v)
		if err != nil {
			return "", err
		}
		s = string(b)
	default:
		s = fmt.Sprint(v)
	}
	if len(s) > MaxValue {
		return "", fmt.Errorf("a value of %d bytes is over the %d-byte cap", len(s), MaxValue)
	}
	return t.escape(s), nil
}

// Values are what one call's templates render from: its parameters and
// its needs' answers, each answer decoded once, when a template first
// reads it, however many of the call's templates do.
type Values struct {
	params map[string]string
	needs  map[string]json.RawMessage
	data   map[string]any
	err    error
}

// NewValues returns the values of a call with these parameters and needs'
// answers.
func NewValues(params map[string]string, needs map[string]json.RawMessage) *Values {
	return &Values{params: params, needs: needs}
}

// Render renders the text with v.
func (t *Template) Render(v *Values) (string, error) {
	if t.t == nil {
		return t.text, nil
	}
	if v.data == nil && v.err == nil {
		v.data, v.err = v.decode()
	}
	if v.err != nil {
		return "", fmt.Errorf("render %s: %w", t.t.Name(), v.err)
	}
	var b strings.Builder
	if err := t.t.Execute(&limitWriter{b: &b}, v.data); err != nil {
		return "", fmt.Errorf("render %s: %w", t.t.Name(), err)
	}
	return b.String(), nil
}

// decode is what templates see: .params and each need's answer.
func (v *Values) decode() (map[string]any, error) {
	data := map[string]any{"params": v.params}
	for name, raw := range v.needs {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var x any
		if err := dec.Decode(&x); err != nil {
			return nil, fmt.Errorf("the answer of %s is not JSON: %w", name, err)
		}
		data[name] = x
	}
	return data, nil
}

// SplitBase splits an address into its fixed scheme://host and the rest.
func SplitBase(raw string) (base, rest string) {
	i := strings.Index(raw, "://")
	if i < 0 {
		return "", raw
	}
	j := strings.IndexAny(raw[i+3:], "/?")
	if j < 0 {
		return raw, ""
	}
	return raw[:i+3+j], raw[i+3+j:]
}

// Refs lists the fields the template refers to, such as ["params" "city"].
func (t *Template) Refs() [][]string {
	if t.t == nil {
		return nil
	}
	return refsOf(t.t.Tree.Root)
}

// UnquotedRefs lists the fields the template prints outside the quotes of
// a JSON string, reading its literal text as JSON: in {"n": {{.params.n}}}
// that is .params.n, whose value then stands as a JSON value of its own
// and must be one.
func (t *Template) UnquotedRefs() [][]string {
	if t.t == nil {
		return nil
	}
	var refs [][]string
	inString, escaped := false, false
	var walk func(n parse.Node)
	walk = func(n parse.Node) {
		switch n := n.(type) {
		case *parse.ListNode:
			if n != nil {
				for _, c := range n.Nodes {
					walk(c)
				}
			}
		case *parse.TextNode:
			for _, c := range n.Text {
				switch {
				case escaped:
					escaped = false
				case inString && c == '\\':
					escaped = true
				case c == '"':
					inString = !inString
				}
			}
		case *parse.ActionNode:
			if !inString {
				refs = append(refs, refsOf(n)...)
			}
		default:
			if b := branch(n); b != nil {
				walk(b.List)
				walk(b.ElseList)
			}
		}
	}
	walk(t.t.Tree.Root)
	return refs
}

// refsOf lists the fields n refers to.
func refsOf(n parse.Node) [][]string {
	var refs [][]string
	var walk func(n parse.Node)
	walk = func(n parse.Node) {
		switch n := n.(type) {
		case *parse.ListNode:
			if n != nil {
				for _, c := range n.Nodes {
					walk(c)
				}
			}
		case *parse.ActionNode:
			walk(n.Pipe)
		case *parse.PipeNode:
			if n != nil {
				for _, c := range n.Cmds {
					walk(c)
				}
			}
		case *parse.CommandNode:
			for _, a := range n.Args {
				walk(a)
			}
		case *parse.FieldNode:
			refs = append(refs, n.Ident)
		case *parse.VariableNode: // $.params.city
			if len(n.Ident) > 1 && n.Ident[0] == "$" {
				refs = append(refs, n.Ident[1:])
			}
		default:
			if b := branch(n); b != nil {
				walk(b.Pipe)
				walk(b.List)
				walk(b.ElseList)
			}
		}
	}
	walk(n)
	return refs
}

type limitWriter struct{ b *strings.Builder }

// Write appends p, unless that takes the rendering past MaxRendered.
func (w *limitWriter) Write(p []byte) (int, error) {
	if w.b.Len()+len(p) > MaxRendered {
		return 0, fmt.Errorf("renders to more than %d bytes", MaxRendered)
	}
	return w.b.Write(p)
}
