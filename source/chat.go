package source

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	neturl "net/url"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/citypopy/highway/internal/routine"
	"github.com/citypopy/highway/internal/template"
)

// LLM is how a chat lane is configured, whatever its provider's wire
// format. Its fields must not change once the source is in use.
type LLM struct {
	// Name is the source's name, which its streamed answers are From.
	Name    string
	BaseURL string
	Model   string
	// APIKey is sent as the provider wants it and never appears in an error.
	APIKey string
	// System and User are the prompts sent: templates of the call's
	// parameters ({{.params.city}}) and needs' answers ({{.weather.temp}}).
	System, User string
	// MaxTokens caps the reply; 0 leaves it to the provider's default.
	MaxTokens int
	// Stream asks for the reply token by token: the call's Answer is
	// returned at the first and streams the rest (see Answer).
	Stream bool
	// FirstToken bounds the wait for a stream's first token; Stall the wait
	// between any two tokens after it. 0 means no bound beyond the source's
	// timeout.
	FirstToken, Stall time.Duration
	// HeaderTimeout bounds the wait for the provider's response headers;
	// 0 means no bound beyond the source's timeout.
	HeaderTimeout time.Duration
	// Prefill says the provider continues a reply whose start is the
	// last message, an assistant's (see Chat.Prefix).
	Prefill bool
	// MaxBytes limits the response; 0 means DefaultMaxBytes.
	MaxBytes int64
	// Transport sends each request once; redirects are not followed. nil
	// means a pool shared by every source without one (see NewTransport).
	Transport http.RoundTripper

	prompts prompts
}

// prepare makes the call to path under BaseURL of a provider speaking
// dialect, with its parsers: the call's Chat, if it has one, as that
// provider takes it; else l's prompts rendered into the provider's
// request body (built by request). The provider adds its headers.
func (l *LLM) prepare(call *Call, dialect Dialect, path string, request func(system, user string) any,
	whole func([]byte) (*chatReply, error), stream func(*tokenWatch, *Answer) lineParser) (*chatCall, error) {
	c := &chatCall{
		name: l.Name, transport: l.Transport, header: http.Header{},
		stream: l.Stream, first: l.FirstToken, stall: l.Stall, headers: l.HeaderTimeout, maxBytes: l.MaxBytes,
		readWhole: whole, parser: stream,
	}
	var err error
	if chat := call.chat(); chat != nil {
		c.dialect, c.stream = dialect, chat.Stream()
		if c.body, err = chat.body(dialect, l.Model, l.MaxTokens); err != nil {
			return nil, err
		}
		c.promptChars = len(c.body)
	} else {
		system, user, err := l.prompts.render(call, l.System, l.User)
		if err != nil {
			return nil, err
		}
		if c.body, err = json.Marshal(request(system, user)); err != nil {
			return nil, fmt.Errorf("encode request: %w", err)
		}
		c.promptChars = len(system) + len(user)
	}
	if c.url, err = endpoint(l.BaseURL, path); err != nil {
		return nil, err
	}
	return c, nil
}

// chatCall is one call to an LLM provider, whatever its wire format: the
// request is posted, a non-2xx answer becomes a StatusError with the
// provider's own message, and the answer is read whole or as a stream
// under the first-token and stall bounds.
type chatCall struct {
	name         string
	transport    http.RoundTripper
	url          string
	header       http.Header
	body         []byte
	stream       bool
	first, stall time.Duration
	headers      time.Duration // the header timeout; 0 for none
	maxBytes     int64
	readWhole    func(body []byte) (*chatReply, error)
	parser       func(w *tokenWatch, a *Answer) lineParser
	promptChars  int // for estimating the usage of an answer that gives none
	// dialect, for a call that sends a Chat, is the provider's: its
	// answer is the provider's own, whole body or events, in it.
	dialect Dialect
}

