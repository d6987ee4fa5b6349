package server

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

func TestTracingMakesASpanPerRequestSourceAndAttempt(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	var mu sync.Mutex
	var parents []string // traceparent of each upstream call, in order
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		parents = append(parents, r.Header.Get("Traceparent"))
		mu.Unlock()
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"hits":3}`))
	}))
	defer up.Close()
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	defer tp.Shutdown(t.Context())
	s := newServerWith(t, `
sources:
  search:  {kind: http, url: `+up.URL+`/search, retry: {attempts: 3, backoff: 1ms}}
  weather: {kind: mock, latency: 5ms, data: 1}
routes:
  - {path: /r, sources: [search, weather]}
`, Options{TracerProvider: tp})

	const callerTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	req := httptest.NewRequest("GET", "/r", nil)
	req.Header.Set("Traceparent", "00-"+callerTrace+"-00f067aa0ba902b7-01")
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}

	byName := map[string][]tracetest.SpanStub{}
	for _, sp := range spans.GetSpans() {
		if sp.SpanContext.TraceID().String() != callerTrace {
			t.Errorf("span %q in trace %s, want the caller's %s", sp.Name, sp.SpanContext.TraceID(), callerTrace)
		}
		byName[sp.Name] = append(byName[sp.Name], sp)
	}
	root := one(t, byName, "GET /r")
	if root.Parent.SpanID().String() != "00f067aa0ba902b7" || root.SpanKind != trace.SpanKindServer {
		t.Errorf("request span: parent %s kind %v, want the caller's span and server", root.Parent.SpanID(), root.SpanKind)
	}
	if got := attr(root.Attributes, "http.response.status_code"); got.AsInt64() != 200 {
		t.Errorf("request span status_code %v", got.Emit())
	}
	search := one(t, byName, "source search")
	weather := one(t, byName, "source weather")
	for _, sp := range []tracetest.SpanStub{search, weather} {
		if sp.Parent.SpanID() != root.SpanContext.SpanID() {
			t.Errorf("%s is not a child of the request span", sp.Name)
		}
	}
	if got := attr(search.Attributes, "highway.attempts").AsInt64(); got != 2 {
		t.Errorf("source search: highway.attempts %d, want 2", got)
	}
	attempts := byName["attempt search"]
	if len(attempts) != 2 {
		t.Fatalf("%d attempt spans for search, want 2 (a retry)", len(attempts))
	}
	if n := len(byName["attempt weather"]); n != 1 {
		t.Errorf("%d attempt spans for weather, want 1", n)
	}
	for i, a := range attempts {
		if a.Parent.SpanID() != search.SpanContext.SpanID() {
			t.Errorf("attempt %d is not a child of the source span", i+1)
		}
		if got := attr(a.Attributes, "highway.attempt").AsInt64(); got != int64(i+1) {
			t.Errorf("attempt span %d says attempt %d", i+1, got)
		}
		want := "00-" + callerTrace + "-" + a.SpanContext.SpanID().String() + "-01"
		if parents[i] != want {
			t.Errorf("upstream call %d: traceparent %q, want %q (its attempt span)", i+1, parents[i], want)
		}
	}
	if attempts[0].Status.Code != codes.Error || !strings.Contains(attempts[0].Status.Description, "503") {
		t.Errorf("first attempt status %+v, want the 503 error", attempts[0].Status)
	}
	if attempts[1].Status.Code == codes.Error {
		t.Errorf("second attempt failed: %+v", attempts[1].Status)
	}
}

func TestTracingOffSendsNoTraceparent(t *testing.T) {
	t.Parallel()
	var got atomic.Value
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Store(r.Header.Get("Traceparent") + "|")
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`1`))
	}))
	defer up.Close()
	s := newServer(t, `
sources:
  search: {kind: http, url: `+up.URL+`}
routes:
  - {path: /r, sources: [search]}
`)
	req := httptest.NewRequest("GET", "/r", nil)
	req.Header.Set("Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	s.ServeHTTP(httptest.NewRecorder(), req)
	if got.Load() != "|" {
		t.Errorf("upstream got traceparent %q with tracing off", got.Load())
	}
}

func one(t *testing.T, byName map[string][]tracetest.SpanStub, name string) tracetest.SpanStub {
	t.Helper()
	if len(byName[name]) != 1 {
		t.Fatalf("%d spans named %q, want 1; have %v", len(byName[name]), name, keys(byName))
	}
	return byName[name][0]
}

func attr(kvs []attribute.KeyValue, key string) attribute.Value {
	for _, kv := range kvs {
		if string(kv.Key) == key {
			return kv.Value
		}
	}
	return attribute.Value{}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// A front-door request is traced as a route's: the request's span, and
// under it a span per provider the model tried and one per attempt, the
// failed provider's with its error; the provider is called within its
// attempt's span.
func TestTracingFollowsADoorRequestAcrossItsProviders(t *testing.T) {
	t.Parallel()
	up := mockUpstream(t)
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	defer tp.Shutdown(t.Context())
	s := newServerWith(t, `
sources:
  down: {kind: openai, base_url: "`+up+`/openai/v1?failure_status=503", model: popy-1}
  an:   {kind: anthropic, base_url: "`+up+`/anthropic?token_delay=1ms", model: claude-mock}
models:
  steady: {use: [down, an]}
`, Options{TracerProvider: tp})
	front := httptest.NewServer(s)
	defer front.Close()
	const callerTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	req, _ := http.NewRequest("POST", front.URL+"/v1/chat/completions",
		strings.NewReader(`{"model":"steady","stream":true,"messages":[{"role":"user","content":"Hi there"}]}`))
	req.Header.Set("Traceparent", "00-"+callerTrace+"-00f067aa0ba902b7-01")
	if resp, body := send(t, req); resp.StatusCode != 200 || !strings.Contains(body, "[DONE]") {
		t.Fatalf("%s: %s", resp.Status, body)
	}
	byName := map[string][]tracetest.SpanStub{}
	for _, sp := range spans.GetSpans() {
		if sp.SpanContext.TraceID().String() != callerTrace {
			t.Errorf("span %q in trace %s, want the caller's", sp.Name, sp.SpanContext.TraceID())
		}
		byName[sp.Name] = append(byName[sp.Name], sp)
	}
	root := one(t, byName, "POST /v1/chat/completions")
	if root.SpanKind != trace.SpanKindServer || attr(root.Attributes, "http.response.status_code").AsInt64() != 200 {
		t.Errorf("request span: kind %v, attributes %v", root.SpanKind, root.Attributes)
	}
	for _, p := range []struct {
		name   string
		failed bool
	}{{"down", true}, {"an", false}} {
		src := one(t, byName, "source "+p.name)
		att := one(t, byName, "attempt "+p.name)
		if src.Parent.SpanID() != root.SpanContext.SpanID() || att.Parent.SpanID() != src.SpanContext.SpanID() {
			t.Errorf("%s: its source span is not under the request's, or its attempt under its source's", p.name)
		}
		if failed := att.Status.Code == codes.Error; failed != p.failed {
			t.Errorf("%s: attempt status %+v", p.name, att.Status)
		}
		if p.failed && !strings.Contains(att.Status.Description, "503") {
			t.Errorf("%s: the attempt's error says %q, want the provider's 503", p.name, att.Status.Description)
		}
	}
}
