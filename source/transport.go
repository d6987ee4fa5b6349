package source

import (
	"net"
	"net/http"
	"time"
)

// Transport is the connection pool shared by every HTTP source that does not
// bring its own client. It keeps enough idle keep-alive connections per host
// for thousands of requests in flight, so a surge does not pay a TCP
// handshake per call, and it bounds only the phases no source timeout covers
// well (dial, TLS); the rest is the source's own timeout, through its
// context. It ignores the HTTP_PROXY environment: upstreams are reached
// directly, as configured, and looking the proxy up cost time on every call.
var Transport = &http.Transport{
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
}

// Client is the client HTTP sources use when they have none of their own:
// it uses Transport and does not follow redirects, so that an upstream
// cannot send Highway to a host its config does not name.
var Client = &http.Client{
	Transport: Transport,
	CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	},
}
