package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/citypopy/highway/internal/server"
)

// swapper serves with the current server, swapped whole on reload: a
// request holds the server it started on until it finishes.
type swapper struct {
	current atomic.Pointer[server.Server]
}

// ServeHTTP serves r with the server in use now.
func (s *swapper) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.current.Load().ServeHTTP(w, r) }

// serveAdmin answers the operator's endpoints of the current server.
func (s *swapper) serveAdmin(w http.ResponseWriter, r *http.Request) {
	srv := s.current.Load()
	if srv == nil { // the admin listener opens before the config is built
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"error":"starting: no config loaded yet"}` + "\n"))
		return
	}
	srv.ServeAdmin(w, r)
}

// Drain marks the current server as shutting down.
func (s *swapper) Drain() { s.current.Load().Drain() }

// Quiesce refuses new requests on the current server until those in
// flight have finished.
func (s *swapper) Quiesce(ctx context.Context) { s.current.Load().Quiesce(ctx) }

// reloader rebuilds the server from the config file on SIGHUP and, with
// watch, when the file changes. A config that does not load or build is
// reported and the old one keeps serving.
type reloader struct {
	file   string
	sw     *swapper
	build  func() (*server.Server, error)
	stderr io.Writer
	watch  time.Duration // 0: no polling
}

func (rl *reloader) run(ctx context.Context) {
	hup := hangups // held since main began (HoldHangups), or from now
	signal.Notify(hup, syscall.SIGHUP)
	var tick <-chan time.Time
	last := modTime(rl.file)
	if rl.watch > 0 && rl.file != "" {
		t := time.NewTicker(rl.watch)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			rl.reload("SIGHUP")
		case <-tick:
			if m := modTime(rl.file); !m.Equal(last) {
				last = m
				rl.reload("the file changed")
			}
		}
	}
}

func (rl *reloader) reload(why string) {
	srv, err := rl.build()
	if err != nil {
		fmt.Fprintf(rl.stderr, "highway: reload (%s) refused, still serving the old config: %v\n", why, err)
		return
	}
	rl.sw.current.Store(srv)
	fmt.Fprintf(rl.stderr, "highway: reloaded the config (%s): routes %v\n", why, srv.Paths())
}

func modTime(path string) time.Time {
	if path == "" {
		return time.Time{}
	}
	fi, err := os.Stat(path)
	if err != nil {
		return time.Time{}
	}
	return fi.ModTime()
}
