package server

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
// timeout of its own, which would cut every stream: handlers set write
// deadlines as they write (config.Server.WriteTimeout).
func Serve(ctx context.Context, ln net.Listener, h http.Handler, drain time.Duration, lim config.Server) error {
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
