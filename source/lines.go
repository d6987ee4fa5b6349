package source

import (
	"bufio"
	"bytes"
	"io"
)

// lineReader reads a provider's stream line by line, as bufio.Scanner
// does (a line of at most max bytes, its \n or \r\n dropped, a last line
// without one kept), and tells whether another whole line has already
// arrived: a pump reads what the provider sent together at once, so that
// its readers take it in one batch (a relay writing it in one write).
type lineReader struct {
	r    *bufio.Reader
	max  int
	long []byte // a line longer than r's buffer, as it is put together
	err  error  // why the lines ended; nil at the end of the stream
}

func newLineReader(r io.Reader, size, max int) *lineReader {
	return &lineReader{r: bufio.NewReaderSize(r, size), max: max}
}

// line is the next line; false once there are no more (err says why).
func (l *lineReader) line() (string, bool) {
	l.long = l.long[:0]
	for {
		b, err := l.r.ReadSlice('\n')
		switch err {
		case nil:
			if len(l.long) > 0 {
				b = append(l.long, b...)
			}
			if len(b) > l.max+1 {
				l.err = bufio.ErrTooLong
				return "", false
			}
			return string(dropCR(b[:len(b)-1])), true
		case bufio.ErrBufferFull:
			l.long = append(l.long, b...)
			if len(l.long) > l.max {
				l.err = bufio.ErrTooLong
				return "", false
			}
		default:
			if err != io.EOF {
				l.err = err
			}
			if b = append(l.long, b...); len(b) > l.max && l.err == nil {
				l.err = bufio.ErrTooLong
			}
			if len(b) > 0 && l.err == nil {
				return string(dropCR(b)), true
			}
			return "", false
		}
	}
}

// ready reports whether a whole line has arrived and is waiting.
func (l *lineReader) ready() bool {
	n := l.r.Buffered()
	if n == 0 {
		return false
	}
	b, _ := l.r.Peek(n)
	return bytes.IndexByte(b, '\n') >= 0
}

func dropCR(b []byte) []byte {
	if len(b) > 0 && b[len(b)-1] == '\r' {
		return b[:len(b)-1]
	}
	return b
}
