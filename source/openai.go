package source

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	neturl "net/url"
	"strings"
	"time"
)

// OpenAI is a chat lane on the OpenAI Chat Completions API
// (POST {BaseURL}/chat/completions), which OpenAI, Ollama, vLLM, llama.cpp's
// server and many others speak. It answers
//
//	{"reply": "...", "model": "...", "finish_reason": "stop", "usage": {...}}
//
// streaming the reply's tokens to the context's DeltaFunc as they arrive
// when Stream is set. APIKey is sent as a bearer token and never appears in
// an error.
//
// Fields must not change once the source is in use.
type OpenAI struct {
	// Name is the source's name, for the deltas it streams.
	Name    string
	BaseURL string
	Model   string
	APIKey  string
	// System and User are the prompts sent.
	System, User string
	// MaxTokens caps the reply; 0 leaves it to the provider.
	MaxTokens int
	// Stream asks for the reply token by token.
	Stream bool
	// FirstToken bounds the wait for a stream's first token; Stall the wait
	// between any two chunks after it. 0 means no bound beyond the source's
	// timeout.
	FirstToken, Stall time.Duration
	// MaxBytes limits the response; 0 means DefaultMaxBytes.
	MaxBytes int64
	// Client sends the requests; nil means Client in this package.
	Client *http.Client
}

// StreamError is a streaming answer that went wrong mid-way: a stall, a
// malformed chunk, or a stream that ended early.
type StreamError struct {
	Reason string
}

// Error describes the failure.
func (e *StreamError) Error() string { return "upstream stream: " + e.Reason }

// Retryable is true for a stall; a malformed stream is the upstream's bug.
func (e *StreamError) Retryable() bool { return strings.HasPrefix(e.Reason, "no token") }

type chatRequest struct {
	Model         string        `json:"model"`
	Messages      []chatMessage `json:"messages"`
	MaxTokens     int           `json:"max_tokens,omitempty"`
	Stream        bool          `json:"stream,omitempty"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options,omitempty"`
}

type chatMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// chatReply is the source's answer.
type chatReply struct {
	Reply        string          `json:"reply"`
	Model        string          `json:"model,omitempty"`
	FinishReason string          `json:"finish_reason,omitempty"`
	Usage        json.RawMessage `json:"usage,omitempty"`
}

// Fetch asks for one chat completion.
func (o *OpenAI) Fetch(ctx context.Context) (json.RawMessage, error) {
	body, err := json.Marshal(o.request())
	if err != nil {
		return nil, fmt.Errorf("encode request: %w", err)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	url, err := endpoint(o.BaseURL, "/chat/completions")
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if o.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+o.APIKey)
	}
	var watch *tokenWatch
	if o.Stream {
		req.Header.Set("Accept", "text/event-stream")
		watch = newTokenWatch(o.FirstToken, o.Stall, cancel)
		defer watch.stop()
	}
	resp, err := client(o.Client).Do(req)
	if err != nil {
		if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
			return nil, cause
		}
		return nil, &TransportError{Op: "POST " + redact(url), Err: unwrapURL(err)}
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, &StatusError{Code: resp.StatusCode, Snippet: providerMessage(resp.Body), Wait: parseRetryAfter(resp.Header.Get("Retry-After"))}
	}
	limit := o.MaxBytes
	if limit <= 0 {
		limit = DefaultMaxBytes
	}
	var reply *chatReply
	if o.Stream {
		reply, err = o.readStream(ctx, io.LimitReader(resp.Body, limit), watch)
	} else {
		reply, err = readCompletion(io.LimitReader(resp.Body, limit+1), limit)
	}
	if err != nil {
		if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
			return nil, cause // a token timeout says more than the read error it caused
		}
		return nil, err
	}
	return json.Marshal(reply)
}

func (o *OpenAI) request() chatRequest {
	r := chatRequest{Model: o.Model, MaxTokens: o.MaxTokens, Stream: o.Stream}
	if o.System != "" {
		r.Messages = append(r.Messages, chatMessage{Role: "system", Content: o.System})
	}
	r.Messages = append(r.Messages, chatMessage{Role: "user", Content: o.User})
	if o.Stream {
		r.StreamOptions = &struct {
			IncludeUsage bool `json:"include_usage"`
		}{true}
	}
	return r
}

