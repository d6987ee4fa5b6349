package config

import (
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/citypopy/highway/source"
)

// HTTP is an http source: a JSON upstream at URL. The URL's path and
// query, header values and Body may be templates of the request's
// parameters and the needs' answers; the scheme and host are fixed here,
// so a request never chooses an upstream host.
type HTTP struct {
	// URL is the upstream's address; its path and query may be templates
	// ({{.params.city}}), its scheme and host may not. Required.
	URL string `yaml:"url"`
	// Method is GET, POST, PUT, PATCH or DELETE. Default GET (POST with a
	// body).
	Method string `yaml:"method"`
	// Headers are sent with every call (API keys, Accept...).
	Headers map[string]string `yaml:"headers"`
	// MaxBytes limits the answer. Default 1 MiB.
	MaxBytes int64 `yaml:"max_bytes"`
	// ForwardBody sends a POST route's JSON body upstream as this call's
	// body (method POST, PUT or PATCH).
	ForwardBody bool `yaml:"forward_body"`
	// Body is the call's JSON body as a template, values escaped as JSON
	// string contents: {"q": "{{.params.q}}"}. Method defaults to POST.
	Body string `yaml:"body"`
}

// Build makes the http source.
func (h *HTTP) Build(_ string, transport http.RoundTripper) source.Source {
	s := &source.HTTP{Method: h.Method, URL: h.URL, MaxBytes: h.MaxBytes, ForwardBody: h.ForwardBody, Body: h.Body, Transport: transport}
	if len(h.Headers) > 0 {
		s.Header = make(http.Header, len(h.Headers))
		for k, v := range h.Headers {
			s.Header.Set(k, v)
		}
	}
	return s
}

// defaults: GET (POST with a Body), 10s, and for a GET, which may be
// repeated, retries; a breaker always.
func (h *HTTP) defaults(s *Source) {
	if h.Method == "" && h.Body != "" {
		h.Method = "POST"
	}
	if h.Method == "" {
		h.Method = "GET"
	}
	if s.Timeout == 0 {
		s.Timeout = Duration(DefaultHTTPTimeout)
	}
	if s.Idempotent == nil {
		idem := h.Method == "GET"
		s.Idempotent = &idem
	}
	if s.Retry == nil && *s.Idempotent {
		r := DefaultRetry
		s.Retry = &r
	}
	s.defaultBreaker()
}

func (h *HTTP) validate(d *decoder, p string, _ *Source) {
	d.validateURL(p+".url", h.URL)
	switch h.Method {
	case "GET", "POST", "PUT", "PATCH", "DELETE":
	default:
		d.failAt(p+".method", "unsupported method %q (GET, POST, PUT, PATCH or DELETE)", h.Method)
	}
	for _, k := range slices.Sorted(maps.Keys(h.Headers)) {
		if !validHeaderName(k) {
			d.failAt(p+".headers."+k, "invalid header name %q", k)
		} else if strings.ContainsAny(h.Headers[k], "\r\n\x00") {
			d.failAt(p+".headers."+k, "invalid header value (control characters?)")
		}
	}
	if h.MaxBytes < 0 {
		d.failAt(p+".max_bytes", "must not be negative")
	}
	hasBody := h.Method == "POST" || h.Method == "PUT" || h.Method == "PATCH"
	if h.ForwardBody && !hasBody {
		d.failAt(p+".forward_body", "a body goes with POST, PUT or PATCH, not %s", h.Method)
	}
	if h.Body != "" && !hasBody {
		d.failAt(p+".body", "a body goes with POST, PUT or PATCH, not %s", h.Method)
	}
	if h.Body != "" && h.ForwardBody {
		d.failAt(p+".body", "give body or forward_body, not both")
	}
}

func (h *HTTP) templates() map[string]string {
	f := map[string]string{"url": h.URL, "body": h.Body}
	for k, v := range h.Headers {
		f["headers."+k] = v
	}
	return f
}
