package server

import (
	"net/http"
	"time"
)

// smallAnswer is what net/http buffers whole before a handler returns
// (its bufferBeforeChunkingSize): writing a report no larger never blocks
// the handler, whatever the client does.
const smallAnswer = 2 << 10

// anySize is the size of an answer not known in advance: a page, an
// error, a stream.
const anySize = -1

// writeDeadline gives the client timeout to take the answer about to be
// written, set just before it is (a report's once its gather is done, an
// error's or the page's at once, a stream's at each event). A client that
// stops reading, even one pipelining requests it never reads the answers
// of, loses its connection by then, and the admission place of a report it
// would not take is freed. net/http clears the deadline once the answer
// is flushed, so none outlives its request.
//
// A small report gets none: net/http takes it whole without blocking the
// handler, so it holds no place however slow the client, and a deadline
// set on every request cost 16% of the embedded route's CPU in an A/B
// (bench/ANALYSIS.md). Its connection may then wait on a client that
// never reads, holding a goroutine and a socket but no place.
func writeDeadline(w http.ResponseWriter, timeout time.Duration, size int) {
	if timeout > 0 && (size < 0 || size > smallAnswer) {
		http.NewResponseController(w).SetWriteDeadline(time.Now().Add(timeout))
	}
}
