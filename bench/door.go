package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The fake provider's own time: its whole answer comes at first_token
// (bench/config/door.yaml), so what a client waits beyond it is overhead.
const (
	doorProvider = "http://" + upstream + "/openai/v1/chat/completions?first_token=100ms&token_delay=0s"
	providerMS   = 100.0
)

// doorCase is one kind of call, asked directly of the fake provider and
// through the door.
type doorCase struct {
	name   string
	stream bool
}

// doorRows measures the front door's overhead as a client sees it: the
// same chat completion, plain and streamed, asked of the fake OpenAI
// provider directly and through Highway's /v1/chat/completions, in one
// run, interleaved over rounds (each cell the median). The overhead at a
// percentile is the door's latency less the direct call's; CPU per
// request is Highway's alone. Then the memory an open stream through the
// door holds.
func doorRows(highway string, conns []int, warm, d time.Duration, rounds int) []string {
	addr := "127.0.0.1:18078"
	p := start(system{name: "highway (door)", args: []string{highway, "serve", "-log", "off", "-config", "bench/config/door.yaml", "-addr", addr}}, addr)
	defer stop(p)
	lines := []string{
		"### The front door: overhead beside a direct call to the same fake provider",
		"",
		fmt.Sprintf("`POST /v1/chat/completions` for a model on `highway mock`'s fake OpenAI endpoint, whose whole answer (about eleven tokens) comes %.0fms after the request, against `POST` of the same body to that endpoint directly, with wrk (%v runs after a warm-up, %d interleaved rounds, each cell the median). Overhead is the door's latency less the direct call's at the same percentile; CPU per request is Highway's own process. At 100 connections the load is about 1,000 requests a second.", providerMS, d, rounds),
		"",
		"| call | conns | path | req/s | p50 | p99 | overhead p50 | overhead p99 | errors | Highway CPU µs/req |",
		"| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
	}
	cases := []doorCase{{"plain", false}, {"streamed", true}}
	type key struct {
		c     doorCase
		conns int
		door  bool
	}
	samples := map[key][]row{}
	for range rounds {
		for _, c := range cases {
			for _, n := range conns {
				for _, door := range []bool{false, true} {
					url := doorProvider
					if door {
						url = "http://" + addr + "/v1/chat/completions"
					}
					r := doorLoad(p, url, c, door, n, warm, d)
					k := key{c, n, door}
					samples[k] = append(samples[k], r)
					fmt.Fprintf(os.Stderr, "bench: door %-8s c=%-5d door=%-5v %8.0f req/s  p50 %7.2fms  p99 %7.2fms  %6.1f µs/req  errors %d\n",
						c.name, n, door, r.rps, r.p50, r.p99, r.cpuPerReq, r.errors+r.non2xx)
				}
			}
		}
	}
	var summary []string
	for _, c := range cases {
		for _, n := range conns {
			direct, door := median(samples[key{c, n, false}]), median(samples[key{c, n, true}])
			for i, r := range []row{direct, door} {
				path, over50, over99, cpu := "direct", "", "", ""
				if i == 1 {
					path = "through the door"
					over50, over99 = fmt.Sprintf("%.2fms", door.p50-direct.p50), fmt.Sprintf("%.2fms", door.p99-direct.p99)
					cpu = fmt.Sprintf("%.1f", door.cpuPerReq)
				}
				lines = append(lines, fmt.Sprintf("| %s | %d | %s | %.0f | %.2fms | %.2fms | %s | %s | %d | %s |",
					c.name, n, path, r.rps, r.p50, r.p99, over50, over99, r.errors+r.non2xx, cpu))
			}
			summary = append(summary, fmt.Sprintf("- %s, %d conns: the door's overhead %.2fms at p50, %.2fms at p99 (%.0f req/s through the door, %.2fx the direct call's); beyond the provider's own %.0fms, the direct call waits %.2fms at p99 and the door %.2fms",
				c.name, n, door.p50-direct.p50, door.p99-direct.p99, door.rps, door.rps/direct.rps, providerMS, direct.p99-providerMS, door.p99-providerMS))
		}
	}
	lines = append(append(lines, ""), summary...)
	return append(append(lines, ""), doorStreamRows(highway, 1000)...)
}

// doorScript has wrk POST a chat completion for model.
const doorScript = `wrk.method = "POST"
wrk.body = %q
wrk.headers["Content-Type"] = "application/json"
`

// doorBody is a chat completion request for model.
func doorBody(model string, stream bool) string {
	return fmt.Sprintf(`{"model":%q,"stream":%v,"messages":[{"role":"user","content":"Say hello to the city."}]}`, model, stream)
}

// doorLoad is one wrk run of c's call at url, Highway's CPU per request
// beside it.
func doorLoad(p *proc, url string, c doorCase, door bool, conns int, warm, d time.Duration) row {
	model := "popy-mock"
	if door {
		model = "bench-chat"
	}
	script := filepath.Join(logDir, fmt.Sprintf("door-%s-%v.lua", c.name, door))
	must(os.WriteFile(script, []byte(fmt.Sprintf(doorScript, doorBody(model, c.stream))), 0o644))
	wrk(url, conns, warm, "-s", script)
	pid := p.cmd.Process.Pid
	before := cpuTicks(pid)
	out := wrk(url, conns, d, "-s", script)
	r := parseWrk(out)
	if r.requests == 0 {
		fatal("wrk served no request on %s:\n%s", url, out)
	}
	r.cpuPerReq = float64(cpuTicks(pid)-before) / ticksPerSecond * 1e6 / float64(r.requests)
	return r
}

// doorStreamRows measures what a stream open through the door holds:
// n clients each open a streamed chat completion on a model whose
// tokens come a second apart, and once every stream has had its first
// chunk the server's resident memory less what it held before is
// divided by n.
func doorStreamRows(highway string, n int) []string {
	addr := "127.0.0.1:18077"
	p := start(system{name: "highway (door streams)", args: []string{highway, "serve", "-log", "off", "-config", "bench/config/door.yaml", "-addr", addr}}, addr)
	defer stop(p)
	url := "http://" + addr + "/v1/chat/completions"
	open := func(c *http.Client) (*http.Response, error) {
		return c.Post(url, "application/json", strings.NewReader(doorBody("bench-slow", true)))
	}
	pid := p.cmd.Process.Pid
	holdStreams(open, "data: ", 50, pid) // warm: the pools and the heap a stream needs
	before := rssKB(pid)
	held := holdStreams(open, "data: ", n, pid)
	per := float64(held-before) * 1024 / float64(n)
	fmt.Fprintf(os.Stderr, "bench: door open streams: %d MB before, %d MB with %d open, %.1f KB each\n", before/1024, held/1024, n, per/1024)
	return []string{
		fmt.Sprintf("### The front door: memory per open stream, %d streamed chat completions held open at once", n),
		"",
		"Each client POSTs a streamed `/v1/chat/completions` for a model on the fake OpenAI endpoint whose tokens come a second apart, and reads it; once every stream has had its first chunk, the server's resident memory (VmRSS) less what it held before is divided by the streams.",
		"",
		"| streams | RSS before | RSS with the streams open | per open stream |",
		"| ---: | ---: | ---: | ---: |",
		fmt.Sprintf("| %d | %d MB | %d MB | %.1f KB |", n, before/1024, held/1024, per/1024),
		"",
	}
}
