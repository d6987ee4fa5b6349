// Package cli is the highway command: its subcommands, flags and output.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/citypopy/highway/internal/config"
	"github.com/citypopy/highway/internal/listener"
	"github.com/citypopy/highway/internal/mock"
)

// Exit codes.
const (
	ExitOK      = 0
	ExitFailure = 1 // the command ran and failed (bad config, server error)
	ExitUsage   = 2 // the command line itself was wrong
)

type command struct {
	name, args, summary string
	run                 func(ctx context.Context, env config.Env, args []string, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"serve", "[-config F] [-addr HOST:PORT] [-admin-addr HOST:PORT] [-drain 30s] [-watch]", "serve the routes over HTTP (the embedded default without -config)", serve},
		{"check", "[-config F]", "validate a config file and exit", check},
		{"race", "[-config F] [-route PATH] [-url URL] [-json]", "time a route sequentially and concurrently, side by side", race},
		{"surge", "[-url URL] [-users 1000] [-duration 20s] [-compare-modes]", "hold that many users in flight against a route and summarise", surgeCmd},
		{"mock", "[-config F] [-addr HOST:PORT]", "serve the config's mock sources as slow, faulty HTTP upstreams", serveMock},
		{"config", "", "print the embedded default config, to start your own from", printConfig},
		{"key", "NAME", "make a client API key for the caller NAME (letters, digits, _ . -) and the config lines that admit it", makeKey},
		{"schema", "", "print the JSON Schema of the config, for editors to complete and check highway.yaml", printSchema},
		{"version", "", "print the version", version},
	}
}

// Main runs the highway command with args (without the program name) in
// the environment env (os.LookupEnv for the process's) and returns its
// exit code. OpenTelemetry's OTEL_* variables are read by its SDK from the
// process's environment, whatever env says.
func Main(ctx context.Context, env config.Env, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
		usage(stdout)
		if len(args) == 0 {
			return ExitUsage
		}
		return ExitOK
	}
	for _, c := range commands() {
		if c.name == args[0] {
			if c.name != "serve" {
				releaseHangups()
			}
			return c.run(ctx, env, args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "highway: unknown command %q\n\n", args[0])
	usage(stderr)
	return ExitUsage
}

func usage(w io.Writer) {
	fmt.Fprint(w, "highway: async fan-out for slow AI requests. Many lanes, zero waiting.\n\nUsage:\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "  highway %-8s %s\n      %s\n", c.name, c.args, c.summary)
	}
	fmt.Fprint(w, "\nRun highway COMMAND -h for a command's flags.\n")
}

// newFlags makes a command's flag set that reports errors to stderr
// instead of exiting, and answers -h with the command's usage: its line
// from the command list, what it does, and its flags.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("highway "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		for _, c := range commands() {
			if c.name == name {
				fmt.Fprintf(fs.Output(), "usage: %s\n\n%s.\n", strings.TrimSpace("highway "+c.name+" "+c.args), strings.ToUpper(c.summary[:1])+c.summary[1:])
			}
		}
		n := 0
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n > 0 {
			fmt.Fprint(fs.Output(), "\nFlags:\n")
			fs.PrintDefaults()
		}
	}
	return fs
}

// parseFlags parses args and refuses leftover arguments, suggesting the
// flag a config file is given with; it returns the exit code to use when
// parsing did not succeed.
func parseFlags(fs *flag.FlagSet, args []string) (int, bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK, false
		}
		return ExitUsage, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "%s: unexpected argument %q", fs.Name(), fs.Arg(0))
		for _, hint := range []struct {
			flag string
			fits func(string) bool
			what string
		}{
			{"config", func(a string) bool { return strings.HasSuffix(a, ".yaml") || strings.HasSuffix(a, ".yml") }, "a config file"},
			{"url", func(a string) bool { return strings.HasPrefix(a, "http://") || strings.HasPrefix(a, "https://") }, "a URL"},
			{"route", func(a string) bool { return strings.HasPrefix(a, "/") }, "a route"},
		} {
			if a := fs.Arg(0); fs.Lookup(hint.flag) != nil && hint.fits(a) {
				fmt.Fprintf(fs.Output(), "; %s is given with -%s: %s -%s %s", hint.what, hint.flag, fs.Name(), hint.flag, a)
				break
			}
		}
		fmt.Fprintf(fs.Output(), " (%s -h for usage)\n", fs.Name())
		return ExitUsage, false
	}
	return 0, true
}

