package server

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/citypopy/highway/fanout"
)

// This file is the one place where outcomes become HTTP statuses.

// StatusClientClosedRequest is written (for logs; nobody reads it) when the
// client went away before its report was ready, as nginx does.
const StatusClientClosedRequest = 499

// reportStatus is the status of a route's report: 200 while any source
// answered, 502 when every source failed, 504 when the route's deadline
// cut it short. The body is the partial report in every case.
func reportStatus(rep *fanout.Report[json.RawMessage]) int {
	switch {
	case rep.Canceled:
		return StatusClientClosedRequest
	case rep.DeadlineExceeded:
		return http.StatusGatewayTimeout
	case len(rep.Results) > 0 && rep.Failed() == len(rep.Results):
		return http.StatusBadGateway
	}
	return http.StatusOK
}

// requestError is a request Highway will not serve, and the status that
// says why.
type requestError struct {
	status int
	msg    string
	allow  string // for 405
}

func (e *requestError) Error() string { return e.msg }

func badRequest(msg string) error {
	return &requestError{status: http.StatusBadRequest, msg: msg}
}

// writeError answers err as a JSON {"error": ...} with its status; an error
// that is not a requestError is an internal one.
func writeError(w http.ResponseWriter, err error) {
	status, msg := http.StatusInternalServerError, "internal error"
	var re *requestError
	if errors.As(err, &re) {
		status, msg = re.status, re.msg
		if re.allow != "" {
			w.Header().Set("Allow", re.allow)
		}
	}
	body, _ := json.Marshal(map[string]string{"error": msg})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(append(body, '\n'))
}
