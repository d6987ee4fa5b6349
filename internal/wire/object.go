package wire

import (
	"bytes"
	"encoding/json"
	"errors"
)

// object is a JSON object's members in the order written, each value as
// its bytes: a request passed through keeps every field, known or not,
// as the client wrote it, whatever is set on it.
type object []member

type member struct {
	key   string
	value json.RawMessage
}

var errNotObject = errors.New("want a JSON object")

// parseObject reads b, which must be one JSON object with no key twice.
func parseObject(b []byte) (object, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, errNotObject
	}
	var o object
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key := t.(string) // inside an object, a token before a value is its key
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		if seen[key] {
			return nil, fieldErr(key, "given twice")
		}
		seen[key] = true
		o = append(o, member{key, v})
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err == nil {
		return nil, errors.New("more after the JSON object")
	}
	return o, nil
}

// get is key's value, nil when there is none.
func (o object) get(key string) json.RawMessage {
	for _, m := range o {
		if m.key == key {
			return m.value
		}
	}
	return nil
}

// set gives key the value v encodes, in its place or at the end.
func (o *object) set(key string, v any) {
	raw, ok := v.(json.RawMessage)
	if !ok {
		raw, _ = json.Marshal(v) // what is set here is Highway's own: it encodes
	}
	for i, m := range *o {
		if m.key == key {
			(*o)[i].value = raw
			return
		}
	}
	*o = append(*o, member{key, raw})
}

// del removes key.
func (o *object) del(key string) {
	for i, m := range *o {
		if m.key == key {
			*o = append((*o)[:i], (*o)[i+1:]...)
			return
		}
	}
}

// encode writes the object.
func (o object) encode() []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(m.key)
		b.Write(k)
		b.WriteByte(':')
		b.Write(m.value)
	}
	b.WriteByte('}')
	return b.Bytes()
}
