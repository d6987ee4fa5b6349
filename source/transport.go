package source

import (
	"net"
	"net/http"
	"time"
)

// NewTransport returns a connection pool tuned for sources: it keeps
// enough idle keep-alive connections per host for thousands of requests in
// flight, so a surge does not pay a TCP handshake per call, and it bounds
// only the phases no source timeout covers well (dial, TLS); the rest is
// the source's own timeout, through its context. It ignores the HTTP_PROXY
// environment: upstreams are reached directly, as configured, and looking
// the proxy up cost time on every call. Its connections read and write
// through 1 KiB buffers, not net/http's 4 KiB: a held-open stream keeps its
// connection's buffers for as long as it runs, and the smaller pair took an
// open streamed chat through the door from 74 to 67 KB of memory (1,000 held
// at once, bench/RESULTS.md); a body longer than the buffer is read past it.
// Share one among many sources.
func NewTransport() *http.Transport {
	return &http.Transport{
		DialContext: (&net.Dialer{
			Timeout:   5 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          0, // no global cap: the per-host one below is the bound
		MaxIdleConnsPerHost:   4096,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ExpectContinueTimeout: time.Second,
		ReadBufferSize:        1 << 10,
		WriteBufferSize:       1 << 10,
	}
}

// pool is what sources without a Transport of their own share.
var pool = NewTransport()

// send makes one call through rt, or the shared pool when rt is nil, as the
// sources' one way out. It calls the RoundTripper itself rather than an
// http.Client, for two reasons. An upstream's redirect is its answer, not
// an instruction: following it could send Highway to a host the config
// does not name. And http.Client's frames (about 1.1 KiB) pushed each
// fetch goroutine's stack past its starting size deep inside the
// transport, so every upstream call copied its stack once: 7% of the
// gateway's CPU in a profile under load, and 8-17% of its CPU per
// request in side-by-side runs against the same binary using a Client.
func send(rt http.RoundTripper, req *http.Request) (*http.Response, error) {
	if rt == nil {
		rt = pool
	}
	return rt.RoundTrip(req)
}
