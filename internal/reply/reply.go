// Package reply writes Highway's answers in its own JSON dialect: a value,
// or an error as {"error": ...} with the status that says why.
package reply

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/citypopy/highway/internal/clients"
)

// Error is a request Highway will not serve, and the status that says
// why. Its zero value is not useful: Status and Msg are required.
type Error struct {
	Status     int
	Msg        string
	Allow      string // the methods allowed, for a 405
	RetryAfter string // seconds, for a 429 or a 503
}

// Error is the message the client is told.
func (e *Error) Error() string { return e.Msg }

// BadRequest is a 400 saying msg.
func BadRequest(msg string) error {
	return &Error{Status: http.StatusBadRequest, Msg: msg}
}

// WriteError answers err as {"error": ...} with its status. An *Error and
// a *clients.Refusal say what they are; any other error is an internal
// one, and its text is not told.
func WriteError(w http.ResponseWriter, err error) {
	e := &Error{Status: http.StatusInternalServerError, Msg: "internal error"}
	if r, ok := errors.AsType[*clients.Refusal](err); ok { // a caller refused: the same answer, in the same dialect
		e = &Error{Status: r.Status, Msg: r.Msg, RetryAfter: r.RetryAfter}
	} else if re, ok := errors.AsType[*Error](err); ok {
		e = re
	}
	h := w.Header()
	if e.Allow != "" {
		h.Set("Allow", e.Allow)
	}
	if e.RetryAfter != "" {
		h.Set("Retry-After", e.RetryAfter)
	}
	if e.Status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", `Bearer realm="highway"`)
	}
	body, _ := json.Marshal(map[string]string{"error": e.Msg})
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(e.Status)
	w.Write(append(body, '\n'))
}

// JSON answers v as JSON, 200, never cached.
func JSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(v)
}
