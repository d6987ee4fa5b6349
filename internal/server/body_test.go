package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/citypopy/highway/internal/report"
	"github.com/citypopy/highway/internal/upstream"
)

func TestPostRoutesForwardTheirJSONBody(t *testing.T) {
	t.Parallel()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		json.NewEncoder(w).Encode(map[string]any{"method": r.Method, "type": r.Header.Get("Content-Type"), "key": r.Header.Get("X-Key"), "body": json.RawMessage(orNull(b))})
	}))
	defer func() { upstream.Pool.CloseIdleConnections(); up.Close() }()
	s := newServer(t, fmt.Sprintf(`
sources:
  ask:   {kind: http, method: POST, url: "%[1]s/ask", forward_body: true, headers: {X-Key: k}}
  plain: {kind: http, url: "%[1]s/plain", headers: {X-Key: k}}
routes:
  - {path: /ask, method: POST, sources: [ask, plain], max_body: 64}
`, up.URL))
	front := httptest.NewServer(s)
	defer front.Close()
	defer http.DefaultClient.CloseIdleConnections()

	post := func(body string) (int, []byte) {
		resp, err := http.Post(front.URL+"/ask", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	var wg sync.WaitGroup
	for i := range 8 { // concurrently: the shared header map must never be written
		wg.Go(func() {
			code, b := post(fmt.Sprintf(`{"question":"weather?","n":%d}`, i))
			d, err := report.Decode(b)
			if err != nil {
				t.Error(err)
				return
			}
			var ask, plain struct {
				Method, Type, Key string
				Body              json.RawMessage
			}
			json.Unmarshal(d.Sources.Get("ask").Data, &ask)
			json.Unmarshal(d.Sources.Get("plain").Data, &plain)
			if code != 200 || ask.Method != "POST" || ask.Type != "application/json" || ask.Key != "k" ||
				!bytes.Equal(ask.Body, []byte(fmt.Sprintf(`{"question":"weather?","n":%d}`, i))) ||
				plain.Method != "GET" || plain.Type != "" || string(plain.Body) != "null" {
				t.Errorf("%d ask %+v plain %+v", code, ask, plain)
			}
		})
	}
	wg.Wait()
	for body, want := range map[string]string{
		`{"question": "` + strings.Repeat("x", 100) + `"}`: "413 request body larger than 64 bytes",
		`not json`: "400 the request body is not JSON",
	} {
		code, b := post(body)
		var e map[string]string
		json.Unmarshal(b, &e)
		if fmt.Sprintf("%d %s", code, e["error"]) != want {
			t.Errorf("%q: %d %s, want %s", body[:min(len(body), 20)], code, b, want)
		}
	}
}

func orNull(b []byte) []byte {
	if len(b) == 0 {
		return []byte("null")
	}
	return b
}
