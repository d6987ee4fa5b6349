package config

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
)

// The configuration reference (docs/config.md) and the JSON Schema that
// highway schema prints (schema.json) are made from the config types
// themselves: their yaml names, Go types and doc comments. This test
// makes both again and fails when the files differ, so that neither can
// drift from the code; -update writes them.
var update = flag.Bool("update", false, "write docs/config.md and schema.json from the config types")

const (
	referencePath = "../../docs/config.md"
	schemaPath    = "schema.json"
)

func TestReferenceAndSchemaAreCurrent(t *testing.T) {
	fields, schema := reference(t)
	doc := referenceMarkdown(fields)
	b, err := json.MarshalIndent(schema, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, '\n')
	if *update {
		for path, data := range map[string][]byte{referencePath: []byte(doc), schemaPath: b} {
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	for path, want := range map[string][]byte{referencePath: []byte(doc), schemaPath: b} {
		if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s is not what the config types say (%v): run go test ./internal/config -run TestReferenceAndSchemaAreCurrent -update", path, err)
		}
	}
	for _, f := range fields {
		if f.doc == "" {
			t.Errorf("%s (%s.%s) has no doc comment: the reference would say nothing of it", f.path, f.owner, f.goName)
		}
	}
}

// field is one configuration field as the reference lists it.
type field struct {
	path, typ, doc, def string
	kinds               []string // the source kinds it applies to; nil: every kind, or not a source field
	owner, goName       string
}

var (
	durationType   = reflect.TypeFor[Duration]()
	byteSizeType   = reflect.TypeFor[ByteSize]()
	ratioType      = reflect.TypeFor[Ratio]()
	hedgeDelayType = reflect.TypeFor[HedgeDelay]()
)

// gen walks the config types, collecting fields and the schema.
type gen struct {
	docs   map[string]map[string]string // type name → Go field name → doc comment
	fields []field
}

// reference walks Config and returns its fields in order, and its schema.
func reference(t *testing.T) ([]field, map[string]any) {
	g := &gen{docs: fieldDocs(t)}
	s := g.object(reflect.TypeFor[Config](), "", nil)
	s["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	s["$id"] = "https://github.com/citypopy/highway/internal/config/schema.json"
	s["title"] = "Highway configuration (highway.yaml)"
	return g.fields, s
}

// object is the schema of struct t at path, recording its fields; kinds
// marks the fields of a source kind's own struct.
func (g *gen) object(t reflect.Type, path string, kinds []string) map[string]any {
	props := map[string]any{}
	for i := range t.NumField() {
		f := t.Field(i)
		name := strings.Split(f.Tag.Get("yaml"), ",")[0]
		if name == "" || name == "-" {
			continue
		}
		props[name] = g.field(t, f, name, join(path, name), kinds)
	}
	return map[string]any{"type": "object", "properties": props, "additionalProperties": false}
}

// field records one struct field, named name in YAML, before the fields
// of its own, and returns its schema.
func (g *gen) field(owner reflect.Type, f reflect.StructField, name, path string, kinds []string) map[string]any {
	doc := g.docs[owner.Name()][f.Name]
	if rest, ok := strings.CutPrefix(doc, f.Name+" "); ok { // the Go name, as the user writes it
		doc = "`" + name + "` " + rest
	}
	def := defaultIn(doc)
	if f.Name == "Default" {
		def = ""
	}
	i := len(g.fields)
	g.fields = append(g.fields, field{path: path, doc: doc, def: def, kinds: kinds, owner: owner.Name(), goName: f.Name})
	typ, s := g.schema(f.Type, path, kinds)
	g.fields[i].typ = typ
	if doc != "" {
		s["description"] = doc
	}
	return s
}

// schema is the reference's name for type t at path, and its schema;
// structs inside it add their own fields.
func (g *gen) schema(t reflect.Type, path string, kinds []string) (string, map[string]any) {
	switch t {
	case durationType:
		return "duration", map[string]any{"type": "string", "pattern": durationPattern}
	case byteSizeType:
		return "size", map[string]any{"type": []string{"integer", "string"}, "pattern": `^\s*[0-9]+\s*(B|KiB|MiB|GiB)?$`}
	case ratioType:
		return "fraction", map[string]any{"type": []string{"number", "string"}, "pattern": `^\s*[0-9.]+\s*%?$`}
	case hedgeDelayType:
		return "duration or pNN", map[string]any{"type": "string", "pattern": `^(p[0-9]+(\.[0-9]+)?|` + durationPattern[1:len(durationPattern)-1] + `)$`}
	case rawJSON:
		return "any", map[string]any{}
	case sourceType:
		return "source", g.source(path)
	case hedgeType: // the delay alone, or the mapping
		obj := g.object(t, path, kinds)
		_, delay := g.schema(hedgeDelayType, path, kinds)
		return "duration, pNN or mapping", map[string]any{"anyOf": []any{delay, obj}}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return g.schema(t.Elem(), path, kinds)
	case reflect.String: // any scalar is read as its text: default: 2 is "2"
		return "string", map[string]any{"type": []string{"string", "number", "boolean"}}
	case reflect.Int, reflect.Int64:
		return "integer", map[string]any{"type": "integer"}
	case reflect.Float64:
		return "number", map[string]any{"type": "number"}
	case reflect.Bool:
		return "boolean", map[string]any{"type": "boolean"}
	case reflect.Slice:
		typ, items := g.schema(t.Elem(), path+"[]", kinds)
		return "list of " + typ, map[string]any{"type": "array", "items": items}
	case reflect.Map:
		typ, items := g.schema(t.Elem(), path+".NAME", kinds)
		return "map of " + typ, map[string]any{"type": "object", "additionalProperties": items}
	case reflect.Struct:
		return "mapping", g.object(t, path, kinds)
	}
	panic(fmt.Sprintf("reference: no schema for %s at %s", t, path))
}

// source is a source's schema: the fields every kind takes, and each
// kind's own, which apply only with that kind.
func (g *gen) source(path string) map[string]any {
	s := g.object(sourceType, path, nil)
	props := s["properties"].(map[string]any)
	props["kind"].(map[string]any)["enum"] = slices.Sorted(maps.Keys(kinds))
	byType := map[reflect.Type][]string{} // openai and anthropic share LLM
	for _, k := range slices.Sorted(maps.Keys(kinds)) {
		byType[reflect.TypeOf(kinds[k]()).Elem()] = append(byType[reflect.TypeOf(kinds[k]()).Elem()], k)
	}
	for _, t := range slices.SortedFunc(maps.Keys(byType), func(a, b reflect.Type) int { return strings.Compare(a.Name(), b.Name()) }) {
		for name, p := range g.object(t, path, byType[t])["properties"].(map[string]any) {
			props[name] = p
		}
	}
	return s
}

// durationPattern is a Go duration: 300ms, 2s, 1m30s.
const durationPattern = `^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`

var defaultSentence = regexp.MustCompile(`Default(?: [a-z][^:.]*)?:? ([^.]*(?:\.[0-9a-z][^.]*)*)\.`)

// defaultIn is what a doc comment says the default is, or "".
func defaultIn(doc string) string {
	if m := defaultSentence.FindStringSubmatch(doc); m != nil {
		return strings.TrimLeft(m[0][len("Default"):len(m[0])-1], ": ")
	}
	return ""
}

// fieldDocs reads the doc comments of the package's struct fields from
// its source, by type and field name.
func fieldDocs(t *testing.T) map[string]map[string]string {
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	docs := map[string]map[string]string{}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			ts, ok := n.(*ast.TypeSpec)
			if !ok {
				return true
			}
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				return true
			}
			docs[ts.Name.Name] = map[string]string{}
			var group string // a comment above several fields, each without its own, is theirs
			for _, fl := range st.Fields.List {
				text := strings.Join(strings.Fields(fl.Doc.Text()), " ")
				if text == "" && fl.Comment != nil {
					text = strings.Join(strings.Fields(fl.Comment.Text()), " ")
				}
				if text != "" {
					group = text
				}
				for _, id := range fl.Names {
					docs[ts.Name.Name][id.Name] = group
				}
			}
			return true
		})
	}
	return docs
}

