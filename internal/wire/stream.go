package wire

import (
	"encoding/json"
	"time"
)

// Stream turns a provider's stream, event by event, into the client's:
// passed through as it came when both speak one dialect, translated
// otherwise. It can go on from another provider's stream (Resume), which
// reads on as the same answer. A Stream is used by one goroutine.
type Stream struct {
	// To is the client's dialect; IncludeUsage says an OpenAI client
	// asked for the usage chunk.
	to           Dialect
	includeUsage bool
	// model is the model the answer says it is from: the first
	// provider's name for it, or the one given when it says none.
	model string

	from    Dialect // the provider's, for the part being read
	pass    bool    // events go out as they came
	started bool    // the client has had the answer's start
	first   bool    // the next event is the part's first
	created int64
	id      string

	// Anthropic's content blocks: the open one (-1 for none), its kind,
	// and the block of each of the part's tool calls, by its index.
	blocks    int
	open      int
	openText  bool
	toolBlock map[int]int
	// OpenAI's tool calls: the client's index of each, by the part's.
	toolIndex map[int]int
	tools     int

	finish      string
	usage, sums Usage // this part's, and the parts' before it
	ended       bool
}

// NewStream is a translator into dialect to of a stream from dialect
// from, answering as model.
func NewStream(from, to Dialect, model string, includeUsage bool) *Stream {
	s := &Stream{to: to, includeUsage: includeUsage || to == Anthropic, model: model, created: time.Now().Unix(), open: -1}
	s.part(from)
	s.pass = from == to
	return s
}

// part starts reading a provider's part of the answer.
func (s *Stream) part(from Dialect) {
	s.from, s.first = from, true
	s.toolBlock, s.toolIndex = map[int]int{}, map[int]int{}
	s.sums.InputTokens += s.usage.InputTokens
	s.sums.OutputTokens += s.usage.OutputTokens
	s.usage = Usage{}
}

// Resume goes on with the stream of another provider, in dialect from,
// as the same answer: its start is not repeated, its text continues the
// text so far, and its usage adds to what came before. cut is what the
// part before it spent as far as Highway knows (its estimate of a stream
// cut before its provider said its usage): what the provider did not
// report is taken from it, so that the usage the client is told counts
// both providers, as its budget does.
func (s *Stream) Resume(from Dialect, cut Usage) {
	if s.usage.InputTokens == 0 {
		s.usage.InputTokens = cut.InputTokens
	}
	if s.usage.OutputTokens == 0 {
		s.usage.OutputTokens = cut.OutputTokens
	}
	s.part(from)
	s.pass = false // the events' indices and start are the new part's own
}

// Usage is the answer's usage so far, every part's.
func (s *Stream) Usage() Usage {
	return Usage{InputTokens: s.sums.InputTokens + s.usage.InputTokens, OutputTokens: s.sums.OutputTokens + s.usage.OutputTokens}
}

// Translate is what the client is sent for e, the provider's next
// event: nothing, e itself, or its translation. A provider's in-band
// error is returned as its *StreamFailure (write it with Fail), a
// malformed event as a *FieldError.
func (s *Stream) Translate(e Event) ([]Event, error) {
	var ds []delta
	var err error
	if s.from == OpenAI {
		ds, err = decodeOpenAI(e, s.first)
	} else {
		ds, err = decodeAnthropic(e)
	}
	if err != nil {
		return nil, err
	}
	s.first = false
	var out []Event
	for _, d := range ds {
		if d.fail != nil {
			return out, d.fail
		}
		out = append(out, s.encode(d)...)
	}
	if s.pass && !s.dropped(ds) {
		return []Event{e}, nil
	}
	return out, nil
}

// dropped says a passed-through event is one the client does not get:
// the usage chunk Highway asked for on an OpenAI client's behalf.
func (s *Stream) dropped(ds []delta) bool {
	if s.to != OpenAI || s.includeUsage {
		return false
	}
	for _, d := range ds {
		if d.usage == nil {
			return false
		}
	}
	return len(ds) > 0
}

