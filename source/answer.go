package source

import (
	"context"
	"encoding/json"
	"iter"
	"sync"
	"time"
)

// Answer is what one call of a source answered: a JSON value and, for a
// chat lane, its typed Usage. From most sources it is whole when the call
// returns. From a streaming chat lane it is still arriving: the call
// returns at its first token, and the rest streams in under the call's
// context, which must stay alive until the answer has ended (cancelling
// it ends the answer with the context's error). The rest is read from the
// upstream as the answer is read: whichever reader (or Value) wants the
// next token reads it, on its own goroutine, while the others wait for it,
// so an open stream costs no goroutine of its own.
//
// Any number of readers may read one answer at once, each at its own pace
// and each from its first token (Tokens): a reader that comes late is
// given what has arrived already, and one slow reader holds no other
// back. Value waits for the end. That is how a coalesced stream is shared
// and how a cached one is replayed.
//
// An answer may go on as another (Then): a lane that fails over mid-stream
// reads as the first provider's tokens, then the next one's.
//
// An Answer is safe for concurrent use; make one with Whole, or get one
// from a source. Its readers must not change what it hands them.
type Answer struct {
	from    string
	dialect Dialect // the provider's, for the answer to a Chat; 0 otherwise
	s       *stream // nil for an answer whole from the start
	value   json.RawMessage
	usage   *Usage
	err     error
	// An answer made by Then reads as head, then as what next gives.
	head *Answer
	cont *continuation
}

// Usage is what an LLM answer cost in tokens, the same for every
// provider: OpenAI's prompt and completion tokens, Anthropic's input and
// output tokens.
type Usage struct {
	InputTokens  int  `json:"input_tokens"`
	OutputTokens int  `json:"output_tokens"`
	Estimated    bool `json:"estimated,omitempty"` // counted from what arrived: the provider gave none
}

// Whole is the answer v, complete at once.
func Whole(v json.RawMessage) *Answer { return &Answer{value: v} }

// stream is a streaming answer's tokens so far and its end. mu guards
// every field but start and pump.
type stream struct {
	start time.Time
	// pump, when set, reads some more of the stream from its upstream
	// (a line), adding what it carries and ending the answer at its end.
	// One caller at a time runs it (pumping), the one that wants more;
	// nil for a stream written to (StreamWriter).
	pump    func()
	mu      sync.Mutex
	pumping bool
	// tokens only grows: a reader takes a slice of it under mu and reads
	// it after, since what is below its length never changes.
	tokens []string
	// events, for the answer to a Chat, are the provider's stream as it
	// sent it, event by event; they only grow, as tokens do.
	events  []Event
	bytes   int
	more    chan struct{} // made by a reader that waits; closed by the next token, the pump's turn ending, or the end
	started bool          // its first token (or a tool call) came
	ended   bool
	took    time.Duration
	afters  []func(error)
}

// newStream is an answer from the source named from that is about to
// stream.
func newStream(from string) *Answer {
	return &Answer{from: from, s: &stream{start: time.Now()}}
}

// add appends one token of text.
func (a *Answer) add(text string) {
	s := a.s
	s.mu.Lock()
	s.tokens = append(s.tokens, text)
	s.bytes += len(text)
	s.started = true
	more := s.more
	s.more = nil
	s.mu.Unlock()
	if more != nil {
		close(more)
	}
}

// addEvent appends one event of the provider's stream.
func (a *Answer) addEvent(e Event) {
	s := a.s
	s.mu.Lock()
	s.events = append(s.events, e)
	s.bytes += len(e.Data)
	more := s.more
	s.more = nil
	s.mu.Unlock()
	if more != nil {
		close(more)
	}
}

// record keeps one event of the provider's stream, for the answer to a
// Chat: its readers relay it.
func (a *Answer) record(name string, data string) {
	if a.dialect != 0 {
		a.addEvent(Event{Name: name, Data: []byte(data)})
	}
}

// begin marks the answer begun by content that is not text (a tool call
// arriving).
func (a *Answer) begin() {
	a.s.mu.Lock()
	a.s.started = true
	a.s.mu.Unlock()
}

// begun reports whether the answer's first token (or a tool call) came.
func (a *Answer) begun() bool {
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	return a.s.started
}