// referenceMarkdown is docs/config.md.
func referenceMarkdown(fields []field) string {
	var b strings.Builder
	b.WriteString(`# Configuration reference

Every field of ` + "`highway.yaml`" + `, made from the config types themselves
(` + "`internal/config`" + `: their YAML names, types and doc comments) by
` + "`go test ./internal/config -run TestReferenceAndSchemaAreCurrent -update`" + `;
the suite fails when this file and the code differ. The same walk makes the
JSON Schema that ` + "`highway schema`" + ` prints, for editors.

Types: a *duration* is Go's (` + "`300ms`, `2s`, `1m30s`" + `); a *size* is bytes
(` + "`1048576`" + `) or with a binary unit (` + "`512KiB`, `16MiB`, `1GiB`" + `); a
*fraction* is ` + "`0.05`" + ` or ` + "`5%`" + `; *any* is JSON written as YAML. ` + "`NAME`" + ` stands
for a name you choose (a source's, a parameter's), ` + "`[]`" + ` for each item of
a list. ` + "`${VAR}`" + ` in any value is taken from the environment
(` + "`${VAR:-default}`" + ` when it may be unset). A source field marked with
kinds applies only to sources of those kinds; the others apply to every
kind.

| field | type | kinds | default | meaning |
| --- | --- | --- | --- | --- |
`)
	for _, f := range fields {
		kinds := "all"
		if f.kinds != nil {
			kinds = strings.Join(f.kinds, ", ")
		} else if !strings.HasPrefix(f.path, "sources.") {
			kinds = ""
		}
		def := f.def
		if def == "" {
			def = "–"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", f.path, f.typ, kinds, cell(def), cell(f.doc))
	}
	return b.String()
}

// cell is text fit for a Markdown table cell.
func cell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// The schema accepts every config the project ships (the embedded
// default, the examples, the benchmark's and the deployments'), and
// refuses what strict decoding refuses: an unknown field, a field's wrong
// type, an unknown kind.
func TestTheSchemaChecksConfigsAsHighwayDoes(t *testing.T) {
	c := jsonschema.NewCompiler()
	var doc any
	if err := json.Unmarshal(Schema(), &doc); err != nil {
		t.Fatal(err)
	}
	if err := c.AddResource("schema.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("schema.json")
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("../../examples/*.yaml")
	for _, glob := range []string{"../../examples/*/*.yaml", "../../bench/config/*.yaml", "../../deploy/compose/*.yaml"} {
		more, _ := filepath.Glob(glob)
		files = append(files, more...)
	}
	files = append(files, "default.yaml")
	if len(files) < 5 {
		t.Fatalf("found only %v", files)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := sch.Validate(yamlValue(t, b)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	for _, bad := range []string{
		"sources: {a: {kind: mock, latncy: 1s}}",
		"sources: {a: {kind: mock, latency: 3}}",
		"sources: {a: {kind: grpc}}",
		"routes: [{path: /r, sources: a}]",
		"listen: [1]",
	} {
		if sch.Validate(yamlValue(t, []byte(bad))) == nil {
			t.Errorf("the schema accepts %s", bad)
		}
	}
}

// yamlValue is YAML as the JSON value a schema checks, as an editor reads it.
func yamlValue(t *testing.T, b []byte) any {
	var v any
	if err := yaml.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	j, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		t.Fatal(err)
	}
	return out
}
