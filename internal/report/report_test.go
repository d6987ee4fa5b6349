package report

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/citypopy/highway/fanout"
	"github.com/citypopy/highway/policy"
)

func sample() *fanout.Report[json.RawMessage] {
	return &fanout.Report[json.RawMessage]{
		Results: []fanout.Result[json.RawMessage]{
			{Name: "weather", Index: 0, Value: json.RawMessage(`{"temp": "22°C"}`), End: 301200 * time.Microsecond},
			{Name: "image", Index: 1, Value: json.RawMessage(`{"url":"/img/popy.png"}`), Start: 100 * time.Microsecond, End: 802500 * time.Microsecond},
			{Name: "chat", Index: 2, Err: &fanout.TimeoutError{Timeout: 500 * time.Millisecond}, End: 500 * time.Millisecond, Abandoned: true},
		},
		Total: 802500 * time.Microsecond, Sum: 1603600 * time.Microsecond, Slowest: 1, CriticalPath: []int{1}, Lanes: 3,
	}
}

func TestAppendRoundTripsThroughDocument(t *testing.T) {
	b := Append(nil, &Route{Path: "/city-report", Optional: []bool{false, false, true}}, ModeConcurrent, sample(), nil, nil)
	if !json.Valid(b) {
		t.Fatalf("invalid JSON: %s", b)
	}
	if !strings.Contains(string(b), `"data":{"temp": "22°C"}`) {
		t.Errorf("source JSON was not passed through as it came: %s", b)
	}
	d, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if d.Route != "/city-report" || d.Mode != "concurrent" || d.Complete || d.TotalMS != 802.5 || d.SumMS != 1603.6 || d.Slowest != "image" || fmt.Sprint(d.CriticalPath) != "[image]" || d.Failed != 1 || d.Lanes != 3 {
		t.Errorf("%+v", d)
	}
	names := []string{}
	for _, s := range d.Sources {
		names = append(names, s.Name)
	}
	if fmt.Sprint(names) != "[weather image chat]" {
		t.Errorf("order %v", names)
	}
	chat := d.Sources.Get("chat")
	if chat.Status != "error" || chat.Reason != "timeout" || chat.Error != "timeout after 500ms" || !chat.Abandoned || !chat.Optional || chat.Data != nil {
		t.Errorf("chat %+v", chat)
	}
	if w := d.Sources.Get("weather"); w.Status != "ok" || w.LatencyMS != 301.2 || w.StartMS != 0 || w.EndMS != 301.2 || w.Attempts != 1 {
		t.Errorf("weather %+v", w)
	}
}

func TestReasons(t *testing.T) {
	cases := []struct {
		err  error
		want string
	}{
		{nil, ""},
		{&fanout.TimeoutError{}, ReasonTimeout},
		{&fanout.DeadlineError{}, ReasonDeadline},
		{&fanout.NotStartedError{Cause: &fanout.DeadlineError{}}, ReasonNotStarted},
		{&fanout.PanicError{Value: 1}, ReasonPanic},
		{context.Canceled, ReasonCanceled},
		{fmt.Errorf("get: %w", context.DeadlineExceeded), ReasonDeadline},
		{errors.New("upstream answered 500"), ReasonFailed},
	}
	for _, c := range cases {
		if got := Reason(c.err); got != c.want {
			t.Errorf("Reason(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "quote\" back\\slash", "\x00\x1f\n\t", "bad \xff utf8", "\u2028\u2029", "22°C 🚦"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := appendString(nil, s)
		var got string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("%q encoded as invalid JSON %s: %v", s, b, err)
		}
		want := strings.ToValidUTF8(s, "\uFFFD")
		if utf8.ValidString(s) && got != s || !utf8.ValidString(s) && len([]rune(got)) != len([]rune(string([]rune(s)))) {
			t.Fatalf("%q came back as %q (want %q)", s, got, want)
		}
	})
}

func BenchmarkAppend(b *testing.B) {
	rep := sample()
	buf := make([]byte, 0, 1024)
	for b.Loop() {
		buf = Append(buf[:0], &Route{Path: "/city-report"}, ModeConcurrent, rep, nil, nil)
	}
}

