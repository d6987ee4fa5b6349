package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/citypopy/highway/internal/config"
	"github.com/citypopy/highway/internal/listener"
	"github.com/citypopy/highway/internal/metrics"
	"github.com/citypopy/highway/internal/server"
)

func serve(ctx context.Context, env config.Env, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("serve", stderr)
	file := fs.String("config", getenv(env, "HIGHWAY_CONFIG"), "config file (default: $HIGHWAY_CONFIG, else the embedded default)")
	addr := fs.String("addr", getenv(env, "HIGHWAY_ADDR"), "listen address HOST:PORT (default: $HIGHWAY_ADDR, else the config's listen)")
	drain := fs.Duration("drain", 30*time.Second, "on shutdown, how long in-flight requests may take to finish")
	logFormat := fs.String("log", "text", "request log to stderr: text, json or off")
	watch := fs.Bool("watch", false, "reload the config when its file changes (SIGHUP always reloads)")
	adminAddr := fs.String("admin-addr", "", "serve /metrics, /readyz and /debug/pprof/ on this HOST:PORT only, not with the routes")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file, for go tool pprof")
	instance := fs.String("instance", defaultInstance(env), "this replica's name, in logs, the X-Highway-Instance header and, when named or with a redis section, metrics labels (default: $HIGHWAY_INSTANCE or the hostname)")
	drainDelay := fs.Duration("drain-delay", time.Second, "on SIGTERM, how long to keep serving with /readyz answering 503 before the drain, so a load balancer stops sending first (Ctrl-C does not wait)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	var logger *slog.Logger
	switch *logFormat {
	case "text":
		logger = slog.New(slog.NewTextHandler(stderr, nil))
	case "json":
		logger = slog.New(slog.NewJSONHandler(stderr, nil))
	case "off":
	default:
		fmt.Fprintf(stderr, "highway serve: -log must be text, json or off, got %q\n", *logFormat)
		return ExitUsage
	}
	if logger != nil && *instance != "" {
		logger = logger.With("instance", *instance)
	}
	if *logFormat == "json" { // serve's own lines too, so that every line is JSON
		stderr = &jsonLines{logger: logger}
	}
	// The fake LLM endpoints start only if the config names their address
	// (the embedded default does), and live as long as serve: a reload
	// that names them again finds them running.
	fakes := &fakeProviders{base: env}
	defer fakes.Close() // after the routes have drained: they may still call it
	cfg, err := loadConfig(*file, fakes.lookup)
	if err != nil {
		fmt.Fprintf(stderr, "highway: %v\n", err)
		return ExitFailure
	}
	if *cpuprofile != "" {
		stopProfile, err := startCPUProfile(*cpuprofile)
		if err != nil {
			fmt.Fprintf(stderr, "highway: %v\n", err)
			return ExitFailure
		}
		defer stopProfile()
	}
	listen := cfg.Listen
	if *addr != "" {
		listen = *addr
	}
	tp, stopTracing, err := startTracing(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "highway: %v\n", err)
		return ExitFailure
	}
	defer func() {
		// Last, after the drain: the spans of the final requests go too.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := stopTracing(sctx); err != nil && logger != nil {
			logger.Error("tracing: flush the last spans", "err", err.Error())
		} else if err != nil {
			fmt.Fprintf(stderr, "highway: tracing: flush the last spans: %v\n", err)
		}
	}()
	// One Metrics for every server a reload makes: counters go on. Its
	// series carry the instance once replicas are likely: when it was
	// named, or the replicas share a Redis.
	labelled := ""
	if named(fs, "instance") || getenv(env, "HIGHWAY_INSTANCE") != "" || cfg.Redis.On() {
		labelled = *instance
	}
	// One registry for the process: every reload's server takes the state
	// that outlives a config (breakers, caches, limiters, the admission
	// ledger, the Redis pool) from it.
	reg := &server.Registry{}
	opts := server.Options{Logger: logger, Admin: *adminAddr != "", Metrics: metrics.NewFor(labelled), Instance: *instance, Registry: reg}
	if tp != nil {
		opts.TracerProvider = tp
		reportTracingErrors(logger, stderr)
		if logger != nil {
			logger.Info("tracing on: exporting spans as OTLP over HTTP", "endpoint", tracesEndpoint())
		} else {
			fmt.Fprintf(stderr, "highway: tracing on: exporting spans as OTLP over HTTP to %s\n", tracesEndpoint())
		}
	}
	sw := &swapper{}
	defer reg.Close() // last: the sources' caches stop with the process
	build := func() (*server.Server, error) {
		cfg, err := loadConfig(*file, fakes.lookup)
		if err != nil {
			return nil, err
		}
		return server.New(cfg, opts)
	}
	rctx, stopReload := context.WithCancel(ctx)
	defer stopReload()
	if *adminAddr != "" {
		stopAdmin, err := serveAdmin(rctx, *adminAddr, sw, stderr)
		if err != nil {
			fmt.Fprintf(stderr, "highway: %v\n", err)
			return ExitFailure
		}
		defer stopAdmin() // after the drain: readiness stays visible as false
	}
	return listenAndServe(ctx, "highway", listen, shutdown{*drainDelay, *drain}, cfg.Server, stderr, func(addr string) (http.Handler, func(string), error) {
		srv, err := build()
		if err != nil {
			return nil, nil, err
		}
		sw.current.Store(srv)
		rl := &reloader{file: *file, sw: sw, build: build, stderr: stderr}
		if *watch {
			rl.watch = time.Second
		}
		go rl.run(rctx)
		return sw, func(base string) {
			fmt.Fprintf(stderr, "highway: serving %s on %s\n", cfg.File, base)
			banner(stderr, base, srv.Paths(), slices.Sorted(maps.Keys(cfg.Models)))
			if shared := srv.SharedWith(ctx); shared != "" {
				fmt.Fprintf(stderr, "highway: %s\n", shared)
			}
		}, nil
	})
}

