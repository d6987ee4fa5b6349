// Package mock serves a configuration's mock sources as real HTTP upstreams,
// one path each (/weather, /image, ...), with faults injected per request
// from the query string or per source from the config: extra latency, a
// heavy tail, an error rate and status, Retry-After, a call that never
// answers, a non-JSON or an oversized body. Tests, the benchmark and users
// trying a config point http sources at it.
package mock

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/citypopy/highway/internal/config"
	"github.com/citypopy/highway/source"
)

// Faults a request or a source can ask for besides slowness and failures.
const (
	FaultHang = "hang" // never answer, until the client gives up
	FaultHTML = "html" // answer 200 with an HTML page
	FaultHuge = "huge" // answer a JSON body of Size bytes
)

// DefaultHugeSize is the body size of the huge fault.
const DefaultHugeSize = 2 << 20

const maxHugeSize = 64 << 20

// endpoint is how one path behaves.
type endpoint struct {
	calls         *atomic.Int64 // shared by the copies a query makes
	mock          source.Mock
	failureStatus int
	retryAfter    time.Duration
	fault         string
	size          int
}

// Server is the HTTP handler of the mock upstreams. Safe for concurrent use.
type Server struct {
	endpoints map[string]*endpoint
	paths     map[string]string
	// The fake LLM endpoints' calls, for a benchmark to count.
	openaiCalls, anthropicCalls atomic.Int64
}

// New serves cfg's mock sources; sources of other kinds are left out.
func New(cfg *config.Config) (*Server, error) {
	s := &Server{endpoints: map[string]*endpoint{}}
	paths := map[string]string{}
	for name, sc := range cfg.Sources {
		m, ok := sc.Spec.(*config.Mock)
		if !ok {
			continue
		}
		e := &endpoint{calls: new(atomic.Int64), failureStatus: m.FailureStatus, retryAfter: m.RetryAfter.Std(), fault: m.Fault, size: DefaultHugeSize}
		e.mock = *m.Source()
		if e.failureStatus == 0 {
			e.failureStatus = http.StatusInternalServerError
		}
		s.endpoints["/"+name] = e
		paths[name] = "/" + name
	}
	if len(s.endpoints) == 0 {
		return nil, fmt.Errorf("config %s has no mock sources to serve", cfg.File)
	}
	s.paths = paths
	return s, nil
}

// Calls is how many calls each path has had, by source name.
func (s *Server) Calls() map[string]int64 {
	out := make(map[string]int64, len(s.endpoints))
	for p, e := range s.endpoints {
		out[strings.TrimPrefix(p, "/")] = e.calls.Load()
	}
	return out
}

// LLM serves the fake LLM endpoints alone, at OpenAIPath and
// AnthropicPath. highway serve runs them on a loopback port of their own so
// that its default city has a streaming chat lane with no key and no
// network.
func LLM() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(OpenAIPath, serveOpenAI)
	mux.HandleFunc(AnthropicPath, serveAnthropic)
	mux.HandleFunc(OpenAIEmbeddingsPath, serveEmbeddings)
	return mux
}

// Paths lists the paths served, sorted.
func (s *Server) Paths() []string {
	var p []string
	for k := range s.endpoints {
		p = append(p, k)
	}
	sort.Strings(p)
	return p
}

var queryParams = []string{"latency", "jitter", "failure_rate", "failure_status", "retry_after", "tail_rate", "tail_latency", "fault", "size"}

var (
	jsonType = []string{"application/json"}
	htmlType = []string{"text/html; charset=utf-8"}
)

// ServeHTTP answers one mock call.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/" {
		// The index says where each source is and how many calls it has
		// had, so a benchmark can count upstream calls.
		b, _ := json.Marshal(map[string]any{"sources": s.paths, "calls": s.Calls(), "query": queryParams, "openai": OpenAIPath, "anthropic": AnthropicPath,
			"llm_calls": map[string]int64{"openai": s.openaiCalls.Load(), "anthropic": s.anthropicCalls.Load()}})
		w.Header()["Content-Type"] = jsonType
		w.Write(b)
		return
	}
	switch r.URL.Path {
	case OpenAIPath:
		s.openaiCalls.Add(1)
		serveOpenAI(w, r)
		return
	case AnthropicPath:
		s.anthropicCalls.Add(1)
		serveAnthropic(w, r)
		return
	case OpenAIEmbeddingsPath:
		serveEmbeddings(w, r)
		return
	}
	e := s.endpoint(r.URL.Path)
	if e == nil {
		fail(w, http.StatusNotFound, fmt.Sprintf("no mock source at %s; paths: %s", r.URL.Path, strings.Join(s.Paths(), ", ")))
		return
	}
	if r.URL.RawQuery != "" {
		var err error
		var others []string
		if e, others, err = e.with(r.URL.RawQuery); err != nil {
			fail(w, http.StatusBadRequest, err.Error())
			return
		}
		if len(others) > 0 { // the upstream's own parameters (?days=3): taken, and named, so that a typo of a fault shows
			w.Header().Set("X-Mock-Ignored-Params", strings.Join(others, ", "))
		}
	}
	e.serve(w, r)
}

