package server

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/citypopy/highway/fanout"
	"github.com/citypopy/highway/internal/clients"
	"github.com/citypopy/highway/internal/report"
)

// This file is the one place where outcomes become HTTP statuses.

// StatusClientClosedRequest is written (for logs; nobody reads it) when the
// client went away before its report was ready, as nginx does.
const StatusClientClosedRequest = 499

// reportStatus is the status of a route's report, decided by its required
// sources alone: 504 when the route's deadline cut one off, 502 when every
// one failed, else 200 (with "complete" saying whether all answered). A
// route whose sources are all optional is 502 only when all failed. The
// body is the partial report in every case.
func reportStatus(rep *fanout.Report[json.RawMessage], optional []bool) int {
	if rep.Canceled {
		return StatusClientClosedRequest
	}
	required, failed, cut := 0, 0, false
	for i := range rep.Results {
		if optional[i] {
			continue
		}
		required++
		if err := rep.Results[i].Err; err != nil {
			failed++
			if r := report.Reason(err); r == report.ReasonDeadline || r == report.ReasonNotStarted {
				cut = true
			}
		}
	}
	switch {
	case cut && rep.DeadlineExceeded:
		return http.StatusGatewayTimeout
	case required > 0 && failed == required:
		return http.StatusBadGateway
	case required == 0 && rep.Failed() == len(rep.Results) && len(rep.Results) > 0:
		return http.StatusBadGateway
	}
	return http.StatusOK
}

// requestError is a request Highway will not serve, and the status that
// says why.
type requestError struct {
	status     int
	msg        string
	allow      string // for 405
	retryAfter string // seconds, for 429 and 503
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
	if r, ok := errors.AsType[*clients.Refusal](err); ok { // a caller refused: the same answer, in the same dialect
		re = &requestError{status: r.Status, msg: r.Msg, retryAfter: r.RetryAfter}
	}
	if re != nil || errors.As(err, &re) {
		status, msg = re.status, re.msg
		if re.allow != "" {
			w.Header().Set("Allow", re.allow)
		}
		if re.retryAfter != "" {
			w.Header().Set("Retry-After", re.retryAfter)
		}
		if status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer realm="highway"`)
		}
	}
	body, _ := json.Marshal(map[string]string{"error": msg})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(append(body, '\n'))
}