// advance moves the stream on, on the caller's goroutine: it pumps when
// the stream is pumped and nobody else is pumping it, else it waits until
// a token comes, the one pumping has had its turn, or the stream ends. It
// reports false when ctx ended first. A pump's read is bounded by the
// stream's own context, not the caller's.
func (s *stream) advance(ctx context.Context) bool {
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return true
	}
	if s.pump != nil && !s.pumping {
		s.pumping = true
		s.mu.Unlock()
		s.pump()
		s.mu.Lock()
		s.pumping = false
		more := s.more // those who waited for this turn: one of them pumps next
		s.more = nil
		s.mu.Unlock()
		if more != nil {
			close(more)
		}
		return true
	}
	if s.more == nil {
		s.more = make(chan struct{})
	}
	more := s.more
	s.mu.Unlock()
	select {
	case <-more:
		return true
	case <-ctx.Done():
		return false
	}
}

// drain advances the stream to its end, whatever the context: for a
// stream whose context has ended, so that it ends though nobody reads it.
func (s *stream) drain() {
	for !s.isEnded() {
		s.advance(context.Background())
	}
}

func (s *stream) isEnded() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ended
}

// end ends the answer with its value and usage, or with err. Only the
// streaming goroutine calls it, once.
func (a *Answer) end(v json.RawMessage, u *Usage, err error) {
	s := a.s
	s.mu.Lock()
	a.value, a.usage, a.err = v, u, err
	s.ended, s.took = true, time.Since(s.start)
	more, afters := s.more, s.afters
	s.more, s.afters = nil, nil
	s.mu.Unlock()
	// What waits for the end (AfterEnd: a cache keeping the answer, a
	// limit's place) is done before the readers waiting are woken, so
	// that the next call after Value finds it done.
	for _, f := range afters {
		f(err)
	}
	if more != nil {
		close(more)
	}
}

// From is the name of the source that streamed the answer, or that gave
// the whole answer to a Chat ("" for any other whole from the start): the
// name its tokens go out under.
func (a *Answer) From() string {
	if a.head != nil {
		return a.head.From()
	}
	return a.from
}

// Tokens are the answer's text as it streamed, token by token from the
// first, each yielded once it has arrived; they end at the answer's end
// (for an answer made by Then, its first part's), or when ctx does. A
// whole answer has none.
func (a *Answer) Tokens(ctx context.Context) iter.Seq[string] {
	if a.head != nil {
		return a.head.Tokens(ctx)
	}
	return each(ctx, a.s, func(s *stream) []string { return s.tokens })
}

// Events are the provider's stream as it sent it, for the answer to a
// Chat that streamed: each event from the first, yielded once it has
// arrived, ending as Tokens do. Any other answer has none.
func (a *Answer) Events(ctx context.Context) iter.Seq[Event] {
	if a.head != nil {
		return a.head.Events(ctx)
	}
	return each(ctx, a.s, func(s *stream) []Event { return s.events })
}

// EventBatches are Events in the batches they arrived in: each batch the
// events read from the provider at once (what it sent together), so that
// a relay writes and flushes a batch once rather than each event. A batch
// is the answer's own and must not be changed.
func (a *Answer) EventBatches(ctx context.Context) iter.Seq[[]Event] {
	if a.head != nil {
		return a.head.EventBatches(ctx)
	}
	return batches(ctx, a.s, func(s *stream) []Event { return s.events })
}

// Dialect is the dialect of the provider that answered a Chat (its
// value, or its stream's events, are in it); 0 for an answer to any other
// call. An answer made by Then says its first part's.
func (a *Answer) Dialect() Dialect {
	if a.head != nil {
		return a.head.Dialect()
	}
	return a.dialect
}

// each yields what list gives of s (a list that only grows, read under
// s.mu) from the first, as it arrives.
func each[T any](ctx context.Context, s *stream, list func(*stream) []T) iter.Seq[T] {
	return func(yield func(T) bool) {
		for batch := range batches(ctx, s, list) {
			for _, t := range batch {
				if !yield(t) {
					return
				}
			}
		}
	}
}

// batches yields what list gives of s from the first, as it arrives: all
// that has arrived and not been yielded, at once.
func batches[T any](ctx context.Context, s *stream, list func(*stream) []T) iter.Seq[[]T] {
	return func(yield func([]T) bool) {
		if s == nil {
			return
		}
		for i := 0; ; {
			batch, ok := after(ctx, s, i, list)
			if !ok || !yield(batch) {
				return
			}
			i += len(batch)
		}
	}
}