// endpoint is the source at path: /NAME, or anything under it
// (/forecast/Paris), as an upstream with templated paths is called.
func (s *Server) endpoint(path string) *endpoint {
	if e := s.endpoints[path]; e != nil {
		return e
	}
	if i := strings.IndexByte(path[min(1, len(path)):], '/'); i >= 0 {
		return s.endpoints[path[:i+1]]
	}
	return nil
}

func (e *endpoint) serve(w http.ResponseWriter, r *http.Request) {
	e.calls.Add(1)
	if e.fault == FaultHang {
		<-r.Context().Done()
		return
	}
	a, err := e.mock.Fetch(r.Context(), nil)
	var data []byte
	if err == nil {
		data, err = a.Value(r.Context()) // whole at once: a mock does not stream
	}
	if errors.Is(err, context.Canceled) || r.Context().Err() != nil {
		return // the client has gone
	}
	if err != nil {
		setRetryAfter(w, e.retryAfter)
		fail(w, e.failureStatus, err.Error())
		return
	}
	switch e.fault {
	case FaultHTML:
		w.Header()["Content-Type"] = htmlType
		w.Write([]byte("<html><body><h1>District closed for maintenance</h1></body></html>\n"))
	case FaultHuge:
		w.Header()["Content-Type"] = jsonType
		w.Header().Set("Content-Length", strconv.Itoa(e.size))
		body := make([]byte, e.size)
		for i := range body {
			body[i] = 'x'
		}
		body[0], body[len(body)-1] = '"', '"'
		w.Write(body)
	default:
		w.Header()["Content-Type"] = jsonType
		w.Write(data)
	}
}

// with returns a copy of e changed by the query's faults, and the other
// parameters, which it leaves alone (the upstream's own, such as days=3).
func (e *endpoint) with(raw string) (*endpoint, []string, error) {
	q, err := url.ParseQuery(raw)
	if err != nil {
		return nil, nil, fmt.Errorf("malformed query: %v", err)
	}
	c := *e
	var others []string
	for k, vs := range q {
		v := vs[0]
		var err error
		switch k {
		case "latency":
			c.mock.Latency, err = duration(v)
		case "jitter":
			c.mock.Jitter, err = duration(v)
		case "tail_latency":
			c.mock.TailLatency, err = duration(v)
		case "retry_after":
			c.retryAfter, err = duration(v)
		case "failure_rate":
			c.mock.FailureRate, err = ratio(v)
		case "tail_rate":
			c.mock.TailRate, err = ratio(v)
		case "failure_status":
			c.failureStatus, err = strconv.Atoi(v)
			if err == nil && (c.failureStatus < 400 || c.failureStatus > 599) {
				err = errors.New("want 400 to 599")
			}
		case "fault":
			c.fault, err = fault(v)
		case "size":
			c.size, err = strconv.Atoi(v)
			if err == nil && (c.size < 2 || c.size > maxHugeSize) {
				err = fmt.Errorf("want 2 to %d bytes", maxHugeSize)
			}
		default:
			others = append(others, k)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%s=%q: %v", k, v, err)
		}
	}
	slices.Sort(others)
	return &c, others, nil
}

func duration(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, errors.New("want a duration such as 200ms")
	}
	return d, nil
}

func ratio(v string) (float64, error) {
	var r config.Ratio
	err := r.UnmarshalText([]byte(v))
	return float64(r), err
}

func fault(v string) (string, error) {
	switch v {
	case "", FaultHang, FaultHTML, FaultHuge:
		return v, nil
	}
	return "", fmt.Errorf("want %s, %s or %s", FaultHang, FaultHTML, FaultHuge)
}

func fail(w http.ResponseWriter, status int, msg string) {
	b, _ := json.Marshal(map[string]string{"error": msg})
	w.Header()["Content-Type"] = jsonType
	w.WriteHeader(status)
	w.Write(b)
}
