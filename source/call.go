package source

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"maps"
	"slices"
)

// Call is what one call of a source is asked: everything that decides
// the upstream request it sends. A nil *Call is a call with nothing in it.
type Call struct {
	// Params are the request's parameters by name, already validated.
	Params map[string]string
	// Body is the request's JSON body, sent by an HTTP source with
	// ForwardBody; nil when there is none.
	Body []byte
	// Needs are the answers of the source's needs by name, a fallback
	// standing in for a need that failed.
	Needs map[string]json.RawMessage
	// Chat, for an LLM source, is a client's conversation to send in
	// place of the source's prompts (see Chat); nil for none.
	Chat *Chat
}

// Key is the call's identity for caches and coalescing, the one place it
// is derived. Two calls with the same key send the same upstream request
// from any source (a source renders nothing but Params, Body, Needs and Chat);
// calls that differ in any of them have different keys. Params are
// written out whole, each name and value prefixed with its length so that
// no two sets of parameters run together; Body and Needs, which may be
// large, are represented by a SHA-256 of the same encoding, and a Chat by
// a SHA-256 of its request (the client's model aside: a source sends its
// own) and prefix. A call with nothing in it has the key "".
func (c *Call) Key() string {
	if c == nil || len(c.Params) == 0 && len(c.Body) == 0 && len(c.Needs) == 0 && c.Chat == nil {
		return ""
	}
	b := make([]byte, 0, 64)
	b = append(b, 'p')
	for _, k := range slices.Sorted(maps.Keys(c.Params)) {
		b = appendField(b, k)
		b = appendField(b, c.Params[k])
	}
	if len(c.Body) > 0 {
		sum := sha256.Sum256(c.Body)
		b = append(b, 'b')
		b = append(b, sum[:]...)
	}
	if len(c.Needs) > 0 {
		h := sha256.New()
		var field []byte
		for _, k := range slices.Sorted(maps.Keys(c.Needs)) {
			field = appendField(appendField(field[:0], k), string(c.Needs[k]))
			h.Write(field)
		}
		b = append(b, 'n')
		b = h.Sum(b)
	}
	if c.Chat != nil {
		sum := sha256.Sum256(c.Chat.key())
		b = append(b, 'c')
		b = append(b, sum[:]...)
	}
	return string(b)
}

// appendField appends s prefixed with its length.
func appendField(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func (c *Call) params() map[string]string {
	if c == nil {
		return nil
	}
	return c.Params
}

func (c *Call) needs() map[string]json.RawMessage {
	if c == nil {
		return nil
	}
	return c.Needs
}

func (c *Call) chat() *Chat {
	if c == nil {
		return nil
	}
	return c.Chat
}

func (c *Call) body() []byte {
	if c == nil {
		return nil
	}
	return c.Body
}
