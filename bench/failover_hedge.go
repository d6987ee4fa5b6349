package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

// failoverHedgeRows measures a failover hedge on a chat lane whose
// provider has a heavy time-to-first-token tail: users streaming the lane
// in a loop, the time each waited for its first token, and how many calls
// the second provider took per request (the hedge's extra calls).
func failoverHedgeRows(highway string, d time.Duration) []string {
	const users = 50
	addr := "127.0.0.1:18079"
	p := start(system{name: "highway (failover hedge)", args: []string{highway, "serve", "-log", "off", "-config", "bench/config/failover-hedge.yaml", "-addr", addr}}, addr)
	defer stop(p)
	lines := []string{
		"### Hedging across LLM providers (failover_hedge)",
		"",
		fmt.Sprintf("A streamed chat lane on the fake OpenAI endpoint, first token in 150ms but in 2s for 3%% of calls, failing over to the fake Anthropic endpoint (first token 200ms). %d users streaming the lane in a loop for %v; time to first token is the client's, from sending the request to the first `delta` event.", users, d),
		"",
		"| lane | requests | TTFT p50 | TTFT p95 | TTFT p99 | TTFT max | second-provider calls per request |",
		"| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
	}
	for _, route := range []struct{ path, name string }{
		{"/plain", "no hedge"},
		{"/fixed", "failover_hedge: 500ms"},
		{"/hedged", "failover_hedge: p95 (max_extra 5%)"},
	} {
		url := "http://" + addr + route.path + "?stream=1"
		streamLoad(url, users, 2*time.Second) // warm up, and fill the window of times to first token
		before := mockCalls("anthropic")      // the fake provider's calls, from highway mock's index
		ttft, failed := streamLoad(url, users, d)
		extra := float64(mockCalls("anthropic")-before) / float64(len(ttft)+failed)
		q := func(p float64) string { return msd(ttft[min(len(ttft)-1, int(p*float64(len(ttft))))]) }
		fmt.Fprintf(os.Stderr, "bench: failover hedge %-8s %d requests (%d failed), TTFT p50 %s p99 %s, %.3f second-provider calls per request\n",
			route.path, len(ttft), failed, q(0.5), q(0.99), extra)
		lines = append(lines, fmt.Sprintf("| %s | %d | %s | %s | %s | %s | %.3f |", route.name, len(ttft), q(0.5), q(0.95), q(0.99), msd(ttft[len(ttft)-1]), extra))
	}
	return append(lines, "")
}

// streamLoad has users stream url one request after another for d, and
// returns each request's time to its first delta, sorted, and how many
// failed (no delta, or a transport error).
func streamLoad(url string, users int, d time.Duration) (ttft []time.Duration, failed int) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: users}, Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range users {
		wg.Go(func() {
			for ctx.Err() == nil {
				t, ok := firstDelta(client, url)
				mu.Lock()
				if ok {
					ttft = append(ttft, t)
				} else {
					failed++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.Sort(ttft)
	if len(ttft) == 0 {
		fatal("failover hedge: no request to %s streamed a token", url)
	}
	return ttft, failed
}

// firstDelta streams one request to its end and returns how long its
// first delta event took.
func firstDelta(client *http.Client, url string) (time.Duration, bool) {
	start := time.Now()
	resp, err := client.Get(url)
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	var first time.Duration
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if first == 0 && strings.HasPrefix(sc.Text(), "event: delta") {
			first = time.Since(start)
		}
	}
	return first, first > 0 && sc.Err() == nil
}
