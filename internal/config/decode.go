package config

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

type position struct{ line, col int }

// decoder walks a YAML node tree into Go values itself, rather than through
// yaml.Unmarshal, so that it knows the field path and position of every
// value: each problem is reported with both, and all problems at once.
type decoder struct {
	file string
	env  func(string) (string, bool)
	pos  map[string]position
	errs Errors
	// secrets are the values the environment gave ${...}: no message may
	// show them (see redact).
	secrets []string
}

// lookup is env, noting what it gives as a secret.
func (d *decoder) lookup(name string) (string, bool) {
	v, ok := d.env(name)
	if ok && v != "" {
		d.secrets = append(d.secrets, v)
	}
	return v, ok
}

func (d *decoder) fail(n *yaml.Node, path, format string, args ...any) {
	e := &Error{File: d.file, Field: path, Reason: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Col = n.Line, n.Column
	}
	d.errs = append(d.errs, e)
}

// failAt reports a problem found after decoding, at the recorded position
// of path.
func (d *decoder) failAt(path, format string, args ...any) {
	e := &Error{File: d.file, Field: path, Reason: fmt.Sprintf(format, args...)}
	if p, ok := d.pos[path]; ok {
		e.Line, e.Col = p.line, p.col
	}
	d.errs = append(d.errs, e)
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func (d *decoder) decodeDocument(data []byte, c *Config) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		e := &Error{File: d.file, Reason: err.Error()}
		if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
			e.Line, _ = strconv.Atoi(m[1])
			e.Col = 1
			e.Reason = "invalid YAML: " + m[2]
		}
		return Errors{e}
	}
	if len(doc.Content) == 0 {
		return Errors{{File: d.file, Reason: "the file is empty; it needs sources and routes"}}
	}
	d.decode(doc.Content[0], reflect.ValueOf(c).Elem(), "")
	if len(d.errs) > 0 {
		return d.errs
	}
	return nil
}

var (
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
	rawJSON         = reflect.TypeFor[json.RawMessage]()
	sourceType      = reflect.TypeFor[Source]()
	hedgeType       = reflect.TypeFor[Hedge]()
)

func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	n = resolve(n)
	if n.Kind == yaml.MappingNode {
		n = d.merge(n, path)
	}
	if path != "" {
		d.pos[path] = position{n.Line, n.Column}
	}
	switch {
	case v.Type() == sourceType:
		d.decodeSource(n, v.Addr().Interface().(*Source), path)
		return
	case v.Type() == hedgeType && n.Kind == yaml.ScalarNode && !isNull(n): // the delay alone
		d.decode(n, v.FieldByName("Delay"), path+".delay")
		return
	case v.Type() == rawJSON:
		var b bytes.Buffer
		if d.toJSON(n, &b, path) {
			v.SetBytes(b.Bytes())
		}
		return
	case reflect.PointerTo(v.Type()).Implements(textUnmarshaler):
		if s, ok := d.scalar(n, path, "a value"); ok {
			if err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)); err != nil {
				d.fail(n, path, "%v", err)
			}
		}
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if isNull(n) {
			return
		}
		v.Set(reflect.New(v.Type().Elem()))
		d.decode(n, v.Elem(), path)
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Map:
		d.decodeMap(n, v, path)
	case reflect.Slice:
		d.decodeSlice(n, v, path)
	case reflect.String:
		if s, ok := d.scalar(n, path, "a string"); ok {
			v.SetString(s)
		}
	case reflect.Int, reflect.Int64:
		if s, ok := d.scalar(n, path, "an integer"); ok {
			i, err := strconv.ParseInt(strings.ReplaceAll(s, "_", ""), 0, 64)
			if err != nil {
				d.fail(n, path, "want an integer, got %q", s)
				return
			}
			v.SetInt(i)
		}
	case reflect.Float64:
		if s, ok := d.scalar(n, path, "a number"); ok {
			f, err := strconv.ParseFloat(s, 64)
			if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
				d.fail(n, path, "want a number, got %q", s)
				return
			}
			v.SetFloat(f)
		}
	case reflect.Bool:
		if s, ok := d.scalar(n, path, "true or false"); ok {
			b, err := strconv.ParseBool(s)
			if err != nil {
				d.fail(n, path, "want true or false, got %q", s)
				return
			}
			v.SetBool(b)
		}
	default:
		d.fail(n, path, "cannot decode into %s", v.Type())
	}
}

// merge resolves YAML merge keys (<<: *base, or a list of bases) in the
// mapping n: the bases' fields that n does not give itself come first,
// then n's own. n is returned as it is when it has none.
func (d *decoder) merge(n *yaml.Node, path string) *yaml.Node {
	if !slices.ContainsFunc(n.Content, isMergeKey) {
		return n
	}
	own := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if !isMergeKey(n.Content[i]) {
			own[n.Content[i].Value] = true
		}
	}
	out := &yaml.Node{Kind: yaml.MappingNode, Tag: n.Tag, Line: n.Line, Column: n.Column}
	var rest []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if !isMergeKey(k) {
			rest = append(rest, k, val)
			continue
		}
		bases := []*yaml.Node{val}
		if resolve(val).Kind == yaml.SequenceNode {
			bases = resolve(val).Content
		}
		for _, b := range bases {
			b = resolve(b)
			if b.Kind != yaml.MappingNode {
				d.fail(k, join(path, "<<"), "want a mapping (or a list of them) to merge, got %s", kindName(b))
				continue
			}
			b = d.merge(b, path)
			for j := 0; j+1 < len(b.Content); j += 2 {
				if name := b.Content[j].Value; !own[name] {
					own[name] = true // the first base to give a field wins
					out.Content = append(out.Content, b.Content[j], b.Content[j+1])
				}
			}
		}
	}
	out.Content = append(out.Content, rest...)
	return out
}