// serveAdmin serves the operator's endpoints of whichever server sw holds
// on addr, until stop is called.
func serveAdmin(ctx context.Context, addr string, sw *swapper, stderr io.Writer) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("admin listener: listen on %s: %w", addr, err)
	}
	fmt.Fprintf(stderr, "highway: admin endpoints (/metrics /readyz /healthz /debug/pprof/) at http://%s\n", ln.Addr())
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := listener.Serve(ctx, ln, http.HandlerFunc(sw.serveAdmin), time.Second, config.DefaultServer); err != nil {
			fmt.Fprintf(stderr, "highway: admin listener: %v\n", err)
		}
	}()
	return func() { cancel(); <-done }, nil
}

// shutdown is how a server stops on a signal: on SIGTERM it goes on
// serving for delay with readiness false, then drains for up to drain.
type shutdown struct{ delay, drain time.Duration }

// named reports whether the flag was given on the command line.
func named(fs *flag.FlagSet, name string) bool {
	found := false
	fs.Visit(func(f *flag.Flag) { found = found || f.Name == name })
	return found
}

// after is how long to go on serving once ctx, the signal's context, has
// ended: the delay on SIGTERM, none on Ctrl-C (someone at a terminal, not
// a balancer).
func (sd shutdown) after(ctx context.Context) time.Duration {
	if !terminated(ctx) {
		return 0
	}
	return sd.delay
}

// terminated reports whether ctx ended with SIGTERM, as orchestrators and
// balancers stop a server: the cause notifyContext gave it says which
// signal, as a value.
func terminated(ctx context.Context) bool {
	var s *signalled
	return errors.As(context.Cause(ctx), &s) && s.Signal == syscall.SIGTERM
}

// signalled is the cause of a context ended by a signal the process
// received: which one is its field, not words to compare.
type signalled struct{ Signal os.Signal }

