package source

import (
	"encoding/json"
	"errors"
)

// encodedAnswer is a streamed (or LLM) answer as a shared cache keeps it.
type encodedAnswer struct {
	From    string          `json:"from,omitempty"`
	Dialect Dialect         `json:"dialect,omitempty"`
	Tokens  []string        `json:"tokens,omitempty"`
	Events  []Event         `json:"events,omitempty"`
	Value   json.RawMessage `json:"value"`
	Usage   *Usage          `json:"usage,omitempty"`
}

// errArriving is the error of encoding an answer that has not ended.
var errArriving = errors.New("answer still arriving")

// MarshalBinary encodes an answer that has ended well, for a cache that
// other processes share: a whole answer without usage as its JSON itself
// (what earlier releases stored); one with tokens or usage as a zero byte,
// which no JSON begins with, then its from, dialect, tokens, events,
// value and usage.
func (a *Answer) MarshalBinary() ([]byte, error) {
	if a.head != nil || !a.ended() {
		return nil, errArriving
	}
	if a.err != nil {
		return nil, a.err
	}
	if a.s == nil && a.usage == nil {
		return a.value, nil
	}
	e := encodedAnswer{From: a.from, Dialect: a.dialect, Value: a.value, Usage: a.usage}
	if a.s != nil {
		e.Tokens, e.Events = a.s.tokens, a.s.events // ended: they change no more
	}
	b, err := json.Marshal(e)
	return append([]byte{0}, b...), err
}

// UnmarshalBinary decodes what MarshalBinary encoded into a, which must
// be a zero Answer: an answer that has ended, whose tokens (if it
// streamed) are replayed to each of its readers from the first.
func (a *Answer) UnmarshalBinary(b []byte) error {
	if len(b) == 0 || b[0] != 0 {
		if !json.Valid(b) {
			return ErrNotJSON
		}
		a.value = append(json.RawMessage(nil), b...)
		return nil
	}
	var e encodedAnswer
	if err := json.Unmarshal(b[1:], &e); err != nil {
		return err
	}
	a.from, a.dialect, a.value, a.usage = e.From, e.Dialect, e.Value, e.Usage
	if len(e.Tokens) > 0 || len(e.Events) > 0 {
		s := &stream{tokens: e.Tokens, events: e.Events, ended: true, started: true}
		for _, t := range e.Tokens {
			s.bytes += len(t)
		}
		for _, ev := range e.Events {
			s.bytes += len(ev.Data)
		}
		a.s = s
	}
	return nil
}
