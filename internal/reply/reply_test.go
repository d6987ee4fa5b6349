package reply_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/citypopy/highway/internal/clients"
	"github.com/citypopy/highway/internal/reply"
)

func TestAnErrorIsToldInItsOwnStatusAndHeaders(t *testing.T) {
	for _, c := range []struct {
		err     error
		status  int
		msg     string
		headers map[string]string
	}{
		{reply.BadRequest("lanes must be a positive integer"), 400, "lanes must be a positive integer", nil},
		{&reply.Error{Status: 405, Msg: "use POST", Allow: "POST"}, 405, "use POST", map[string]string{"Allow": "POST"}},
		{fmt.Errorf("wrapped: %w", &reply.Error{Status: 503, Msg: "shutting down", RetryAfter: "1"}), 503, "shutting down", map[string]string{"Retry-After": "1"}},
		{&clients.Refusal{Status: 401, Msg: "the API key is not valid"}, 401, "the API key is not valid", map[string]string{"WWW-Authenticate": `Bearer realm="highway"`}},
		{&clients.Refusal{Status: 429, Msg: "rate spent", RetryAfter: "3"}, 429, "rate spent", map[string]string{"Retry-After": "3"}},
		{errors.New("a secret path /etc/x"), 500, "internal error", nil},
	} {
		rec := httptest.NewRecorder()
		reply.WriteError(rec, c.err)
		var body map[string]string
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || rec.Code != c.status || body["error"] != c.msg {
			t.Errorf("%v: %d %s, want %d %q", c.err, rec.Code, rec.Body, c.status, c.msg)
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Errorf("%v: Content-Type %q", c.err, ct)
		}
		for k, v := range c.headers {
			if got := rec.Header().Get(k); got != v {
				t.Errorf("%v: %s %q, want %q", c.err, k, got, v)
			}
		}
	}
}

func ExampleWriteError() {
	rec := httptest.NewRecorder()
	reply.WriteError(rec, &reply.Error{Status: http.StatusMethodNotAllowed, Msg: "method PUT not allowed on /city; use GET", Allow: "GET"})
	fmt.Print(rec.Code, " ", rec.Header().Get("Allow"), " ", rec.Body)
	// Output: 405 GET {"error":"method PUT not allowed on /city; use GET"}
}
