package source

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/citypopy/highway/internal/template"
)

// DefaultMaxBytes is the response-size limit of an HTTP source whose
// MaxBytes is 0.
const DefaultMaxBytes = 1 << 20

// HTTP is a JSON upstream. Each Fetch sends one request and answers the
// response body as it came, once it is known to be valid JSON no larger
// than MaxBytes from a 2xx response. Its URL's path and query, its header
// values and its Body may be templates of the call's parameters and needs'
// answers ({{.params.city}}, {{.weather.temp}}), each value escaped for
// its place; the scheme and host are fixed.
//
// URL and Method must be set before first use and not changed after; the
// zero values of the other fields are usable.
type HTTP struct {
	// Method is the request method; "" means GET.
	Method string
	// URL is the upstream's address, fixed by configuration.
	URL string
	// Header is sent with every request (API keys, Accept, ...). It is never
	// echoed into errors.
	Header http.Header
	// MaxBytes limits the response body; 0 means DefaultMaxBytes.
	MaxBytes int64
	// ForwardBody sends the call's Body as the request's JSON body.
	ForwardBody bool
	// Body, if set, is the call's JSON body: a Template whose values are
	// escaped as the inside of JSON strings, so {"q": "{{.params.q}}"}
	// stays JSON whatever q holds. It must render to valid JSON.
	Body string
	// Transport sends each request once, as it is: a redirect is not
	// followed but answered as a StatusError, so an upstream cannot send
	// Highway to a host its config does not name. nil means a pool shared
	// by every source without one (see NewTransport).
	Transport http.RoundTripper

	once   sync.Once
	url    *url.URL // URL, parsed once
	urlErr error
	tmpl   *httpTemplates     // when URL or a header refers to the call's values
	body   *template.Template // Body, parsed
}

// httpTemplates are the parts of an HTTP source rendered per call. The
// scheme and host are not among them: a request never chooses the host.
type httpTemplates struct {
	base          string // scheme://host, fixed
	path, query   *template.Template
	header        map[string]*template.Template
	staticHeaders http.Header
}

// StatusError is an upstream's non-2xx answer.
type StatusError struct {
	Code int
	// Snippet is the start of the body, for the reader of the error.
	Snippet string
	// Wait is the upstream's Retry-After, or 0.
	Wait time.Duration
}

// Retryable reports whether another attempt may fare better: on a timeout,
// throttling, or a server-side failure.
func (e *StatusError) Retryable() bool {
	switch e.Code {
	case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
		http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout,
		529: // Anthropic's "overloaded"
		return true
	}
	return false
}

// RetryAfter is how long the upstream asked to be left alone.
func (e *StatusError) RetryAfter() time.Duration { return e.Wait }

// TransportError is a failure to reach the upstream or to read its answer
// (refused, reset, DNS); worth a retry.
type TransportError struct {
	Op  string // such as "GET http://host/path"
	Err error
}

// Error describes the failure.
func (e *TransportError) Error() string { return e.Op + ": " + e.Err.Error() }

// Unwrap returns the underlying error.
func (e *TransportError) Unwrap() error { return e.Err }

// Retryable is true: the next connection may work.
func (e *TransportError) Retryable() bool { return true }

// parseRetryAfter reads a Retry-After header: seconds, or an HTTP date.
func parseRetryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

// Error describes the failure.
func (e *StatusError) Error() string {
	msg := fmt.Sprintf("upstream answered %d %s", e.Code, http.StatusText(e.Code))
	if e.Snippet != "" {
		msg += ": " + e.Snippet
	}
	if e.Wait > 0 {
		msg += fmt.Sprintf(" (retry after %v)", e.Wait)
	}
	return msg
}

// ErrTooLarge is matched (with errors.Is) by the error of a response larger
// than the source's MaxBytes.
var ErrTooLarge = errors.New("upstream response too large")

// ErrNotJSON is matched (with errors.Is) by the error of a response that is
// not valid JSON.
var ErrNotJSON = errors.New("upstream answered non-JSON")