// do makes the call. A streamed answer is returned at its first token
// and streams on under ctx as it is read: see Answer.
func (c *chatCall) do(ctx context.Context) (*Answer, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(c.body))
	if err != nil {
		cancel(nil)
		return nil, fmt.Errorf("build request: %w", err)
	}
	req.Header = c.header
	req.Header.Set("Content-Type", "application/json")
	var watch *tokenWatch
	if c.stream {
		req.Header.Set("Accept", "text/event-stream")
		watch = newTokenWatch(c.first, c.stall, cancel)
	}
	resp, err := c.send(req, cancel)
	if err == nil && (resp.StatusCode < 200 || resp.StatusCode > 299) {
		err = &StatusError{Code: resp.StatusCode, Snippet: scrub(providerMessage(resp.Body), c.header), Wait: parseRetryAfter(resp.Header.Get("Retry-After"))}
		resp.Body.Close()
	} else if err != nil {
		err = &TransportError{Op: "POST " + redact(c.url), Err: unwrapURL(err)}
		if cause := ownCause(ctx); cause != nil {
			err = cause
		}
	}
	if err != nil {
		watch.stop()
		cancel(nil)
		return nil, err
	}
	limit := c.maxBytes
	if limit <= 0 {
		limit = DefaultMaxBytes
	}
	if !c.stream {
		defer cancel(nil)
		defer resp.Body.Close()
		reply, body, err := c.whole(resp.Body, limit)
		if err != nil {
			return nil, c.spent(ctx, err, nil)
		}
		a, err := c.answer(reply)
		if err == nil && c.dialect != 0 {
			a.value, a.dialect, a.from = body, c.dialect, c.name // the provider's own answer, for the client's dialect
		}
		return a, err
	}
	a := newStream(c.name)
	a.dialect = c.dialect
	// An SSE line is short: the buffer is 512 bytes, a longer line put
	// together past it (4 KiB cost 3 KB an open stream).
	sc := newLineReader(io.LimitReader(resp.Body, limit), 512, 1<<20)
	lines := c.parser(watch, a)
	var abandon func() bool
	finish := func(reply *chatReply, err error) {
		abandon()
		resp.Body.Close()
		watch.stop()
		if err == nil {
			var whole *Answer
			if whole, err = c.answer(reply); err == nil {
				a.end(whole.value, whole.usage, nil)
			}
		}
		if err != nil {
			a.end(nil, nil, c.spent(ctx, err, watch))
		}
		cancel(nil)
	}
	a.s.pump = func() {
		// Every line that has arrived, so that what came together is read
		// (and relayed) together.
		for {
			reply, done, err := lines.next(sc)
			if done {
				finish(reply, err)
				return
			}
			if !sc.ready() {
				return
			}
		}
	}
	// Nobody may read the answer once its context has ended (a client
	// gone, a lane cut off, a token timeout): it is read to its end then,
	// which the ended context makes quick, so that it ends all the same.
	abandon = context.AfterFunc(ctx, func() { a.s.drain() })
	for !a.begun() && !a.ended() {
		// The call's own goroutine reads up to the first token; ctx
		// ending ends the read, and with it the answer.
		a.s.advance(context.Background())
	}
	if err := a.Err(); !a.begun() && err != nil {
		return nil, err // it failed before its first token: nothing of it reached anyone
	}
	return a, nil
}

// send sends req, cancelling it (with cancel) when its response headers
// do not come within the header timeout.
func (c *chatCall) send(req *http.Request, cancel context.CancelCauseFunc) (*http.Response, error) {
	if c.headers > 0 {
		wait := c.headers
		t := time.AfterFunc(wait, func() {
			cancel(&StreamError{Kind: StreamHeaders, Reason: fmt.Sprintf("no response headers within %v (header timeout)", wait)})
		})
		defer t.Stop()
	}
	return send(c.transport, req)
}

// lineParser reads a provider's stream line by line: parse takes each
// line and says, at the end, the reply or why it failed; marker names the
// end a stream must reach.
type lineParser struct {
	marker string
	parse  func(line string) (reply *chatReply, done bool, err error)
}

