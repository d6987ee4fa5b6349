package config

import (
	"maps"
	"reflect"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// decodeSource decodes a source's mapping: its kind first, which says
// what the kind's own fields are; then each field into Source or into the
// kind's Spec. A field of another kind is kept aside for validation to
// refuse ("not used by kind http"); a field of no kind is unknown, with
// the closest known name suggested.
func (d *decoder) decodeSource(n *yaml.Node, s *Source, path string) {
	if !d.expect(n, yaml.MappingNode, path, "a mapping of fields") {
		return
	}
	common := yamlFields(sourceType)
	v := reflect.ValueOf(s).Elem()
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "kind" {
			d.decode(n.Content[i+1], v.Field(common["kind"]), join(path, "kind"))
			break
		}
	}
	var spec reflect.Value
	var own map[string]int
	if mk := kinds[s.Kind]; mk != nil {
		s.Spec = mk()
		spec = reflect.ValueOf(s.Spec).Elem()
		own = yamlFields(spec.Type())
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		p := join(path, k.Value)
		if seen[k.Value] {
			d.fail(k, p, "field given twice")
			continue
		}
		seen[k.Value] = true
		if idx, ok := common[k.Value]; ok {
			if k.Value != "kind" {
				d.decode(val, v.Field(idx), p)
			}
			continue
		}
		if idx, ok := own[k.Value]; ok {
			d.decode(val, spec.Field(idx), p)
			continue
		}
		if kindField(k.Value) {
			d.pos[p] = position{val.Line, val.Column}
			s.unused = append(s.unused, p)
			continue
		}
		known := maps.Clone(common)
		for name := range allKindFields() {
			known[name] = 0
		}
		d.fail(k, p, "unknown field %q (%sknown fields: %s)", k.Value, suggest(k.Value, known), strings.Join(slices.Sorted(maps.Keys(known)), ", "))
	}
}

// allKindFields are the names of every kind's own fields.
func allKindFields() map[string]int {
	all := map[string]int{}
	for _, mk := range kinds {
		maps.Copy(all, yamlFields(reflect.TypeOf(mk()).Elem()))
	}
	return all
}

// kindField reports whether name is a field of some kind of source.
func kindField(name string) bool {
	_, ok := allKindFields()[name]
	return ok
}