// Fetch sends the call's request under ctx and answers the upstream's JSON
// body.
func (h *HTTP) Fetch(ctx context.Context, call *Call) (*Answer, error) {
	req, err := h.request(ctx, call)
	if err != nil {
		return nil, err
	}
	resp, err := send(h.Transport, req)
	if err != nil {
		return nil, h.transportError(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, &StatusError{Code: resp.StatusCode, Snippet: scrub(snippet(resp.Body), req.Header), Wait: parseRetryAfter(resp.Header.Get("Retry-After"))}
	}
	body, err := h.read(resp)
	if err != nil {
		return nil, err
	}
	if !json.Valid(body) {
		ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
		return nil, fmt.Errorf("%w (Content-Type %q): %s", ErrNotJSON, ct, quoteSnippet(body))
	}
	return Whole(body), nil
}

// request builds the call without parsing URL again: the address is fixed,
// and parsing it per call was measurable under load.
func (h *HTTP) request(ctx context.Context, call *Call) (*http.Request, error) {
	h.once.Do(h.compile)
	if h.urlErr != nil {
		return nil, fmt.Errorf("build request: %w", h.urlErr)
	}
	vals := template.NewValues(call.params(), call.needs())
	var body io.Reader
	switch {
	case h.body != nil:
		b, err := h.body.Render(vals)
		if err != nil {
			return nil, err
		}
		if !json.Valid([]byte(b)) {
			return nil, errors.New("render body: the rendered body is not JSON")
		}
		body = strings.NewReader(b)
	case h.ForwardBody:
		if b := call.body(); len(b) > 0 {
			body = bytes.NewReader(b)
		}
	}
	req, err := http.NewRequestWithContext(ctx, h.method(), "", body)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	req.URL, req.Host = h.url, h.url.Host
	switch {
	case h.tmpl != nil:
		if err := h.render(vals, req); err != nil {
			return nil, err
		}
	case len(h.Header) > 0 && body != nil:
		req.Header = h.Header.Clone() // it gets a Content-Type below
	case len(h.Header) > 0:
		// Shared, never written: a RoundTripper must not modify a
		// request's header, and a fresh copy per call costs a map each time.
		req.Header = h.Header
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

// compile parses URL once, and its templates if it has any.
func (h *HTTP) compile() {
	if h.Body != "" {
		if h.body, h.urlErr = template.Parse("body", h.Body, template.JSON); h.urlErr != nil {
			return
		}
	}
	raw := h.URL
	templated := strings.Contains(raw, "{{")
	for _, v := range h.Header {
		templated = templated || strings.Contains(strings.Join(v, ""), "{{")
	}
	if !templated {
		h.url, h.urlErr = url.Parse(raw)
		if h.urlErr == nil && h.url.Host == "" {
			h.urlErr = fmt.Errorf("URL %q has no host", redact(raw))
		}
		return
	}
	t := &httpTemplates{header: map[string]*template.Template{}, staticHeaders: http.Header{}}
	base, rest := template.SplitBase(raw)
	if strings.Contains(base, "{{") {
		h.urlErr = fmt.Errorf("URL %q: the scheme and host must be fixed, not templated", redact(raw))
		return
	}
	t.base = base
	path, query, _ := strings.Cut(rest, "?")
	if t.path, h.urlErr = template.Parse("url path", path, template.Path); h.urlErr != nil {
		return
	}
	if t.query, h.urlErr = template.Parse("url query", query, template.Query); h.urlErr != nil {
		return
	}
	for k, v := range h.Header {
		if len(v) == 1 && strings.Contains(v[0], "{{") {
			if t.header[k], h.urlErr = template.Parse("header "+k, v[0], template.Header); h.urlErr != nil {
				return
			}
		} else {
			t.staticHeaders[k] = v
		}
	}
	h.url, h.urlErr = url.Parse(base + "/")
	h.tmpl = t
}

// render fills req's URL and headers with the call's values.
func (h *HTTP) render(vals *template.Values, req *http.Request) error {
	t := h.tmpl
	path, err := t.path.Render(vals)
	if err != nil {
		return err
	}
	query, err := t.query.Render(vals)
	if err != nil {
		return err
	}
	u, err := url.Parse(t.base + path)
	if err != nil || u.Host != h.url.Host {
		return fmt.Errorf("rendered URL is not on %s", h.url.Host)
	}
	if dotSegment(path) {
		return errors.New("rendered URL path has a . or .. segment, which would move the call to another resource")
	}
	u.RawQuery = query
	req.URL, req.Host = u, u.Host
	req.Header = t.staticHeaders.Clone()
	for k, ht := range t.header {
		v, err := ht.Render(vals)
		if err != nil {
			return err
		}
		req.Header.Set(k, v)
	}
	return nil
}

// dotSegment reports whether a rendered path has a segment that is . or
// .., which an upstream (or a proxy before it) would resolve away.
func dotSegment(path string) bool {
	for seg := range strings.SplitSeq(path, "/") {
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}

func (h *HTTP) method() string {
	if h.Method == "" && h.Body != "" {
		return http.MethodPost
	}
	if h.Method == "" {
		return http.MethodGet
	}
	return h.Method
}

// read reads the whole body, refusing one larger than MaxBytes before
// reading it where the upstream declared its length.
func (h *HTTP) read(resp *http.Response) ([]byte, error) {
	limit := h.MaxBytes
	if limit <= 0 {
		limit = DefaultMaxBytes
	}
	tooLarge := func() error { return fmt.Errorf("%w: more than %d bytes", ErrTooLarge, limit) }
	if resp.ContentLength > limit {
		return nil, tooLarge()
	}
	if resp.ContentLength >= 0 {
		body := make([]byte, resp.ContentLength)
		if _, err := io.ReadFull(resp.Body, body); err != nil {
			return nil, &TransportError{Op: "read upstream body", Err: err}
		}
		return body, nil
	}
	var buf bytes.Buffer
	n, err := buf.ReadFrom(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, &TransportError{Op: "read upstream body", Err: err}
	}
	if n > limit {
		return nil, tooLarge()
	}
	return buf.Bytes(), nil
}

// transportError drops the URL that *url.Error carries: the query string may
// hold secrets, and the report already names the source.
func (h *HTTP) transportError(err error) error {
	return &TransportError{Op: h.method() + " " + redact(h.URL), Err: unwrapURL(err)}
}

func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// redact keeps scheme, host and path of an address, dropping user info and
// query, which may carry credentials.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(invalid URL)"
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
}

const snippetBytes = 200

// credential reports whether a header by that name carries a secret:
// Authorization, X-API-Key and their kind.
func credential(name string) bool {
	n := strings.ToLower(name)
	for _, w := range []string{"auth", "key", "token", "secret", "cookie"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// scrub hides in an upstream's error text any value the call sent it in
// a header (an API key, a bearer token), which some upstreams echo back:
// the text goes into reports and logs.
func scrub(text string, sent http.Header) string {
	for name, vs := range sent {
		if !credential(name) {
			continue
		}
		for _, v := range vs {
			if _, token, ok := strings.Cut(v, " "); ok && len(token) >= 4 { // "Bearer KEY"
				text = strings.ReplaceAll(text, token, "[redacted]")
			}
			if len(v) >= 4 {
				text = strings.ReplaceAll(text, v, "[redacted]")
			}
		}
	}
	return text
}

func snippet(r io.Reader) string {
	b, _ := io.ReadAll(io.LimitReader(r, snippetBytes))
	return strings.TrimSpace(strings.ToValidUTF8(string(b), "?"))
}

func quoteSnippet(b []byte) string {
	if len(b) > snippetBytes {
		b = b[:snippetBytes]
		for len(b) > 0 && !utf8.Valid(b) {
			b = b[:len(b)-1]
		}
	}
	if len(b) == 0 {
		return "empty body"
	}
	return fmt.Sprintf("%q", b)
}
