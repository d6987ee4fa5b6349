package door

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/citypopy/highway/source"
)

// eventWriter writes server-sent events to one client, each flushed,
// each with a fresh write deadline of timeout, so that a client that
// stops reading is let go rather than held.
type eventWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
	buf     []byte
	err     error // the first write that failed; every write after it is dropped
}

func newEventWriter(w http.ResponseWriter, timeout time.Duration) *eventWriter {
	return &eventWriter{w: w, rc: http.NewResponseController(w), timeout: timeout}
}

// write sends e: its name, if it has one, and its data.
func (ew *eventWriter) write(e source.Event) error {
	if ew.err != nil {
		return ew.err
	}
	if ew.timeout > 0 {
		ew.rc.SetWriteDeadline(time.Now().Add(ew.timeout))
	}
	b := ew.buf[:0]
	if e.Name != "" {
		b = append(append(append(b, "event: "...), e.Name...), '\n')
	}
	b = append(append(append(b, "data: "...), e.Data...), "\n\n"...)
	ew.buf = b
	if _, ew.err = ew.w.Write(b); ew.err == nil {
		ew.err = ew.rc.Flush()
	}
	return ew.err
}

// serverTiming is a door answer's standard Server-Timing: its wait for an
// admission place, until its first token, the provider's time, the whole.
type serverTiming struct {
	queued, firstToken, upstream time.Duration
}

// String is the header's value, with total when it is known (not 0).
func (t serverTiming) String(total time.Duration) string {
	var b strings.Builder
	metric := func(name string, d time.Duration) {
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		b.WriteString(name + ";dur=" + strconv.FormatFloat(float64(d.Microseconds())/1000, 'f', 3, 64))
	}
	metric("queue", t.queued)
	metric("first_token", t.firstToken)
	if t.upstream > 0 {
		metric("upstream", t.upstream)
	}
	if total > 0 {
		metric("total", total)
	}
	return b.String()
}
