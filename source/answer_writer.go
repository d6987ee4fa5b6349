package source

import "encoding/json"

// StreamWriter feeds a streaming answer, for a source of one's own that
// streams (Highway's chat lanes use it the same way): Token for each
// piece of text, Begin for content that is not text (a tool call
// arriving), then End once. Its methods must be called from one goroutine
// at a time, and nothing after End.
type StreamWriter struct{ a *Answer }

// NewStream returns an answer from the source named from that streams
// what is written to w, and w. The answer begins at its first token (or
// Begin), and ends at End.
func NewStream(from string) (*Answer, *StreamWriter) {
	a := newStream(from)
	return a, &StreamWriter{a}
}

// Token streams one piece of text.
func (w *StreamWriter) Token(text string) { w.a.add(text) }

// Begin marks the answer begun by content that is not text.
func (w *StreamWriter) Begin() { w.a.begin() }

// End ends the answer with its value and usage (nil for none), or with
// err.
func (w *StreamWriter) End(v json.RawMessage, u *Usage, err error) { w.a.end(v, u, err) }