// completion is the part of a chat.completion or chat.completion.chunk we read.
type completion struct {
	Model   string `json:"model"`
	Choices []struct {
		Message      *chatMessage `json:"message"`
		Delta        *chatMessage `json:"delta"`
		FinishReason *string      `json:"finish_reason"`
	} `json:"choices"`
	Usage json.RawMessage `json:"usage"`
}

func readCompletion(r io.Reader, limit int64) (*chatReply, error) {
	body, err := io.ReadAll(r)
	if err != nil {
		return nil, &TransportError{Op: "read upstream body", Err: err}
	}
	if int64(len(body)) > limit {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, limit)
	}
	var c completion
	if err := json.Unmarshal(body, &c); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrNotJSON, quoteSnippet(body))
	}
	if len(c.Choices) == 0 || c.Choices[0].Message == nil {
		return nil, fmt.Errorf("upstream answered no choices: %s", quoteSnippet(body))
	}
	reply := &chatReply{Reply: c.Choices[0].Message.Content, Model: c.Model, Usage: nonNull(c.Usage)}
	if f := c.Choices[0].FinishReason; f != nil {
		reply.FinishReason = *f
	}
	return reply, nil
}

// readStream assembles a streamed reply from its data: lines, handing each
// token on as it arrives, until data: [DONE].
func (o *OpenAI) readStream(ctx context.Context, r io.Reader, watch *tokenWatch) (*chatReply, error) {
	send := deltas(ctx)
	var reply chatReply
	var text strings.Builder
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		data, ok := strings.CutPrefix(line, "data:")
		if !ok {
			continue // blank lines, comments, event: and id: lines
		}
		data = strings.TrimSpace(data)
		if data == "[DONE]" {
			reply.Reply = text.String()
			return &reply, nil
		}
		var c completion
		if err := json.Unmarshal([]byte(data), &c); err != nil {
			return nil, &StreamError{Reason: "malformed chunk " + quoteSnippet([]byte(data))}
		}
		watch.tick()
		if c.Model != "" {
			reply.Model = c.Model
		}
		if u := nonNull(c.Usage); u != nil {
			reply.Usage = u
		}
		for _, ch := range c.Choices {
			if ch.Delta != nil && ch.Delta.Content != "" {
				text.WriteString(ch.Delta.Content)
				send(o.Name, ch.Delta.Content)
			}
			if ch.FinishReason != nil {
				reply.FinishReason = *ch.FinishReason
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, &TransportError{Op: "read upstream stream", Err: err}
	}
	return nil, &StreamError{Reason: "ended before data: [DONE]"}
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

func client(c *http.Client) *http.Client {
	if c == nil {
		return Client
	}
	return c
}

// tokenWatch cancels a streaming call that waits too long for its first
// token, or for the next chunk after it.
type tokenWatch struct {
	first, stall time.Duration
	cancel       context.CancelCauseFunc
	timer        *time.Timer
}

func newTokenWatch(first, stall time.Duration, cancel context.CancelCauseFunc) *tokenWatch {
	w := &tokenWatch{first: first, stall: stall, cancel: cancel}
	if first > 0 {
		w.timer = time.AfterFunc(first, func() {
			cancel(&StreamError{Reason: fmt.Sprintf("no token within %v (first-token timeout)", first)})
		})
	}
	return w
}

// tick notes a chunk: the next must come within the stall bound.
func (w *tokenWatch) tick() {
	if w == nil {
		return
	}
	if w.timer != nil {
		w.timer.Stop()
	}
	if w.stall > 0 {
		stall, cancel := w.stall, w.cancel
		w.timer = time.AfterFunc(stall, func() {
			cancel(&StreamError{Reason: fmt.Sprintf("no token for %v mid-stream (stall timeout)", stall)})
		})
	} else {
		w.timer = nil
	}
}

func (w *tokenWatch) stop() {
	if w.timer != nil {
		w.timer.Stop()
	}
}