// Error names the signal, as signal.NotifyContext's cause does.
func (s *signalled) Error() string { return s.Signal.String() + " signal received" }

// notifyContext is signal.NotifyContext with the signal kept as a value
// in the cause (*signalled), from the process's own signal.Notify. stop
// stops relaying signals and ends the context; it may be called twice.
func notifyContext(parent context.Context, sigs ...os.Signal) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(parent)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, sigs...)
	quit := make(chan struct{})
	go func() {
		select {
		case sig := <-ch:
			cancel(&signalled{Signal: sig})
		case <-ctx.Done():
		case <-quit:
		}
	}()
	var once sync.Once
	return ctx, func() {
		once.Do(func() {
			signal.Stop(ch)
			close(quit)
			cancel(context.Canceled)
		})
	}
}

// defaultInstance names the replica: $HIGHWAY_INSTANCE, else the host's
// name (a container's is its ID, a pod's its name).
func defaultInstance(env config.Env) string {
	if v := getenv(env, "HIGHWAY_INSTANCE"); v != "" {
		return v
	}
	h, _ := os.Hostname()
	return h
}

// listenAndServe listens on listen, asks setup for the handler now that
// the address is known (a config may point at the server itself), and
// serves it until SIGINT or SIGTERM, then shuts down as sd says.
func listenAndServe(ctx context.Context, prefix, listen string, sd shutdown, lim config.Server, stderr io.Writer,
	setup func(addr string) (h http.Handler, announce func(base string), err error)) int {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		fmt.Fprintf(stderr, "%s: listen on %s: %v\n", prefix, listen, err)
		return ExitFailure
	}
	h, announce, err := setup(ln.Addr().String())
	if err != nil {
		ln.Close()
		fmt.Fprintf(stderr, "%s: %v\n", prefix, err)
		return ExitFailure
	}
	announce("http://" + ln.Addr().String())
	ctx, stop := notifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	said := make(chan struct{})
	unhook := context.AfterFunc(ctx, func() {
		stop() // a second signal now kills the process the default way
		if d, ok := h.(interface{ Drain() }); ok {
			d.Drain() // readiness goes false while requests in flight finish
		}
		if d := sd.after(ctx); d > 0 {
			fmt.Fprintf(stderr, "%s: shutting down: /readyz answers 503; still serving for %v, then in-flight requests have %v to finish (signal again to force)\n", prefix, d, sd.drain)
		} else {
			fmt.Fprintf(stderr, "%s: shutting down; in-flight requests have %v to finish (signal again to force)\n", prefix, sd.drain)
		}
		close(said)
	})
	// The listener stays open for sd.delay after the signal, while
	// readiness says 503 and answers close their connections.
	sctx, stopServing := context.WithCancel(context.WithoutCancel(ctx))
	defer stopServing()
	stopLater := context.AfterFunc(ctx, func() { time.AfterFunc(sd.after(ctx), stopServing) })
	defer stopLater()
	err = listener.Serve(sctx, ln, h, sd.drain, lim)
	if !unhook() {
		<-said // the shutdown line comes before anything printed after it
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", prefix, err)
		return ExitFailure
	}
	fmt.Fprintf(stderr, "%s: stopped\n", prefix)
	return ExitOK
}

func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// banner says what a server at base answers, its routes and its front
// door's models, and one thing to try: a config may have either alone.
func banner(stderr io.Writer, base string, paths, models []string) {
	if len(paths) > 0 {
		fmt.Fprintf(stderr, "highway: routes %s\n", strings.Join(paths, " "))
	}
	if len(models) > 0 {
		fmt.Fprintf(stderr, "highway: models %s, at the front door %s/v1 (OpenAI and Anthropic APIs)\n", strings.Join(models, " "), base)
	}
	if len(paths) > 0 {
		fmt.Fprintf(stderr, "highway: try  curl -s %s%s\n", base, paths[0])
	} else {
		fmt.Fprintf(stderr, "highway: try  curl -s %s/v1/models\n", base)
	}
}
