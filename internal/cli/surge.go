package cli

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/citypopy/highway/internal/config"
	"github.com/citypopy/highway/internal/surge"
)

func surgeCmd(ctx context.Context, env config.Env, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("surge", stderr)
	opt := surge.Options{Progress: stderr}
	fs.StringVar(&opt.URL, "url", "http://127.0.0.1:8080/city-report", "the route to load")
	fs.IntVar(&opt.Users, "users", 1000, "users held in flight, each sending its next request when the last is answered")
	fs.DurationVar(&opt.Duration, "duration", 20*time.Second, "how long the surge lasts (at most 10m)")
	fs.DurationVar(&opt.Timeout, "timeout", 30*time.Second, "bound on each request")
	fs.BoolVar(&opt.AllowRemote, "allow-remote", false, "allow a target that is not this machine")
	fs.DurationVar(&opt.Warmup, "warmup", 0, "leave out of the summary the answers of the first this long (the connection storm)")
	fs.BoolVar(&opt.IgnoreRetryAfter, "ignore-retry-after", false, "retry a shed (503) or limited (429) request at once instead of waiting its Retry-After, as a hostile client would")
	compare := fs.Bool("compare-modes", false, "run once with mode=sequential and once concurrent, and compare")
	quiet := fs.Bool("quiet", false, "no live progress line")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *quiet {
		opt.Progress = nil
	}
	opt.Header = keyHeader(env)
	if err := opt.Check(); err != nil {
		fmt.Fprintf(stderr, "highway surge: %v\n", err)
		return ExitUsage
	}
	if !named(fs, "url") {
		fmt.Fprintf(stderr, "highway surge: no -url given: surging %s\n", opt.URL)
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if !*compare {
		fmt.Fprintf(stdout, "highway surge: %d users for %v against %s (%s)\n", opt.Users, opt.Duration, opt.URL, retryPolicy(opt))
		s, err := surge.Run(ctx, opt)
		if s != nil {
			printSummaries(stdout, []string{""}, []*surge.Summary{s})
		}
		if err != nil {
			fmt.Fprintf(stderr, "highway surge: %v\n", err)
			return ExitFailure
		}
		return ExitOK
	}
	var sums []*surge.Summary
	modes := []string{"sequential", "concurrent"}
	for _, mode := range modes {
		o := opt
		o.URL = withMode(opt.URL, mode)
		fmt.Fprintf(stdout, "highway surge: %d users for %v against %s\n", o.Users, o.Duration, o.URL)
		s, err := surge.Run(ctx, o)
		if err != nil {
			if s != nil {
				printSummaries(stdout, []string{mode}, []*surge.Summary{s})
			}
			fmt.Fprintf(stderr, "highway surge: %v\n", err)
			return ExitFailure
		}
		sums = append(sums, s)
	}
	fmt.Fprintln(stdout)
	printSummaries(stdout, []string{"single lane (sequential)", "highway (concurrent)"}, sums)
	if sums[0].PerSec > 0 {
		fmt.Fprintf(stdout, "\nthe highway served %.2fx the requests of the single lane\n", sums[1].PerSec/sums[0].PerSec)
	}
	return ExitOK
}

func retryPolicy(o surge.Options) string {
	if o.IgnoreRetryAfter {
		return "a shed or limited user retries at once"
	}
	return "a shed or limited user waits its Retry-After"
}

func withMode(raw, mode string) string {
	u, _ := url.Parse(raw)
	q := u.Query()
	q.Set("mode", mode)
	u.RawQuery = q.Encode()
	return u.String()
}

// printSummaries prints one column per surge.
func printSummaries(w io.Writer, titles []string, sums []*surge.Summary) {
	row := func(label string, cell func(*surge.Summary) string) {
		fmt.Fprintf(w, "%-18s", label)
		for _, s := range sums {
			fmt.Fprintf(w, "  %-30s", cell(s))
		}
		fmt.Fprintln(w)
	}
	if len(titles) > 1 || titles[0] != "" {
		row("", func(s *surge.Summary) string { return titles[slices.Index(sums, s)] })
	}
	row("requests", func(s *surge.Summary) string {
		return fmt.Sprintf("%d in %.1fs", s.Requests, s.Elapsed.Seconds())
	})
	row("throughput", func(s *surge.Summary) string { return fmt.Sprintf("%.0f req/s", s.PerSec) })
	row("latency p50/p90", func(s *surge.Summary) string { return ms2(s.All.P50) + " / " + ms2(s.All.P90) })
	row("latency p99/max", func(s *surge.Summary) string { return ms2(s.All.P99) + " / " + ms2(s.All.Max) })
	row("admitted p50/p99", func(s *surge.Summary) string {
		return ms2(s.Admitted.P50) + " / " + ms2(s.Admitted.P99) + " (2xx)"
	})
	row("in flight", func(s *surge.Summary) string {
		return fmt.Sprintf("peak %d, mean %.0f", s.PeakInFlight, s.MeanInFlight)
	})
	row("statuses", func(s *surge.Summary) string { return statuses(s.Statuses) })
	row("shed (503)", func(s *surge.Summary) string { return strconv.Itoa(s.Shed) })
	row("limited (429)", func(s *surge.Summary) string { return strconv.Itoa(s.Limited) })
	row("socket errors", func(s *surge.Summary) string {
		if len(s.Errors) == 0 {
			return "0"
		}
		var parts []string
		for k, v := range s.Errors {
			parts = append(parts, fmt.Sprintf("%s %d", k, v))
		}
		slices.Sort(parts)
		return strings.Join(parts, ", ")
	})
}

func statuses(m map[int]int) string {
	if len(m) == 0 {
		return "none"
	}
	var codes []int
	for c := range m {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	var parts []string
	for _, c := range codes {
		parts = append(parts, fmt.Sprintf("%d×%d", c, m[c]))
	}
	return strings.Join(parts, " ")
}

func ms2(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000) }
