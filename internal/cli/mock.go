package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/citypopy/highway/internal/config"
	"github.com/citypopy/highway/internal/mock"
)

func serveMock(ctx context.Context, env config.Env, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("mock", stderr)
	file := fs.String("config", "", "config whose mock sources to serve (default: the embedded default)")
	addr := fs.String("addr", "127.0.0.1:9000", "listen address HOST:PORT")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	cfg, err := loadConfig(*file, withMockAddr(env, *addr)) // this mock serves the fake LLM endpoints itself
	if err != nil {
		fmt.Fprintf(stderr, "highway mock: %v\n", err)
		return ExitFailure
	}
	m, err := mock.New(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "highway mock: %v\n", err)
		return ExitFailure
	}
	return listenAndServe(ctx, "highway mock", *addr, shutdown{drain: time.Second}, cfg.Server, stderr, func(string) (http.Handler, func(string), error) {
		return m, announceMock(stderr, cfg.File, m), nil
	})
}

func announceMock(stderr io.Writer, file string, m *mock.Server) func(string) {
	return func(base string) {
		fmt.Fprintf(stderr, "highway mock: serving the mock sources of %s on %s\n", file, base)
		fmt.Fprintf(stderr, "highway mock: paths %s\n", strings.Join(m.Paths(), " "))
		fmt.Fprintf(stderr, "highway mock: faults per call, e.g. curl '%s%s?latency=2s&failure_rate=0.5&failure_status=503&retry_after=1s' (also tail_rate, tail_latency, jitter, fault=hang|html|huge, size)\n", base, m.Paths()[0])
		fmt.Fprintf(stderr, "highway mock: fake LLMs at %s, %s and %s (token_delay, first_token, tool calls when tools are offered, fault=stall|ping_stall|garbage|cut|error|no_headers after=N)\n", mock.OpenAIPath, mock.AnthropicPath, mock.OpenAIEmbeddingsPath)
	}
}
