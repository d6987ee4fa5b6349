package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/citypopy/highway/internal/config"
	"github.com/citypopy/highway/internal/listener"
	"github.com/citypopy/highway/internal/report"
	"github.com/citypopy/highway/internal/server"
)

func race(ctx context.Context, env config.Env, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("race", stderr)
	file := fs.String("config", "", "config file for the in-process server (default: the embedded default)")
	route := fs.String("route", "", "route to race (default: the config's first route, or the -url's path)")
	target := fs.String("url", "", "race a running server at this base URL instead of one in process")
	asJSON := fs.Bool("json", false, "print the two reports as JSON instead of the table")
	width := fs.Int("width", 32, "width of each waterfall in characters")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *width < 8 || *width > 200 {
		fmt.Fprintln(stderr, "highway race: -width must be between 8 and 200")
		return ExitUsage
	}
	if *route != "" && !strings.HasPrefix(*route, "/") {
		*route = "/" + *route // -route city-report means the path /city-report
	}
	base, path, where, stop, err := raceTarget(ctx, env, *file, *target, *route)
	if err != nil {
		fmt.Fprintf(stderr, "highway race: %v\n", err)
		return ExitFailure
	}
	defer stop()

	client := &http.Client{Timeout: 5 * time.Minute}
	defer client.CloseIdleConnections()
	var docs [2]*report.Document
	var raws [2][]byte
	for i, mode := range []string{report.ModeSequential, report.ModeConcurrent} {
		raws[i], docs[i], err = fetchReport(ctx, client, keyHeader(env), base+path+"?mode="+mode)
		if err != nil {
			fmt.Fprintf(stderr, "highway race: %s %s: %v\n", mode, path, err)
			return ExitFailure
		}
	}
	if *asJSON {
		fmt.Fprintf(stdout, "{\"sequential\":%s,\"concurrent\":%s}\n", raws[0], raws[1])
		return ExitOK
	}
	fmt.Fprintf(stdout, "highway race %s (%s)\n\n", path, where)
	drawRace(stdout, docs[0], docs[1], *width)
	return ExitOK
}

// raceTarget returns where to send the race's requests: the server at
// target, or one started in process on loopback (stopped by stop), its
// config read with env.
func raceTarget(ctx context.Context, env config.Env, file, target, route string) (base, path, where string, stop func(), err error) {
	stop = func() {}
	if target != "" {
		u, err := url.Parse(target)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return "", "", "", stop, fmt.Errorf("-url wants http://HOST:PORT, got %q", target)
		}
		path = route
		if p := strings.TrimRight(u.Path, "/"); p != "" {
			if route != "" && route != p {
				return "", "", "", stop, fmt.Errorf("-url names route %s but -route says %s", p, route)
			}
			path = p
		}
		if path == "" {
			path = "/city-report"
		}
		return u.Scheme + "://" + u.Host, path, "server at " + u.Host, stop, nil
	}
	// The fake LLM endpoints start if the config names their address.
	fakes := &fakeProviders{base: env}
	stopMock := fakes.Close
	cfg, err := loadConfig(file, fakes.lookup)
	if err != nil {
		stopMock()
		return "", "", "", stop, err
	}
	path = route
	if path == "" {
		path = cfg.Routes[0].Path
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		stopMock()
		return "", "", "", stop, fmt.Errorf("listen on loopback: %w", err)
	}
	srv, err := server.New(cfg, server.Options{})
	if err != nil {
		ln.Close()
		stopMock()
		return "", "", "", stop, err
	}
	return serveRace(ctx, ln, srv, cfg, path, stopMock)
}

// serveRace runs srv on ln in process for the race.
func serveRace(ctx context.Context, ln net.Listener, srv *server.Server, cfg *config.Config, path string, stopMock func()) (base, p, where string, stop func(), err error) {
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		listener.Serve(sctx, ln, srv, time.Second, cfg.Server)
		close(done)
	}()
	stop = func() { cancel(); <-done; stopMock() }
	return "http://" + ln.Addr().String(), path, "in process, " + cfg.File, stop, nil
}

// fetchReport GETs a route's report, with header when it is not nil; a
// 502 or 504 still carries one.
func fetchReport(ctx context.Context, client *http.Client, header http.Header, u string) ([]byte, *report.Document, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, nil, err
	}
	if header != nil {
		req.Header = header
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, nil, fmt.Errorf("read answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusBadGateway && resp.StatusCode != http.StatusGatewayTimeout {
		var e struct{ Error string }
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			return nil, nil, fmt.Errorf("%s: %s", resp.Status, e.Error)
		}
		return nil, nil, fmt.Errorf("%s", resp.Status)
	}
	doc, err := report.Decode(body)
	if err != nil {
		return nil, nil, err
	}
	if len(doc.Sources) == 0 {
		return nil, nil, errors.New("the report has no sources")
	}
	return body, doc, nil
}
