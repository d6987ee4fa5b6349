package listener

import (
	"net"
	"sync/atomic"
	"time"
)

// writeDeadlines gives every write to a client a deadline, small or large,
// without a timer per request: each connection keeps a rolling deadline,
// renewed when a write finds less than half of the timeout left. A client
// that stops reading, even one pipelining requests it never reads the
// answers of, has its connection cut between half and all of the timeout
// after the write it does not take, and the admission place of a report
// it would not take is freed.
//
// net/http clears a connection's write deadline after every request, so a
// handler setting one per answer added and deleted a runtime timer per
// request: 15-16% of the embedded route's CPU in A/B runs. Renewed this
// way, with net/http's clear swallowed, a busy keep-alive connection
// touches its timer about twice per timeout, however many requests it
// carries: no difference measured in six A/B rounds (bench/ANALYSIS.md).
type writeDeadlines struct {
	net.Listener
	timeout time.Duration
}

// Accept wraps each connection.
func (l writeDeadlines) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &deadlineConn{Conn: c, timeout: l.timeout}, nil
}

// deadlineConn is one client connection with a rolling write deadline.
type deadlineConn struct {
	net.Conn
	timeout time.Duration
	renewAt atomic.Int64 // UnixNano from which a write renews the deadline
}

// Write renews the deadline if less than half of it is left, then writes.
func (c *deadlineConn) Write(b []byte) (int, error) {
	if now := time.Now(); now.UnixNano() >= c.renewAt.Load() {
		c.setWriteDeadline(now.Add(c.timeout))
	}
	return c.Conn.Write(b)
}

// SetWriteDeadline sets t, as a stream does at each event; a zero t, which
// net/http sets after every request, leaves the rolling deadline.
func (c *deadlineConn) SetWriteDeadline(t time.Time) error {
	if t.IsZero() {
		return nil
	}
	return c.setWriteDeadline(t)
}

// SetDeadline sets both deadlines, the write one as SetWriteDeadline does.
func (c *deadlineConn) SetDeadline(t time.Time) error {
	if err := c.Conn.SetReadDeadline(t); err != nil {
		return err
	}
	return c.SetWriteDeadline(t)
}

func (c *deadlineConn) setWriteDeadline(t time.Time) error {
	c.renewAt.Store(t.Add(-c.timeout / 2).UnixNano())
	return c.Conn.SetWriteDeadline(t)
}

// CloseWrite half-closes the connection, as net/http does after a request
// whose body it would not read.
func (c *deadlineConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return c.Conn.Close()
}