// Done reports whether the stream reached its end marker.
func (s *Stream) Done() bool { return s.ended }

// encode is the client's events for d, updating what they have been
// told.
func (s *Stream) encode(d delta) []Event {
	switch {
	case d.start:
		if d.id != "" && s.id == "" {
			s.id = d.id
		}
		if d.model != "" && !s.started {
			s.model = d.model // the provider's own name for what answered
		}
		if d.usage != nil {
			s.usage.InputTokens = d.usage.InputTokens
		}
		if s.started {
			return nil
		}
		s.started = true
		return s.start()
	case d.text != "":
		return append(s.ensureStarted(), s.text(d.text)...)
	case d.tool != nil:
		return append(s.ensureStarted(), s.toolCall(d.tool)...)
	case d.finish != "":
		s.finish = d.finish
		if s.to == OpenAI {
			return []Event{s.chunk(map[string]any{}, d.finish)}
		}
		return s.closeBlock()
	case d.usage != nil:
		if d.usage.InputTokens > 0 {
			s.usage.InputTokens = d.usage.InputTokens
		}
		if d.usage.OutputTokens > 0 {
			s.usage.OutputTokens = d.usage.OutputTokens
		}
		return nil
	case d.done:
		s.ended = true
		return s.end()
	}
	return nil
}

func (s *Stream) ensureStarted() []Event {
	if s.started {
		return nil
	}
	s.started = true
	return s.start()
}

// start is the answer's first events.
func (s *Stream) start() []Event {
	if s.to == OpenAI {
		return []Event{s.chunk(map[string]any{"role": "assistant", "content": ""}, "")}
	}
	return []Event{anthropicEventOf("message_start", map[string]any{"message": map[string]any{
		"id": s.messageID(), "type": "message", "role": "assistant", "model": s.model, "content": []any{},
		"stop_reason": nil, "stop_sequence": nil, "usage": map[string]int{"input_tokens": s.usage.InputTokens, "output_tokens": 0}}})}
}

func (s *Stream) text(t string) []Event {
	if s.to == OpenAI {
		return []Event{s.chunk(map[string]any{"content": t}, "")}
	}
	var out []Event
	if s.open < 0 || !s.openText {
		out = append(s.closeBlock(), s.openBlock(true, map[string]any{"type": "text", "text": ""}))
	}
	return append(out, anthropicEventOf("content_block_delta", map[string]any{"index": s.open,
		"delta": map[string]any{"type": "text_delta", "text": t}}))
}

func (s *Stream) toolCall(t *toolDelta) []Event {
	if s.to == OpenAI {
		call := map[string]any{}
		i, known := s.toolIndex[t.index]
		if !known {
			i = s.tools
			s.toolIndex[t.index] = i
			s.tools++
		}
		call["index"] = i
		if t.id != "" || t.name != "" {
			call["id"], call["type"] = t.id, "function"
			call["function"] = map[string]string{"name": t.name, "arguments": ""}
		} else {
			call["function"] = map[string]string{"arguments": t.args}
		}
		return []Event{s.chunk(map[string]any{"tool_calls": []any{call}}, "")}
	}
	if t.id != "" || t.name != "" {
		out := append(s.closeBlock(), s.openBlock(false, map[string]any{"type": "tool_use", "id": t.id, "name": t.name, "input": map[string]any{}}))
		s.toolBlock[t.index] = s.open
		return out
	}
	b, known := s.toolBlock[t.index]
	if !known {
		return nil // arguments of a call that never started: nothing to put them in
	}
	return []Event{anthropicEventOf("content_block_delta", map[string]any{"index": b,
		"delta": map[string]any{"type": "input_json_delta", "partial_json": t.args}})}
}