// BenchmarkMarshal is what Append is measured against: the same document
// marshalled with encoding/json.
func BenchmarkMarshal(b *testing.B) {
	d, err := Decode(Append(nil, &Route{Path: "/city-report"}, ModeConcurrent, sample(), nil, nil))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := json.Marshal(d); err != nil {
			b.Fatal(err)
		}
	}
}

func TestSkippedAndFallbackSourcesSayWhy(t *testing.T) {
	rep := &fanout.Report[json.RawMessage]{Results: []fanout.Result[json.RawMessage]{
		{Name: "search", Index: 0, Err: errors.New("upstream down"), End: 40 * time.Millisecond},
		{Name: "chat", Index: 1, Err: &fanout.SkippedError{Need: "search", Err: errors.New("upstream down")}, Start: 40 * time.Millisecond, End: 40 * time.Millisecond},
		{Name: "brief", Index: 2, Value: json.RawMessage(`"ok"`), Fallbacks: []string{"search"}, Start: 40 * time.Millisecond, End: 90 * time.Millisecond},
	}, Slowest: -1}
	rt := &Route{Path: "/r", Needs: [][]string{nil, {"search"}, {"search"}}}
	d, err := Decode(Append(nil, rt, ModeConcurrent, rep, nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	chat, brief := d.Sources.Get("chat"), d.Sources.Get("brief")
	if chat.Status != "skipped" || chat.Reason != ReasonNeed || chat.Need != "search" || chat.Error != "skipped: need search failed: upstream down" ||
		fmt.Sprint(chat.Needs) != "[search]" || chat.StartMS != 40 || chat.LatencyMS != 0 {
		t.Errorf("chat %+v", chat)
	}
	if brief.Status != "ok" || fmt.Sprint(brief.FallbackFor) != "[search]" || fmt.Sprint(brief.Needs) != "[search]" {
		t.Errorf("brief %+v", brief)
	}
	if s := d.Sources.Get("search"); s.Needs != nil || s.FallbackFor != nil {
		t.Errorf("search %+v", s)
	}
}

func TestAppendSourceIsTheEventBody(t *testing.T) {
	rep := sample()
	var e SourceEntry
	if err := json.Unmarshal(AppendSource(nil, &Route{Optional: []bool{false, false, true}}, &rep.Results[2], nil, nil), &e); err != nil {
		t.Fatal(err)
	}
	if e.Name != "chat" || e.Reason != "timeout" || !e.Optional || e.EndMS != 500 {
		t.Errorf("%+v", e)
	}
}

// What the policies recorded on a source's trace is in its entry: the
// attempts and the marks; a source never called made no attempt.
func TestPoliciesRecordedOnTracesAreReported(t *testing.T) {
	rep := sample()
	rep.Results = append(rep.Results, fanout.Result[json.RawMessage]{Name: "search", Index: 3,
		Err: &fanout.NotStartedError{Cause: context.Canceled}})
	traces := make([]policy.Trace, 4)
	traces[0].AddAttempt()
	traces[0].AddAttempt()
	traces[0].Mark(policy.Hedged | policy.HedgeWon)
	traces[1].Mark(policy.CacheHit)
	d, err := Decode(Append(nil, &Route{Path: "/r"}, ModeConcurrent, rep, traces, nil))
	if err != nil {
		t.Fatal(err)
	}
	w, img, chat, search := d.Sources.Get("weather"), d.Sources.Get("image"), d.Sources.Get("chat"), d.Sources.Get("search")
	if w.Attempts != 2 || !w.Hedged || !w.HedgeWon || w.Cached {
		t.Errorf("weather %+v", w)
	}
	if img.Attempts != 0 || !img.Cached || chat.Attempts != 1 || search.Attempts != 0 {
		t.Errorf("image %d cached %v, chat %d, search %d attempts", img.Attempts, img.Cached, chat.Attempts, search.Attempts)
	}
}
