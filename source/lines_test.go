package source

import (
	"bufio"
	"strings"
	"testing"
	"testing/iotest"
)

// The lines are a bufio.Scanner's, whatever the buffer, the line lengths
// and the reads' sizes.
func FuzzLinesAreAScannersLines(f *testing.F) {
	for _, s := range []string{"", "a", "a\n", "a\r\nb", "data: {}\n\nevent: x\ndata: y\n", strings.Repeat("x", 40) + "\n\n", "\r\n\r", strings.Repeat("0", 64), strings.Repeat("0", 67)} {
		f.Add(s, uint8(16))
	}
	f.Fuzz(func(t *testing.T, in string, size uint8) {
		const limit = 64 // bytes a line
		sc := bufio.NewScanner(strings.NewReader(in))
		sc.Buffer(make([]byte, 0, 16), limit)
		var want []string
		for sc.Scan() {
			want = append(want, sc.Text())
		}
		longest := 0
		for l := range strings.SplitSeq(in, "\n") {
			longest = max(longest, len(l))
		}
		if longest > limit-2 && longest <= limit+2 {
			return // where a line is "too long" by a byte or two, the scanner's buffer has its own say
		}
		tooLong := longest > limit
		lr := newLineReader(iotest.OneByteReader(strings.NewReader(in)), 16+int(size%64), limit)
		var got []string
		for {
			line, ok := lr.line()
			if !ok {
				break
			}
			got = append(got, line)
		}
		if tooLong != (lr.err == bufio.ErrTooLong) || tooLong != (sc.Err() == bufio.ErrTooLong) {
			t.Fatalf("%q: scanner's error %v, lines' %v", in, sc.Err(), lr.err)
		}
		if tooLong {
			return // both stop at the long line; the scanner's last token before it may differ by what it had buffered
		}
		if strings.Join(got, "|") != strings.Join(want, "|") || len(got) != len(want) {
			t.Fatalf("%q: lines %q, scanner %q", in, got, want)
		}
	})
}

// ready says a whole line is waiting only when one is.
func TestLinesSayWhenAWholeLineIsWaiting(t *testing.T) {
	lr := newLineReader(strings.NewReader("a\nb\nc"), 16, 64)
	for i, want := range []bool{true, false} { // after "a": "b\n" waits; after "b": "c" has no end yet
		if _, ok := lr.line(); !ok {
			t.Fatal("no line")
		}
		if lr.ready() != want {
			t.Errorf("after line %d: ready %v, want %v", i+1, !want, want)
		}
	}
}
