package source

import (
	"context"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"text/template"
	"text/template/parse"
)

// MaxRendered caps what a template may render to.
const MaxRendered = 16 << 10

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
)

func dropControl(r rune) rune {
	if r < 0x20 || r == 0x7f {
		return -1
	}
	return r
}

// Template is text with {{.params.NAME}} references, rendered per call
// with every value escaped for where the text goes. Plain text without
// "{{" renders as itself at no cost.
type Template struct {
	text   string
	t      *template.Template
	escape func(string) string
}

// ParseTemplate compiles text, whose values escape makes safe.
func ParseTemplate(name, text string, escape func(string) string) (*Template, error) {
	tp := &Template{text: text, escape: escape}
	if !strings.Contains(text, "{{") {
		return tp, nil
	}
	t, err := template.New(name).Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, err
	}
	tp.t = t
	return tp, nil
}

// Templated reports whether the text refers to anything.
func (t *Template) Templated() bool { return t.t != nil }

// Render renders the text with ctx's parameters.
func (t *Template) Render(ctx context.Context) (string, error) {
	if t.t == nil {
		return t.text, nil
	}
	params := ParamsFrom(ctx)
	escaped := make(map[string]string, len(params))
	for k, v := range params {
		escaped[k] = t.escape(v)
	}
	var b strings.Builder
	if err := t.t.Execute(&limitWriter{b: &b}, map[string]any{"params": escaped}); err != nil {
		return "", fmt.Errorf("render %s: %w", t.t.Name(), err)
	}
	return b.String(), nil
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
