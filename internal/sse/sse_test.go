package sse

import (
	"bytes"
	"io"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
)

func TestEventsAreWrittenInTheStreamFormat(t *testing.T) {
	rec := httptest.NewRecorder()
	w := NewWriter(rec, 0)
	w.Event(1, "source", []byte(`{"name":"weather"}`))
	w.Comment("heartbeat")
	w.Event(2, "multi", []byte("a\nb\r\nc"))
	want := "id: 1\nevent: source\ndata: {\"name\":\"weather\"}\n\n: heartbeat\n\nid: 2\nevent: multi\ndata: a\ndata: b\ndata: c\n\n"
	if rec.Body.String() != want || rec.Header().Get("Content-Type") != "text/event-stream" || !rec.Flushed {
		t.Errorf("%q\n%v", rec.Body.String(), rec.Header())
	}
	r := NewReader(strings.NewReader(rec.Body.String()))
	e, _ := r.Next()
	if e.ID != "1" || e.Type != "source" || string(e.Data) != `{"name":"weather"}` {
		t.Errorf("%+v", e)
	}
	e, _ = r.Next()
	if e.ID != "2" || string(e.Data) != "a\nb\nc" {
		t.Errorf("%+v", e)
	}
	if _, err := r.Next(); err != io.EOF {
		t.Errorf("want EOF, got %v", err)
	}
}

func FuzzWriterReaderRoundTrip(f *testing.F) {
	f.Add("source", []byte(`{"a":1}`))
	f.Add("x\ny", []byte("line1\r\nline2\rline3\n"))
	f.Add("", []byte(""))
	f.Fuzz(func(t *testing.T, event string, data []byte) {
		rec := httptest.NewRecorder()
		NewWriter(rec, 0).Event(7, event, data)
		e, err := NewReader(bytes.NewReader(rec.Body.Bytes())).Next()
		if err != nil {
			t.Fatalf("%q: %v", rec.Body.String(), err)
		}
		norm := bytes.ReplaceAll(bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n")), []byte("\r"), []byte("\n"))
		if e.ID != "7" || e.Type != oneLine(event) || !bytes.Equal(e.Data, norm) {
			t.Fatalf("event %q data %q came back as %+v", event, data, e)
		}
	})
}

// TestNumberedIdsReachTheWireInOrder: events written from several
// goroutines (a stream's deltas come from its sources' goroutines) carry
// ids that increase along the stream, with none missing.
func TestNumberedIdsReachTheWireInOrder(t *testing.T) {
	rec := httptest.NewRecorder()
	w := NewWriter(rec, 0)
	const writers, each = 8, 200
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for range each {
				w.Numbered("delta", []byte("x"))
			}
		})
	}
	wg.Wait()
	r := NewReader(strings.NewReader(rec.Body.String()))
	for want := 1; ; want++ {
		e, err := r.Next()
		if err == io.EOF {
			if want != writers*each+1 {
				t.Fatalf("%d events, want %d", want-1, writers*each)
			}
			return
		}
		if e.ID != strconv.Itoa(want) {
			t.Fatalf("event %d has id %q", want, e.ID)
		}
	}
}
