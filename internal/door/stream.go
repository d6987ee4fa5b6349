package door

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/citypopy/highway/source"
)

// eventWriter writes server-sent events to one client, a batch of them
// (what a provider sent together) in one write and one flush, each write
// with a fresh deadline of timeout, so that a client that stops reading is
// let go rather than held.
type eventWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
	buf     []byte // the batch not yet written
	err     error  // the first write that failed; every write after it is dropped
}

func newEventWriter(w http.ResponseWriter, timeout time.Duration) *eventWriter {
	return &eventWriter{w: w, rc: http.NewResponseController(w), timeout: timeout}
}

// add puts e in the batch: its name, if it has one, and its data.
func (ew *eventWriter) add(e source.Event) {
	b := ew.buf
	if e.Name != "" {
		b = append(append(append(b, "event: "...), e.Name...), '\n')
	}
	ew.buf = append(append(append(b, "data: "...), e.Data...), "\n\n"...)
}

// flush writes the batch and flushes it to the client.
func (ew *eventWriter) flush() error {
	if ew.err != nil || len(ew.buf) == 0 {
		ew.buf = ew.buf[:0]
		return ew.err
	}
	if ew.timeout > 0 {
		ew.rc.SetWriteDeadline(time.Now().Add(ew.timeout))
	}
	if _, ew.err = ew.w.Write(ew.buf); ew.err == nil {
		ew.err = ew.rc.Flush()
	}
	ew.buf = ew.buf[:0]
	return ew.err
}

// write sends e at once, with what the batch holds before it.
func (ew *eventWriter) write(e source.Event) error {
	ew.add(e)
	return ew.flush()
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