func isMergeKey(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!merge" }

// resolve follows aliases to the node they name.
func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

// scalar returns a scalar's text with the environment expanded.
func (d *decoder) scalar(n *yaml.Node, path, want string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.fail(n, path, "want %s, got %s", want, kindName(n))
		return "", false
	}
	if isNull(n) {
		return "", true
	}
	s, err := expand(n.Value, d.lookup)
	if err != nil {
		d.fail(n, path, "%v", err)
		return "", false
	}
	return s, true
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return "a scalar"
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// expect reports whether n is a node of kind to decode; null means "not
// given" and is not an error, any other kind is.
func (d *decoder) expect(n *yaml.Node, kind yaml.Kind, path, want string) bool {
	if isNull(n) {
		return false
	}
	if n.Kind != kind {
		d.fail(n, path, "want %s, got %s", want, kindName(n))
		return false
	}
	return true
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if !d.expect(n, yaml.MappingNode, path, "a mapping of fields") {
		return
	}
	fields := yamlFields(v.Type())
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		p := join(path, k.Value)
		idx, ok := fields[k.Value]
		switch {
		case !ok:
			d.fail(k, p, "unknown field %q (%sknown fields: %s)", k.Value, suggest(k.Value, fields), strings.Join(slices.Sorted(maps.Keys(fields)), ", "))
		case seen[k.Value]:
			d.fail(k, p, "field given twice")
		default:
			seen[k.Value] = true
			d.decode(val, v.Field(idx), p)
		}
	}
}

// yamlFields maps the YAML names of a struct's fields to their indices.
func yamlFields(t reflect.Type) map[string]int {
	fields := map[string]int{}
	for i := range t.NumField() {
		if tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]; tag != "" && tag != "-" {
			fields[tag] = i
		}
	}
	return fields
}

func (d *decoder) decodeMap(n *yaml.Node, v reflect.Value, path string) {
	if !d.expect(n, yaml.MappingNode, path, "a mapping") {
		return
	}
	if v.IsNil() {
		v.Set(reflect.MakeMap(v.Type()))
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		p := join(path, k.Value)
		key := reflect.ValueOf(k.Value)
		if v.MapIndex(key).IsValid() {
			d.fail(k, p, "%q given twice", k.Value)
			continue
		}
		elem := reflect.New(v.Type().Elem()).Elem()
		d.decode(val, elem, p)
		v.SetMapIndex(key, elem)
		d.pos[p] = position{k.Line, k.Column}
	}
}

func (d *decoder) decodeSlice(n *yaml.Node, v reflect.Value, path string) {
	if !d.expect(n, yaml.SequenceNode, path, "a list") {
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		d.decode(item, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
	}
	v.Set(s)
}

// toJSON writes the YAML value n as JSON, keeping key order.
func (d *decoder) toJSON(n *yaml.Node, b *bytes.Buffer, path string) bool {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.MappingNode:
		b.WriteByte('{')
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode {
				d.fail(k, path, "JSON object keys must be strings")
				return false
			}
			if seen[k.Value] {
				d.fail(k, join(path, k.Value), "key given twice")
				return false
			}
			seen[k.Value] = true
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSONString(b, k.Value)
			b.WriteByte(':')
			if !d.toJSON(n.Content[i+1], b, join(path, k.Value)) {
				return false
			}
		}
		b.WriteByte('}')
	case yaml.SequenceNode:
		b.WriteByte('[')
		for i, item := range n.Content {
			if i > 0 {
				b.WriteByte(',')
			}
			if !d.toJSON(item, b, fmt.Sprintf("%s[%d]", path, i)) {
				return false
			}
		}
		b.WriteByte(']')
	default:
		return d.scalarJSON(n, b, path)
	}
	return true
}

func (d *decoder) scalarJSON(n *yaml.Node, b *bytes.Buffer, path string) bool {
	switch n.Tag {
	case "!!null":
		b.WriteString("null")
	case "!!bool":
		v, err := strconv.ParseBool(strings.ToLower(n.Value))
		if err != nil {
			d.fail(n, path, "want true or false, got %q", n.Value)
			return false
		}
		b.WriteString(strconv.FormatBool(v))
	case "!!int":
		v, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, 64)
		if err != nil {
			d.fail(n, path, "integer %q does not fit in JSON", n.Value)
			return false
		}
		b.WriteString(strconv.FormatInt(v, 10))
	case "!!float":
		v, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			d.fail(n, path, "number %q cannot be written in JSON", n.Value)
			return false
		}
		b.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
	default:
		s, err := expand(n.Value, d.lookup)
		if err != nil {
			d.fail(n, path, "%v", err)
			return false
		}
		writeJSONString(b, s)
	}
	return true
}

func writeJSONString(b *bytes.Buffer, s string) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		panic(errors.New("config: a Go string always encodes")) // unreachable
	}
	b.Truncate(b.Len() - 1) // Encode's newline
}

// suggest names the known field closest to a misspelt one, if one is close.
func suggest[V any](name string, fields map[string]V) string {
	best, bestDist := "", 3 // at most two edits away
	for _, f := range slices.Sorted(maps.Keys(fields)) {
		if d := editDistance(name, f); d < bestDist {
			best, bestDist = f, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf("did you mean %q? ", best)
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
