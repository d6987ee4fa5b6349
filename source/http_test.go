package source_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/citypopy/highway/source"
)

func upstream(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func TestHTTPPassesValidJSONThroughByteForByte(t *testing.T) {
	t.Parallel()
	body := "{ \"temp\" : \"22°C\",\n  \"wind\": [1, 2.50, 3e2] }"
	for _, chunked := range []bool{false, true} {
		srv := upstream(t, func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("X-Key") != "k" {
				http.Error(w, "missing headers", 400)
				return
			}
			if chunked {
				w.(http.Flusher).Flush()
			}
			w.Write([]byte(body))
		})
		h := &source.HTTP{URL: srv.URL + "/weather", Header: http.Header{"X-Key": {"k"}}}
		v, err := whole(t.Context(), h, nil)
		if err != nil || string(v) != body {
			t.Errorf("chunked %v: got %q, %v", chunked, v, err)
		}
	}
}

func TestHTTPErrorsSayWhatWentWrong(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		handler http.HandlerFunc
		max     int64
		is      error
		want    string
	}{
		{"server error", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, `{"error":"boom"}`, 500)
		}, 0, nil, `upstream answered 500 Internal Server Error: {"error":"boom"}`},
		{"not json", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte("<html>hello</html>"))
		}, 0, source.ErrNotJSON, `upstream answered non-JSON (Content-Type "text/html"): "<html>hello</html>"`},
		{"empty", func(w http.ResponseWriter, r *http.Request) {}, 0, source.ErrNotJSON, "empty body"},
		{"too large, declared", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`"` + strings.Repeat("x", 100) + `"`))
		}, 50, source.ErrTooLarge, "more than 50 bytes"},
		{"too large, chunked", func(w http.ResponseWriter, r *http.Request) {
			w.(http.Flusher).Flush()
			w.Write([]byte(`"` + strings.Repeat("x", 100) + `"`))
		}, 50, source.ErrTooLarge, "more than 50 bytes"},
		{"redirect not followed", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://elsewhere.invalid/", http.StatusFound)
		}, 0, nil, "upstream answered 302 Found"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := upstream(t, c.handler)
			_, err := whole(t.Context(), &source.HTTP{URL: srv.URL, MaxBytes: c.max}, nil)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to contain %q", err, c.want)
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("err %v is not %v", err, c.is)
			}
		})
	}
}

func TestHTTPNeverAnsweringUpstreamIsCutOffByTheContext(t *testing.T) {
	t.Parallel()
	gone := make(chan struct{})
	srv := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
		close(gone)
	})
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err := whole(ctx, &source.HTTP{URL: srv.URL}, nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	select {
	case <-gone:
	case <-time.After(5 * time.Second):
		t.Fatal("the upstream never saw the call cancelled")
	}
	source.Pool.CloseIdleConnections()
}

func TestHTTPTransportErrorsHideTheQueryString(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.URL
	srv.Close()
	_, err := whole(t.Context(), &source.HTTP{URL: addr + "/chat?api_key=s3cret"}, nil)
	if err == nil || strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "GET "+addr+"/chat:") {
		t.Errorf("err = %v", err)
	}
}

func TestHTTPErrorsSayWhetherToRetry(t *testing.T) {
	t.Parallel()
	cases := []struct {
		status    int
		header    string
		retryable bool
		after     time.Duration
	}{
		{503, "2", true, 2 * time.Second},
		{429, "", true, 0},
		{500, "soon", true, 0},
		{404, "", false, 0},
		{401, "", false, 0},
	}
	for _, c := range cases {
		srv := upstream(t, func(w http.ResponseWriter, r *http.Request) {
			if c.header != "" {
				w.Header().Set("Retry-After", c.header)
			}
			w.WriteHeader(c.status)
		})
		_, err := whole(t.Context(), &source.HTTP{URL: srv.URL}, nil)
		var se *source.StatusError
		if !errors.As(err, &se) || se.Retryable() != c.retryable || se.RetryAfter() != c.after {
			t.Errorf("%d: %v retryable %v after %v", c.status, err, se.Retryable(), se.RetryAfter())
		}
	}
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	_, err := whole(t.Context(), &source.HTTP{URL: srv.URL}, nil)
	var te *source.TransportError
	if !errors.As(err, &te) || !te.Retryable() {
		t.Errorf("refused connection: %v", err)
	}
}

func FuzzTemplatedURLStaysOnItsHostAndSegment(f *testing.F) {
	for _, s := range []string{"Paris", "a/b", "../..", "?x=1", "#frag", "%2F", "@evil.example", "\r\nX: y", "日本"} {
		f.Add(s)
	}
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	f.Fuzz(func(t *testing.T, v string) {
		h := &source.HTTP{URL: srv.URL + "/w/{{.params.v}}/x?q={{.params.v}}", Header: http.Header{"X-V": {"{{.params.v}}"}}}
		var got *http.Request
		h.Transport = roundTripFunc(func(r *http.Request) (*http.Response, error) {
			got = r
			return nil, errors.New("stop")
		})
		whole(context.Background(), h, &source.Call{Params: map[string]string{"v": v}})
		if got == nil {
			return // rendering refused it (too large)
		}
		if got.URL.Host != host || got.Host != host {
			t.Fatalf("%q moved the call to %q", v, got.URL.Host)
		}
		if !strings.HasPrefix(got.URL.EscapedPath(), "/w/") || !strings.HasSuffix(got.URL.EscapedPath(), "/x") ||
			strings.Count(got.URL.EscapedPath(), "/") != 3 {
			t.Fatalf("%q escaped its path segment: %q", v, got.URL.EscapedPath())
		}
		if got.URL.Query().Get("q") != v && utf8.ValidString(v) {
			t.Fatalf("%q came back from the query as %q", v, got.URL.Query().Get("q"))
		}
		if strings.ContainsAny(got.Header.Get("X-V"), "\r\n") {
			t.Fatalf("%q put a line break in a header", v)
		}
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// An upstream that echoes the key it was sent in its error does not put
// it in the report: the error shows the rest.
func TestHostileEchoedKeys(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"error":{"message":"Incorrect API key provided: `+r.Header.Get("Authorization")+` / `+r.Header.Get("X-Api-Key")+`","type":"auth"}}`, 401)
	}))
	defer srv.Close()
	defer source.Pool.CloseIdleConnections()
	h := &source.HTTP{URL: srv.URL, Header: http.Header{"Authorization": {"Bearer sk-http-0123456789"}, "X-Api-Key": {"k-0123456789"}}}
	_, err := whole(t.Context(), h, nil)
	o := &source.OpenAI{LLM: source.LLM{BaseURL: srv.URL + "/v1", Model: "m", APIKey: "sk-llm-0123456789", User: "hi"}}
	_, err2 := whole(t.Context(), o, nil)
	for _, e := range []error{err, err2} {
		if e == nil || strings.Contains(e.Error(), "0123456789") || !strings.Contains(e.Error(), "Incorrect API key provided") {
			t.Errorf("%v", e)
		}
	}
}
