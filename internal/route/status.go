package route

import (
	"encoding/json"
	"net/http"

	"github.com/citypopy/highway/fanout"
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