func (s *Stream) openBlock(text bool, block map[string]any) Event {
	s.open, s.openText = s.blocks, text
	s.blocks++
	return anthropicEventOf("content_block_start", map[string]any{"index": s.open, "content_block": block})
}

func (s *Stream) closeBlock() []Event {
	if s.open < 0 {
		return nil
	}
	e := anthropicEventOf("content_block_stop", map[string]any{"index": s.open})
	s.open = -1
	return []Event{e}
}

// end is the answer's last events, at the provider's end marker.
func (s *Stream) end() []Event {
	u := s.Usage()
	if s.to == OpenAI {
		var out []Event
		if s.includeUsage {
			b, _ := json.Marshal(map[string]any{"id": s.chunkID(), "object": "chat.completion.chunk", "created": s.created, "model": s.model,
				"choices": []any{}, "usage": openAIUsage(u)})
			out = append(out, Event{Data: b})
		}
		return append(out, Event{Data: []byte("[DONE]")})
	}
	// The input tokens go in message_delta as well as message_start, as
	// Anthropic's API now sends them (and its SDK reads them there): from
	// an OpenAI provider they are known only at its end.
	out := s.closeBlock()
	return append(out,
		anthropicEventOf("message_delta", map[string]any{"delta": map[string]any{"stop_reason": stopFromOpenAI(orStop(s.finish)), "stop_sequence": nil},
			"usage": map[string]int{"input_tokens": u.InputTokens, "output_tokens": u.OutputTokens}}),
		anthropicEventOf("message_stop", map[string]any{}))
}

// Fail is the client's event for a stream that failed mid-way: an
// OpenAI error chunk (its SDKs raise it; no [DONE] follows) or an
// Anthropic error event. typ is the error's type in the client's
// dialect.
func (s *Stream) Fail(typ, message string) Event {
	if s.to == OpenAI {
		b, _ := json.Marshal(map[string]any{"error": map[string]any{"message": message, "type": typ, "param": nil, "code": nil}})
		return Event{Data: b}
	}
	return anthropicEventOf("error", map[string]any{"error": map[string]string{"type": typ, "message": message}})
}

func orStop(f string) string {
	if f == "" {
		return "stop"
	}
	return f
}

func (s *Stream) chunk(delta map[string]any, finish string) Event {
	choice := map[string]any{"index": 0, "delta": delta, "finish_reason": nil}
	if finish != "" {
		choice["finish_reason"] = finish
	}
	b, _ := json.Marshal(map[string]any{"id": s.chunkID(), "object": "chat.completion.chunk", "created": s.created,
		"model": s.model, "choices": []any{choice}})
	return Event{Data: b}
}

func (s *Stream) chunkID() string { return completionID(s.id) }

func (s *Stream) messageID() string { return messageID(s.id) }

func anthropicEventOf(name string, v map[string]any) Event {
	v["type"] = name
	b, _ := json.Marshal(v)
	return Event{Name: name, Data: b}
}

func openAIUsage(u Usage) map[string]int {
	return map[string]int{"prompt_tokens": u.InputTokens, "completion_tokens": u.OutputTokens, "total_tokens": u.InputTokens + u.OutputTokens}
}

// Switched is the event that tells the client, in the documented
// extension field "highway", that the answer goes on from another
// provider: an OpenAI chunk with no choices, or an Anthropic ping, which
// SDKs pass over, carrying {"resumed": {"from", "to", "reason"}}. Text
// before it came from the provider from; text after it, from to.
func (s *Stream) Switched(from, to, reason string) Event {
	ext := map[string]any{"resumed": map[string]string{"from": from, "to": to, "reason": reason}}
	if s.to == OpenAI {
		b, _ := json.Marshal(map[string]any{"id": s.chunkID(), "object": "chat.completion.chunk", "created": s.created,
			"model": s.model, "choices": []any{}, "highway": ext})
		return Event{Data: b}
	}
	return anthropicEventOf("ping", map[string]any{"highway": ext})
}