// MockAddrVar is the environment variable a config can use for the address
// of the fake LLM endpoints that serve and race run (the default chat lane
// does).
const MockAddrVar = "HIGHWAY_MOCK_ADDR"

// fakeProviders is the environment serve and race read a config with:
// the command's, except that ${HIGHWAY_MOCK_ADDR}, when that does not
// set it, is the address of fake LLM endpoints started the first time
// a config names it. A config that never names them (a production one)
// never starts them, and the address reaches the config as a value, not
// through the process environment. They have their own listener so that
// a route draining on shutdown can still reach them; stop ends them.
type fakeProviders struct {
	base config.Env // the environment they stand in
	mu   sync.Mutex
	addr string
	stop func()
	err  error
}

// lookup is the fakeProviders' config.Env.
func (f *fakeProviders) lookup(name string) (string, bool) {
	if v, ok, own := ownValue(f.base, name); own {
		return v, ok
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.addr == "" && f.err == nil {
		f.addr, f.stop, f.err = startMockLLM()
	}
	return f.addr, f.err == nil
}

// Close ends the fake endpoints, if a config started them.
func (f *fakeProviders) Close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stop != nil {
		f.stop()
		f.stop = nil
	}
}

// startMockLLM runs the fake LLM endpoints on a loopback port of their own.
func startMockLLM() (addr string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("listen for the fake LLM endpoints: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		listener.Serve(ctx, ln, mock.LLM(), time.Second, config.DefaultServer)
		close(done)
	}()
	return ln.Addr().String(), func() { cancel(); <-done }, nil
}

// withMockAddr is env, with ${HIGHWAY_MOCK_ADDR} standing for addr when
// env does not set it.
func withMockAddr(env config.Env, addr string) config.Env {
	return func(name string) (string, bool) {
		if v, ok, own := ownValue(env, name); own {
			return v, ok
		}
		return addr, true
	}
}

// ownValue is what env says of name, and own is true, unless name is
// ${HIGHWAY_MOCK_ADDR} and env does not set it: the fake endpoints'
// address stands for it then.
func ownValue(env config.Env, name string) (v string, ok, own bool) {
	v, ok = env(name)
	return v, ok, name != MockAddrVar || ok && v != ""
}

// getenv is what env says name is, "" when it is not set.
func getenv(env config.Env, name string) string {
	v, _ := env(name)
	return v
}

// loadConfig loads the file at path, or the embedded default when path is
// empty, with its ${NAME}s looked up in env.
func loadConfig(path string, env config.Env) (*config.Config, error) {
	c, err := config.LoadEnv(path, env)
	var errs config.Errors
	if path != "" && errors.As(err, &errs) {
		return nil, fmt.Errorf("config %s is invalid:\n%w", path, err)
	}
	return c, err
}

func check(_ context.Context, env config.Env, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("check", stderr)
	file := fs.String("config", "", "config file to check (default: the embedded default)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	c, err := loadConfig(*file, withMockAddr(env, "127.0.0.1:0")) // serve would name its own: any address checks alike
	if err != nil {
		fmt.Fprintf(stderr, "highway: %v\n", err)
		return ExitFailure
	}
	models := ""
	if len(c.Models) > 0 {
		models = ", " + count(len(c.Models), "model")
	}
	fmt.Fprintf(stdout, "%s: ok (%s, %s%s)\n", c.File, count(len(c.Sources), "source"), count(len(c.Routes), "route"), models)
	return ExitOK
}

// count is n of thing, in the plural unless n is 1.
func count(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}

func printConfig(_ context.Context, env config.Env, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("config", stderr)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	stdout.Write(config.DefaultYAML())
	return ExitOK
}

func version(_ context.Context, env config.Env, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("version", stderr)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	v := readVersion()
	fmt.Fprintf(stdout, "highway %s (commit %s, built %s, %s)\n", v.Version, v.Commit, v.Date, v.Go)
	return ExitOK
}

func printSchema(_ context.Context, env config.Env, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("schema", stderr)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	stdout.Write(config.Schema())
	return ExitOK
}
