// Package listener serves an http.Handler on a listener for as long as a
// context lives: slow clients bounded, every write to a client under a
// rolling deadline, and at the end a graceful drain.
package listener

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/citypopy/highway/internal/config"
)

// Serve serves h on ln until ctx ends, then shuts down gracefully: it stops
// accepting, lets requests in flight finish for up to drain, and returns.
// The http.Server it runs bounds slow clients by lim. It has no write
// timeout of its own, which would cut every stream: every write to a
// client has a rolling deadline of lim.WriteTimeout instead
// (writeDeadlines), and a stream a fresh one per event.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, drain time.Duration, lim config.Server) error {
	if lim.WriteTimeout > 0 {
		ln = writeDeadlines{Listener: ln, timeout: lim.WriteTimeout.Std()}
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: lim.ReadHeaderTimeout.Std(),
		ReadTimeout:       lim.ReadTimeout.Std(),
		IdleTimeout:       lim.IdleTimeout.Std(),
		MaxHeaderBytes:    lim.MaxHeaderBytes,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), drain)
	defer cancel()
	if q, ok := h.(interface{ Quiesce(context.Context) }); ok {
		// The listener stays open while the work taken finishes: a new
		// connection (a balancer's probe of /readyz) is answered, 503,
		// rather than refused by a closed port.
		q.Quiesce(sctx)
	}
	err := srv.Shutdown(sctx)
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		srv.Close()
		return errors.New("drain timeout passed with requests still in flight; closed them")
	}
	return err
}
