package server

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/citypopy/highway/internal/upstream"
)

// BenchmarkRouteOverHTTPUpstreams serves the benchmark's HTTP route (three
// sources fetched from a real local upstream, default policies) in
// process, so allocations per request and CPU per request can be compared
// between changes with benchstat. The load test in bench/ is the
// side-by-side measure; this one isolates Highway's own work.
func BenchmarkRouteOverHTTPUpstreams(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"city":"Citypopy","temp":"22°C"}`)
	}))
	defer up.Close()
	defer upstream.Pool.CloseIdleConnections()
	s := newServer(b, `
sources:
  weather: {kind: http, url: "`+up.URL+`/weather"}
  image:   {kind: http, url: "`+up.URL+`/image"}
  chat:    {kind: http, url: "`+up.URL+`/chat"}
routes:
  - {path: /city-report, sources: [weather, image, chat], timeout: 5s}
`)
	req := httptest.NewRequest("GET", "/city-report", nil)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatalf("%d %s", w.Code, w.Body)
		}
	}
}

// BenchmarkEmbeddedRoute serves the benchmark's embedded route (three
// planned mocks) in process, a thousand requests at once, so that the
// time per request is CPU rather than waiting: the fan-out's own cost,
// comparable between changes.
func BenchmarkEmbeddedRoute(b *testing.B) {
	s := newServer(b, `
sources:
  weather: {kind: mock, latency: 3ms, data: {city: Citypopy, temp: "22°C"}}
  image:   {kind: mock, latency: 8ms, data: {url: "/img/popy.png"}}
  chat:    {kind: mock, latency: 5ms, data: {reply: "Hello from AI City!"}}
routes:
  - {path: /city-report, sources: [weather, image, chat], timeout: 5s}
`)
	b.ReportAllocs()
	b.SetParallelism(500)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			// Each request has a context of its own, as net/http gives it.
			ctx, cancel := context.WithCancel(context.Background())
			req := httptest.NewRequestWithContext(ctx, "GET", "/city-report", nil)
			w := httptest.NewRecorder()
			s.ServeHTTP(w, req)
			cancel()
			if w.Code != 200 {
				b.Errorf("%d %s", w.Code, w.Body)
			}
		}
	})
}
