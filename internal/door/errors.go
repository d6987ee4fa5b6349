package door

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/citypopy/highway/fanout"
	"github.com/citypopy/highway/internal/clients"
	"github.com/citypopy/highway/internal/upstream"
	"github.com/citypopy/highway/policy"
	"github.com/citypopy/highway/source"
)

// Error is a door request refused or failed, said in the door's dialect:
// OpenAI's {"error": {"message", "type", "param", "code"}} or Anthropic's
// {"type": "error", "error": {"type", "message"}}, with its status.
type Error struct {
	Status int
	// Type is the error's type in OpenAI's words; Anthropic's is taken
	// from Status.
	Type       string
	Code       string // OpenAI's code, such as model_not_found; "" for none
	Param      string // the request field at fault; "" for none
	Msg        string
	RetryAfter string // seconds, for a 429 or 503; "" for none
}

// Error is the message.
func (e *Error) Error() string { return e.Msg }

// openAIType is OpenAI's error type for status.
func openAIType(status int) string {
	switch {
	case status == http.StatusUnauthorized:
		return "authentication_error"
	case status == http.StatusForbidden:
		return "permission_error"
	case status == http.StatusTooManyRequests:
		return "rate_limit_error"
	case status >= 500:
		return "server_error"
	}
	return "invalid_request_error"
}

// anthropicType is Anthropic's error type for status.
func anthropicType(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return "authentication_error"
	case http.StatusForbidden:
		return "permission_error"
	case http.StatusNotFound:
		return "not_found_error"
	case http.StatusRequestEntityTooLarge:
		return "request_too_large"
	case http.StatusTooManyRequests:
		return "rate_limit_error"
	case http.StatusServiceUnavailable, 529:
		return "overloaded_error"
	case http.StatusGatewayTimeout:
		return "timeout_error"
	}
	if status >= 500 {
		return "api_error"
	}
	return "invalid_request_error"
}

// WriteError answers err in the dialect of the door at path: an *Error
// as it says, a client's refusal (*clients.Refusal) with its status, and
// anything else as a 500.
func WriteError(w http.ResponseWriter, path string, err error) {
	writeError(w, dialectOf(path), asError(err))
}

func asError(err error) *Error {
	if e, ok := errors.AsType[*Error](err); ok {
		return e
	}
	if r, ok := errors.AsType[*clients.Refusal](err); ok {
		return &Error{Status: r.Status, Msg: r.Msg, RetryAfter: r.RetryAfter, Code: refusalCode(r.Status)}
	}
	return &Error{Status: http.StatusInternalServerError, Msg: err.Error()}
}

func refusalCode(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return "invalid_api_key"
	case http.StatusTooManyRequests:
		return "rate_limit_exceeded"
	}
	return ""
}

func writeError(w http.ResponseWriter, d source.Dialect, e *Error) {
	if e.RetryAfter != "" {
		w.Header().Set("Retry-After", e.RetryAfter)
	}
	var b []byte
	if d == source.DialectAnthropic {
		b, _ = json.Marshal(map[string]any{"type": "error", "error": map[string]string{"type": anthropicType(e.Status), "message": e.Msg}})
	} else {
		typ := e.Type
		if typ == "" {
			typ = openAIType(e.Status)
		}
		b, _ = json.Marshal(map[string]any{"error": map[string]any{"message": e.Msg, "type": typ, "param": nilIfEmpty(e.Param), "code": nilIfEmpty(e.Code)}})
	}
	writeJSON(w, e.Status, b)
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// badRequest is a 400 for err, a *source.FieldError naming its field.
func badRequest(err error) *Error {
	e := &Error{Status: http.StatusBadRequest, Msg: err.Error()}
	if f, ok := errors.AsType[*source.FieldError](err); ok {
		e.Param = f.Field
	}
	return e
}

// unknownModel is the 404 for a model not configured, or that the client
// of req may not use (as a provider says of a model a key has no access
// to), naming those it may.
func (d *Door) unknownModel(name string, req Request) *Error {
	var may []string
	for _, m := range d.names {
		if req.may(m) {
			may = append(may, m)
		}
	}
	return &Error{Status: http.StatusNotFound, Code: "model_not_found",
		Msg: fmt.Sprintf("The model %q does not exist or you do not have access to it; models: %s", name, strings.Join(may, ", "))}
}

// failed is the error for a model whose sources all failed: 400 when the
// request cannot be put to the last (a field it cannot translate); 429 when
// every one was rate limited (with the shortest wait they asked), 503
// when they were all open-circuit, 504 for timeouts, 502 otherwise;
// saying what each tried source did.
func failed(m *model, tr *policy.Trace, err error) *Error {
	if _, ok := errors.AsType[*source.FieldError](err); ok {
		// The request asks what the last provider's API cannot say: the
		// client's to mend, by the field.
		e := badRequest(err)
		e.Msg = "model " + m.name + ": " + e.Msg
		return e
	}
	steps, _ := tr.Failovers()
	var tried []string
	reasons := map[string]int{}
	var wait time.Duration
	note := func(name string, err error) {
		r := upstream.Failure(err)
		if errors.Is(err, context.DeadlineExceeded) || is[*fanout.TimeoutError](err) {
			r = "timeout"
		}
		reasons[r]++
		msg := err.Error()
		if s, ok := errors.AsType[*source.StatusError](err); ok && (s.Code == http.StatusUnauthorized || s.Code == http.StatusForbidden) {
			// What a provider says of a key it refused may quote the key:
			// Highway's own, which no client is shown.
			msg = fmt.Sprintf("the provider refused Highway's credentials (%d)", s.Code)
		}
		tried = append(tried, name+": "+r+" ("+msg+")")
		if s, ok := errors.AsType[*source.StatusError](err); ok && s.Code == http.StatusTooManyRequests && (wait == 0 || s.Wait < wait) {
			wait = s.Wait
		}
	}
	for _, st := range steps {
		if !is[*policy.HedgeLostError](st.Err) {
			note(st.Name, st.Err)
		}
	}
	if len(tried) == 0 { // a single source, or one that failed before any move
		note(m.use[0], err)
	}
	n := len(tried)
	e := &Error{Status: http.StatusBadGateway, Msg: fmt.Sprintf("model %s: every provider tried failed: %s", m.name, strings.Join(tried, "; "))}
	switch {
	case reasons["429"] == n:
		e.Status, e.RetryAfter = http.StatusTooManyRequests, strconv.Itoa(max(1, int((wait+time.Second-1)/time.Second)))
	case reasons["breaker_open"] == n:
		e.Status, e.RetryAfter = http.StatusServiceUnavailable, "1"
	case reasons["timeout"]+reasons["first_token"]+reasons["stall"] == n:
		e.Status = http.StatusGatewayTimeout
	case reasons["4xx"] > 0 && n == 1:
		// The provider refused the request itself (a bad field it alone
		// knows): the client's to mend, said as the provider said it.
		if s, ok := errors.AsType[*source.StatusError](err); ok && s.Code != http.StatusUnauthorized && s.Code != http.StatusForbidden {
			e.Status = s.Code
		}
	}
	return e
}

func is[E error](err error) bool {
	_, ok := errors.AsType[E](err)
	return ok
}