// after is what list gives from the i-th on, moving the stream on for
// one if there is none yet; false once the answer has ended with no more,
// or ctx has.
func after[T any](ctx context.Context, s *stream, i int, list func(*stream) []T) ([]T, bool) {
	for {
		s.mu.Lock()
		if l := list(s); i < len(l) {
			batch := l[i:len(l):len(l)]
			s.mu.Unlock()
			return batch, true
		}
		if s.ended {
			s.mu.Unlock()
			return nil, false
		}
		s.mu.Unlock()
		if ctx.Err() != nil || !s.advance(ctx) {
			return nil, false
		}
	}
}

// Value waits for the answer's end and is its JSON value, or the error it
// failed with; ctx's error if ctx ends first. An answer made by Then is
// the value of its last part.
func (a *Answer) Value(ctx context.Context) (json.RawMessage, error) {
	if a.head != nil {
		next, err := a.Next(ctx)
		switch {
		case err != nil:
			return nil, err
		case next != nil:
			return next.Value(ctx)
		case a.cont.failed != nil:
			return nil, a.cont.failed
		}
		return a.head.Value(ctx)
	}
	last, err := a.last(ctx)
	if err != nil {
		return nil, err
	}
	return last.value, last.err
}

// last waits for the answer's end and is the part it ended with.
func (a *Answer) last(ctx context.Context) (*Answer, error) {
	if a.head != nil {
		next, err := a.Next(ctx)
		switch {
		case err != nil:
			return nil, err
		case next == nil:
			return a.head.last(ctx)
		}
		return next.last(ctx)
	}
	for !a.ended() {
		if ctx.Err() != nil || !a.s.advance(ctx) {
			return nil, ctx.Err()
		}
	}
	return a, nil
}

// Err is the error the answer's own part ended with (for one made by
// Then, its first part's, whatever came after it); nil while it is still
// arriving.
func (a *Answer) Err() error {
	if a.head != nil {
		return a.head.Err()
	}
	if !a.ended() {
		return nil
	}
	return a.err
}

// Took is how long the answer's own part took to stream, from its call
// to its end; 0 for an answer whole from the start, or still arriving.
func (a *Answer) Took() time.Duration {
	if a.head != nil {
		return a.head.Took()
	}
	if a.s == nil || !a.ended() {
		return 0
	}
	return a.s.took
}

// Usage is the answer's typed usage once it has ended (for one made by
// Then, its last part's); false while it is still arriving, or for an
// answer that says none (one that is not an LLM's).
func (a *Answer) Usage() (Usage, bool) {
	last, err := a.last(doneContext)
	if err != nil || last.usage == nil {
		return Usage{}, false
	}
	return *last.usage, true
}

// doneContext is a context that has ended: waiting on it only looks.
var doneContext = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

// ended reports whether a leaf answer has ended: true from the moment it
// did, for what AfterEnd runs too.
func (a *Answer) ended() bool {
	if a.s == nil {
		return true
	}
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	return a.s.ended
}

// Size is what the answer holds in bytes, its tokens and its value, for
// a cache's weight.
func (a *Answer) Size() int {
	n := len(a.value)
	if a.s != nil {
		a.s.mu.Lock()
		n += a.s.bytes
		a.s.mu.Unlock()
	}
	return n
}

// Arrived reports whether the answer has ended already (for one made by
// Then, all of it). It makes an Answer a policy.Arriving, with AfterEnd.
func (a *Answer) Arrived() bool {
	if a.head != nil {
		select {
		case <-a.cont.decided:
			return a.cont.next == nil || a.cont.next.Arrived()
		default:
			return false
		}
	}
	return a.ended()
}

// AfterEnd calls f once the answer has ended, with the error it ended
// with (nil for a success): at once if it has. f runs on the goroutine
// that ended the answer and must return quickly. It makes an Answer a
// policy.Arriving.
func (a *Answer) AfterEnd(f func(err error)) {
	if a.head != nil {
		a.cont.afterEnd(f)
		return
	}
	if a.s != nil {
		a.s.mu.Lock()
		if !a.s.ended {
			a.s.afters = append(a.s.afters, f)
			a.s.mu.Unlock()
			return
		}
		a.s.mu.Unlock()
	}
	f(a.err)
}