// next reads and parses one line of sc: done at the stream's end, or when
// it cannot be read. A panic in parsing ends it too, as a failure.
func (p lineParser) next(sc *lineReader) (reply *chatReply, done bool, err error) {
	defer func() {
		if v := recover(); v != nil {
			reply, done, err = nil, true, &routine.PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	if line, ok := sc.line(); ok {
		return p.parse(line)
	}
	if err := sc.err; err != nil {
		return nil, true, &TransportError{Op: "read upstream stream", Err: err}
	}
	return nil, true, &StreamError{Kind: StreamEnded, Reason: "ended before " + p.marker}
}

// whole reads a whole answer of at most limit bytes: as the source
// answers it, and as the provider sent it.
func (c *chatCall) whole(body io.Reader, limit int64) (*chatReply, []byte, error) {
	b, err := io.ReadAll(io.LimitReader(body, limit+1))
	switch {
	case err != nil:
		return nil, nil, &TransportError{Op: "read upstream body", Err: err}
	case int64(len(b)) > limit:
		return nil, nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, limit)
	}
	reply, err := c.readWhole(b)
	return reply, b, err
}

// answer is reply as a whole answer, its usage estimated (and marked so)
// when the provider gave none.
func (c *chatCall) answer(reply *chatReply) (*Answer, error) {
	if reply.usage == nil {
		u := Usage{InputTokens: tokens(c.promptChars), OutputTokens: tokens(len(reply.Reply)), Estimated: true}
		reply.usage = &u
		reply.Usage, _ = json.Marshal(u)
	}
	v, err := json.Marshal(reply)
	if err != nil {
		return nil, err
	}
	return &Answer{value: v, usage: reply.usage}, nil
}

// spent is the error of a call that failed after its provider accepted
// it, with what it cost so far.
func (c *chatCall) spent(ctx context.Context, err error, watch *tokenWatch) error {
	if cause := ownCause(ctx); cause != nil {
		err = cause // a token timeout says more than the read error it caused
	}
	return &SpentError{Err: err, Usage: Usage{InputTokens: tokens(c.promptChars), OutputTokens: tokens(watch.streamed()), Estimated: true}}
}

// tokens estimates the tokens of chars characters: about four a token, as
// OpenAI's guidance has it for English.
func tokens(chars int) int { return (chars + 3) / 4 }

// SpentError is an LLM call that failed after its provider accepted it
// (answered 2xx): a stream cut, stalled or cancelled mid-way, an answer
// that could not be read. The provider bills what it processed all the
// same; Usage estimates it, about four characters a token: the prompt,
// and the content that streamed before the end.
type SpentError struct {
	Err   error
	Usage Usage
}

// Error is the failure's own message.
func (e *SpentError) Error() string { return e.Err.Error() }

// Unwrap returns the failure.
func (e *SpentError) Unwrap() error { return e.Err }

// StreamError is a streaming answer that went wrong mid-way: a stall, a
// malformed chunk, or a stream that ended early. Kind says which, for
// code; Reason says it for people.
type StreamError struct {
	Kind   StreamFault
	Reason string
}

// StreamFault is what went wrong with a stream.
type StreamFault int

// The ways a stream goes wrong. The zero value is a malformed stream.
const (
	StreamMalformed  StreamFault = iota // a chunk or event that does not parse
	StreamEnded                         // the stream ended before its end marker
	StreamInBand                        // the provider sent an error event in the stream
	StreamFirstToken                    // no first token within the first-token timeout
	StreamStall                         // no token within the stall timeout mid-stream
	StreamHeaders                       // no response headers within the header timeout
)

// Error describes the failure.
func (e *StreamError) Error() string { return "upstream stream: " + e.Reason }

// Retryable is true for a stall (before the headers, the first token or
// mid-way); a malformed stream is the upstream's bug.
func (e *StreamError) Retryable() bool {
	return e.Kind == StreamFirstToken || e.Kind == StreamStall || e.Kind == StreamHeaders
}

// ownCause is why the call's own context ended (a token timeout), if it
// did for a reason of its own rather than its caller's.
func ownCause(ctx context.Context) error {
	var se *StreamError
	if cause := context.Cause(ctx); errors.As(cause, &se) {
		return cause
	}
	return nil
}

// chatReply is what an LLM source answers.
type chatReply struct {
	Reply        string          `json:"reply"`
	Model        string          `json:"model,omitempty"`
	FinishReason string          `json:"finish_reason,omitempty"`
	Usage        json.RawMessage `json:"usage,omitempty"` // the provider's own
	usage        *Usage          // the same, typed; nil when the provider gave none
}

// endpoint appends path to base's path, keeping base's query (such as an
// api-version some providers want).
func endpoint(base, path string) (string, error) {
	u, err := neturl.Parse(base)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("invalid base URL %q", redact(base))
	}
	u.Path = strings.TrimRight(u.Path, "/") + path
	return u.String(), nil
}

