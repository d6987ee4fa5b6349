// Package sse writes and reads Server-Sent Events (the text/event-stream
// format of the HTML standard): Writer flushes each event the moment it is
// written, and Reader parses a stream back into events, for tests and
// clients.
package sse

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Writer writes events to an HTTP response, flushing each one. It is safe
// for concurrent use (a heartbeat may write between events).
type Writer struct {
	mu      sync.Mutex
	w       io.Writer
	rc      *http.ResponseController
	timeout time.Duration
	buf     []byte
	err     error
	lastID  int // the last id Numbered gave
}

// NewWriter sets the event-stream headers on w, sends them, and returns a
// Writer for the events. Each write (headers, event, comment) must be
// taken by the client within timeout, or it fails and so does every later
// one: a stream lasts as long as it must, but a client that stops reading
// cannot hold it. Zero means no deadline, as does a writer that cannot
// set one.
func NewWriter(w http.ResponseWriter, timeout time.Duration) *Writer {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // tell nginx-like proxies not to buffer
	sw := &Writer{w: w, rc: http.NewResponseController(w), timeout: timeout}
	sw.deadline()
	w.WriteHeader(http.StatusOK)
	sw.flush()
	return sw
}

func (s *Writer) deadline() {
	if s.timeout > 0 {
		s.rc.SetWriteDeadline(time.Now().Add(s.timeout)) // unsupported: no deadline
	}
}

// Event writes one event with an id, a type and data. Data may hold several
// lines; each becomes its own data: line, as the format requires. It
// returns the first write error, after which every write fails.
func (s *Writer) Event(id int, event string, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.event(id, event, data)
}

// Numbered writes one event with the next id of the stream (1, 2, …),
// taken under the same lock as the write: events written from several
// goroutines reach the wire with their ids in order, which a counter
// outside the writer cannot promise.
func (s *Writer) Numbered(event string, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastID++
	return s.event(s.lastID, event, data)
}

func (s *Writer) event(id int, event string, data []byte) error {
	b := s.buf[:0]
	if id > 0 {
		b = append(b, "id: "...)
		b = strconv.AppendInt(b, int64(id), 10)
		b = append(b, '\n')
	}
	if event != "" {
		b = append(b, "event: "...)
		b = append(b, oneLine(event)...)
		b = append(b, '\n')
	}
	for _, line := range lines(data) {
		b = append(b, "data: "...)
		b = append(b, line...)
		b = append(b, '\n')
	}
	b = append(b, '\n')
	s.buf = b
	return s.write(b)
}

// Comment writes a comment line, which clients ignore: a heartbeat that
// keeps proxies from cutting a quiet stream.
func (s *Writer) Comment(text string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.write([]byte(": " + oneLine(text) + "\n\n"))
}

func (s *Writer) write(b []byte) error {
	if s.err != nil {
		return s.err
	}
	s.deadline()
	if _, err := s.w.Write(b); err != nil {
		s.err = err
		return err
	}
	return s.flush()
}

// ErrClosed is the error of a write to a closed Writer.
var ErrClosed = errors.New("sse: write after the stream was closed")

// Close ends the stream for the writer: every later write fails with
// ErrClosed without touching the response, so that nothing reaches a
// response whose handler has returned. It waits for a write under way.
func (s *Writer) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		s.err = ErrClosed
	}
}

func (s *Writer) flush() error {
	if err := s.rc.Flush(); err != nil && s.err == nil {
		s.err = err
	}
	return s.err
}

// lines splits data at \n, \r\n or \r, the line ends the format knows.
func lines(data []byte) [][]byte {
	data = bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n"))
	data = bytes.ReplaceAll(data, []byte("\r"), []byte("\n"))
	return bytes.Split(data, []byte("\n"))
}

func oneLine(s string) string { return strings.NewReplacer("\r", " ", "\n", " ").Replace(s) }

// Event is one event read from a stream.
type Event struct {
	ID, Type string
	Data     []byte
}

// Reader reads events from a text/event-stream body.
type Reader struct {
	sc *bufio.Scanner
}

// NewReader reads events from r. Lines up to 1 MiB are accepted.
func NewReader(r io.Reader) *Reader {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	return &Reader{sc: sc}
}

// Next returns the next event, skipping comments; io.EOF at the end.
func (r *Reader) Next() (*Event, error) {
	var e Event
	var data [][]byte
	seen := false
	for r.sc.Scan() {
		line := r.sc.Text()
		if line == "" {
			if seen {
				e.Data = bytes.Join(data, []byte("\n"))
				return &e, nil
			}
			continue
		}
		if strings.HasPrefix(line, ":") {
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		seen = true
		switch field {
		case "id":
			e.ID = value
		case "event":
			e.Type = value
		case "data":
			data = append(data, []byte(value))
		}
	}
	if err := r.sc.Err(); err != nil {
		return nil, err
	}
	return nil, io.EOF
}

// ReadAll reads every event of r to its end.
func ReadAll(r io.Reader) ([]*Event, error) {
	var events []*Event
	rd := NewReader(r)
	for {
		e, err := rd.Next()
		if err == io.EOF {
			return events, nil
		}
		if err != nil {
			return events, err
		}
		events = append(events, e)
	}
}
