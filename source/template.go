package source

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"text/template"
	"text/template/parse"

	"github.com/citypopy/highway/fanout"
)

// MaxRendered caps what a template may render to.
const MaxRendered = 64 << 10

// Params are a request's parameters, by name, already validated.
type Params map[string]string

type paramsKey struct{}

// WithParams returns ctx carrying a request's parameters, for templated
// sources to render with.
func WithParams(ctx context.Context, p Params) context.Context {
	return context.WithValue(ctx, paramsKey{}, p)
}

// ParamsFrom returns the parameters ctx carries, or nil.
func ParamsFrom(ctx context.Context) Params {
	p, _ := ctx.Value(paramsKey{}).(Params)
	return p
}

type bodyKey struct{}

// WithBody returns ctx carrying a request's JSON body, for sources that
// forward it.
func WithBody(ctx context.Context, body []byte) context.Context {
	return context.WithValue(ctx, bodyKey{}, body)
}

// BodyFrom returns the body ctx carries, or nil.
func BodyFrom(ctx context.Context) []byte {
	b, _ := ctx.Value(bodyKey{}).([]byte)
	return b
}

// Key is a canonical form of the parameters, for telling apart calls that
// a cache or coalescing must not share.
func (p Params) Key() string {
	if len(p) == 0 {
		return ""
	}
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(url.QueryEscape(k) + "=" + url.QueryEscape(p[k]) + "&")
	}
	return b.String()
}

// Escapers for where a rendered value goes.
var (
	EscapePath   = url.PathEscape
	EscapeQuery  = url.QueryEscape
	EscapeHeader = func(s string) string { return strings.Map(dropControl, s) }
	EscapeNone   = func(s string) string { return s }
	// EscapeJSON makes s the inside of a JSON string: a template puts it
	// between quotes.
	EscapeJSON = func(s string) string {
		b, _ := marshal(s)
		return string(b[1 : len(b)-1])
	}
)

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
// answer (fanout.Inputs), every value escaped for where the text goes.
// A value that is an object or an array is written as compact JSON. Plain
// text without "{{" renders as itself at no cost.
type Template struct {
	text   string
	t      *template.Template
	escape func(string) string
}

// escFunc is appended to every printing action of a template, so that
// whatever an action computes is escaped last, however it was computed.
const escFunc = "highwayEscape"

// ParseTemplate compiles text, whose values escape makes safe.
func ParseTemplate(name, text string, escape func(string) string) (*Template, error) {
	tp := &Template{text: text, escape: escape}
	if !strings.Contains(text, "{{") {
		return tp, nil
	}
	t, err := template.New(name).Option("missingkey=error").Funcs(template.FuncMap{escFunc: tp.value}).Parse(text)
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
	case *parse.IfNode:
		escapeActions(tree, n.List)
		escapeActions(tree, n.ElseList)
	case *parse.RangeNode:
		escapeActions(tree, n.List)
		escapeActions(tree, n.ElseList)
	case *parse.WithNode:
		escapeActions(tree, n.List)
		escapeActions(tree, n.ElseList)
	}
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

// Templated reports whether the text refers to anything.
func (t *Template) Templated() bool { return t.t != nil }

// Render renders the text with ctx's parameters and inputs.
func (t *Template) Render(ctx context.Context) (string, error) {
	return (&renderer{ctx: ctx}).render(t)
}

// renderer renders the templates of one call from a single decoding of
// its parameters and its needs' answers, made when a template first needs
// it: a source with a templated path, query, headers and body decodes a
// need's answer once, not four times.
type renderer struct {
	ctx  context.Context
	data map[string]any
	err  error
}

func (r *renderer) render(t *Template) (string, error) {
	if t.t == nil {
		return t.text, nil
	}
	if r.data == nil && r.err == nil {
		r.data, r.err = templateData(r.ctx)
	}
	if r.err != nil {
		return "", fmt.Errorf("render %s: %w", t.t.Name(), r.err)
	}
	var b strings.Builder
	if err := t.t.Execute(&limitWriter{b: &b}, r.data); err != nil {
		return "", fmt.Errorf("render %s: %w", t.t.Name(), err)
	}
	return b.String(), nil
}

// templateData is what templates see: .params and each need's answer.
func templateData(ctx context.Context) (map[string]any, error) {
	data := map[string]any{"params": map[string]string(ParamsFrom(ctx))}
	for name, raw := range fanout.Inputs[json.RawMessage](ctx) {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("the answer of %s is not JSON: %w", name, err)
		}
		data[name] = v
	}
	return data, nil
}

// Refs lists the fields the template refers to, such as ["params" "city"].
func (t *Template) Refs() [][]string {
	if t.t == nil {
		return nil
	}
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
		case *parse.IfNode:
			walk(n.Pipe)
			walk(n.List)
			walk(n.ElseList)
		case *parse.RangeNode:
			walk(n.Pipe)
			walk(n.List)
			walk(n.ElseList)
		case *parse.WithNode:
			walk(n.Pipe)
			walk(n.List)
			walk(n.ElseList)
		}
	}
	walk(t.t.Tree.Root)
	return refs
}

type limitWriter struct{ b *strings.Builder }

func (w *limitWriter) Write(p []byte) (int, error) {
	if w.b.Len()+len(p) > MaxRendered {
		return 0, fmt.Errorf("renders to more than %d bytes", MaxRendered)
	}
	return w.b.Write(p)
}