func nonNull(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	return raw
}

// providerMessage is the error message an LLM provider put in its JSON
// error body ({"error": {"message": ...}}), or the body's start.
func providerMessage(r io.Reader) string {
	b, _ := io.ReadAll(io.LimitReader(r, 4096))
	var e struct {
		Error struct {
			Message string `json:"message"`
			Type    string `json:"type"`
		} `json:"error"`
	}
	if json.Unmarshal(b, &e) == nil && e.Error.Message != "" {
		if e.Error.Type != "" {
			return e.Error.Type + ": " + e.Error.Message
		}
		return e.Error.Message
	}
	return snippet(bytes.NewReader(b))
}

// tokenWatch cancels a streaming call that waits too long for its first
// token, or for the next chunk after it, and counts the content that
// streamed.
type tokenWatch struct {
	first, stall time.Duration
	cancel       context.CancelCauseFunc
	timer        *time.Timer
	chars        int
}

func newTokenWatch(first, stall time.Duration, cancel context.CancelCauseFunc) *tokenWatch {
	w := &tokenWatch{first: first, stall: stall, cancel: cancel}
	if first > 0 {
		w.timer = time.AfterFunc(first, func() {
			cancel(&StreamError{Kind: StreamFirstToken, Reason: fmt.Sprintf("no token within %v (first-token timeout)", first)})
		})
	}
	return w
}

// tick notes a chunk that carries n bytes of content (text or a tool
// call): the first ends the first-token wait, and the next must come
// within the stall bound.
func (w *tokenWatch) tick(n int) {
	if w == nil {
		return
	}
	w.chars += n
	if w.timer != nil {
		w.timer.Stop()
	}
	if w.stall > 0 {
		stall, cancel := w.stall, w.cancel
		w.timer = time.AfterFunc(stall, func() {
			cancel(&StreamError{Kind: StreamStall, Reason: fmt.Sprintf("no token for %v mid-stream (stall timeout)", stall)})
		})
	} else {
		w.timer = nil
	}
}

// streamed is how many bytes of content streamed; 0 for a call that did
// not stream.
func (w *tokenWatch) streamed() int {
	if w == nil {
		return 0
	}
	return w.chars
}

func (w *tokenWatch) stop() {
	if w != nil && w.timer != nil {
		w.timer.Stop()
	}
}

// prompts are an LLM source's system and user prompts, compiled once as
// templates: {{.params.city}} in a prompt is the call's parameter, as it
// came (it is JSON-encoded into the request body like all text).
type prompts struct {
	once         sync.Once
	system, user *template.Template
	err          error
}

func (p *prompts) render(call *Call, system, user string) (string, string, error) {
	p.once.Do(func() {
		if p.system, p.err = template.Parse("system prompt", system, template.None); p.err == nil {
			p.user, p.err = template.Parse("user prompt", user, template.None)
		}
	})
	if p.err != nil {
		return "", "", p.err
	}
	vals := template.NewValues(call.params(), call.needs())
	s, err := p.system.Render(vals)
	if err != nil {
		return "", "", err
	}
	u, err := p.user.Render(vals)
	return s, u, err
}
