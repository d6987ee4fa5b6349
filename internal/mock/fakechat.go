package mock

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// fakeChat is what the fake LLM endpoints do with one request, from the
// query string: token_delay and first_token pace the stream, and
// tail_rate of requests wait tail_first_token instead (a provider's heavy
// time-to-first-token tail); failure_status (with retry_after) fails it
// the way providers do; fault= plays a provider falling over after the
// first `after` pieces of a streamed reply (2 unless given):
//
//   - stall: stops sending, and waits for the client to leave
//   - ping_stall: stops sending content but keeps sending its keep-alive
//     (a ping event, or an SSE comment), as a provider does while it thinks
//   - garbage: sends a malformed chunk
//   - cut: closes the connection
//   - error: sends an in-band error event, as an overloaded provider does
//     mid-answer, and ends the stream
//   - no_headers: never sends response headers, streamed or not
type fakeChat struct {
	tokenDelay, firstToken, retryAfter time.Duration
	tailRate                           float64
	tailFirstToken                     time.Duration
	failureStatus                      int
	fault                              string
	after                              int
}

// chatFaults are the faults a fake LLM endpoint plays.
var chatFaults = []string{"stall", "ping_stall", "garbage", "cut", "error", "no_headers"}

func parseFakeChat(raw string) (fakeChat, error) {
	f := fakeChat{tokenDelay: 20 * time.Millisecond, after: 2}
	q, err := url.ParseQuery(raw)
	if err != nil {
		return f, fmt.Errorf("malformed query: %v", err)
	}
	f.firstToken = -1
	for k, vs := range q {
		v := vs[0]
		switch k {
		case "token_delay":
			f.tokenDelay, err = duration(v)
		case "first_token":
			f.firstToken, err = duration(v)
		case "retry_after":
			f.retryAfter, err = duration(v)
		case "tail_rate":
			f.tailRate, err = ratio(v)
		case "tail_first_token":
			f.tailFirstToken, err = duration(v)
		case "failure_status":
			f.failureStatus, err = strconv.Atoi(v)
			if err == nil && (f.failureStatus < 400 || f.failureStatus > 599) {
				err = fmt.Errorf("want 400 to 599")
			}
		case "after":
			f.after, err = strconv.Atoi(v)
			if err == nil && f.after < 0 {
				err = fmt.Errorf("want a count of pieces, 0 or more")
			}
		case "fault":
			f.fault, err = chatFault(v)
		default:
			return f, fmt.Errorf("unknown query parameter %q; known: token_delay, first_token, tail_rate, tail_first_token, failure_status, retry_after, fault, after", k)
		}
		if err != nil {
			return f, fmt.Errorf("%s=%q: %v", k, v, err)
		}
	}
	if f.firstToken < 0 {
		f.firstToken = f.tokenDelay
	}
	if f.tailRate > 0 && rand.Float64() < f.tailRate {
		f.firstToken = f.tailFirstToken
	}
	return f, nil
}

func chatFault(v string) (string, error) {
	for _, f := range chatFaults {
		if v == f {
			return v, nil
		}
	}
	return "", fmt.Errorf("want one of %v", chatFaults)
}

// replyTime is how long a whole (unstreamed) reply of n pieces takes.
func (f fakeChat) replyTime(n int) time.Duration {
	return f.firstToken + time.Duration(max(n, 1)-1)*f.tokenDelay
}

// holdsHeaders plays the no_headers fault: it reports whether it held
// them, waiting for the client to leave, so that the handler is done.
func (f fakeChat) holdsHeaders(r *http.Request) bool {
	if f.fault == "no_headers" {
		<-r.Context().Done()
		return true
	}
	return false
}

// faults is how a dialect writes what a fault sends: a malformed chunk, a
// keep-alive, an in-band error.
type faults struct {
	garbage, keepAlive, inBand string
}

// emit paces n pieces to send, playing the query's fault after f.after of
// them. It reports whether every piece went out; false when the client
// left or a fault ended the stream.
func (f fakeChat) emit(w http.ResponseWriter, r *http.Request, n int, how faults, send func(i int)) bool {
	rc := http.NewResponseController(w)
	write := func(s string) {
		fmt.Fprint(w, s)
		rc.Flush()
	}
	for i := range n {
		delay := f.tokenDelay
		if i == 0 {
			delay = f.firstToken
		}
		if !wait(r, delay) {
			return false
		}
		if i == f.after {
			switch f.fault {
			case "stall":
				<-r.Context().Done()
				return false
			case "ping_stall":
				for wait(r, max(f.tokenDelay, time.Millisecond)) {
					write(how.keepAlive)
				}
				return false
			case "garbage":
				write(how.garbage)
				return false
			case "error":
				write(how.inBand)
				return false
			case "cut":
				panic(http.ErrAbortHandler) // net/http drops the connection, mid-stream
			}
		}
		send(i)
	}
	return true
}

// piece is one streamed step of a reply: a token of text, the start of a
// tool call (its id and name), or a fragment of a call's arguments.
type piece struct {
	call  int // the tool call it belongs to; -1 for text
	start bool
	text  string
}

// argFragment is how many bytes of a tool call's arguments one streamed
// delta carries: small, so that a call's arguments take several.
const argFragment = 6

// pieces is r as it streams.
func (r reply) pieces() []piece {
	var out []piece
	for _, tok := range r.tokens {
		out = append(out, piece{call: -1, text: tok})
	}
	for i, c := range r.calls {
		out = append(out, piece{call: i, start: true})
		for a := c.args; a != ""; {
			n := min(argFragment, len(a))
			out = append(out, piece{call: i, text: a[:n]})
			a = a[n:]
		}
	}
	return out
}

// setRetryAfter sets a Retry-After header of d, rounded up to seconds.
func setRetryAfter(w http.ResponseWriter, d time.Duration) {
	if d > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((d+time.Second-1)/time.Second)))
	}
}

func wait(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return r.Context().Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

// sseHeaders starts an event stream.
func sseHeaders(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
}
