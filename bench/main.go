// Command bench measures Highway side by side with its baselines, in one
// run on one machine, against the same upstreams and with the same load
// client (wrk): the hand-written Go fan-out and the no-fan-out floor in
// ../shared/peers, and the seed's own FastAPI system. It prints one table
// and writes it, with ratios, to bench/RESULTS.md.
//
// Run it from the repository root through bench/run.sh, which installs
// what it needs:
//
//	bash bench/run.sh [-duration 10s] [-conns 100,1000] [-only REGEXP]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/citypopy/highway/internal/surge"
)

const upstream = "127.0.0.1:18100"

// logDir keeps each server's own output, out of the table's way.
var logDir = filepath.Join("bench", "out")

// system is one server under test.
type system struct {
	name, group string // group: embedded or http
	args        []string
	dir         string
	env         []string
	path        string // route requested
}

// row is one measurement.
type row struct {
	system, group  string
	conns          int
	rps, p50, p99  float64 // ms for latencies
	errors, non2xx int
	cpuPerReq      float64 // µs of server CPU per request
	peakRSS        int     // kB
	requests       int
	note           string
}

func main() {
	duration := flag.Duration("duration", 10*time.Second, "length of each measured run")
	warmup := flag.Duration("warmup", 2*time.Second, "unmeasured run before each measured one")
	connsFlag := flag.String("conns", "100,1000", "connection counts to measure at")
	peers := flag.String("peers", "../shared/peers", "the folder of the baselines")
	only := flag.String("only", "", "measure only systems whose name matches this regexp")
	surgeUsers := flag.Int("surge-users", 10000, "users in the surge row (0 to skip)")
	rounds := flag.Int("rounds", 3, "interleaved rounds over all systems; each cell is the median")
	out := flag.String("out", "bench/RESULTS.md", "where to write the results")
	flag.BoolVar(&pinned, "pin", false, "run each system under test on CPU 1 and wrk on CPU 0 (taskset), so that an A/B's rounds do not share a core with their load")
	ab := flag.String("ab", "", "an older highway binary, measured beside this build under the same load: the A/B of a change")
	flag.Parse()

	var conns []int
	for _, c := range strings.Split(*connsFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(c))
		if err != nil || n < 1 {
			fatal("bad -conns %q", *connsFlag)
		}
		conns = append(conns, n)
	}
	bin := filepath.Join("bench", "out")
	must(os.MkdirAll(bin, 0o755))
	highway := build(".", "./cmd/highway", filepath.Join(bin, "highway"))
	naive := build(filepath.Join(*peers, "naivego"), ".", abs(filepath.Join(bin, "naivego")))
	floor := build(filepath.Join(*peers, "floor"), ".", abs(filepath.Join(bin, "floor")))

	mock := start(system{name: "highway mock", args: []string{highway, "mock", "-config", "bench/config/mock.yaml", "-addr", upstream}}, upstream)
	defer stop(mock)

	up := "http://" + upstream
	py := []string{"/usr/bin/python3", "-m", "uvicorn", "seed_fastapi:app", "--log-level", "warning", "--host", "127.0.0.1", "--port"}
	latencies := []string{"WEATHER_MS=30", "IMAGE_MS=80", "CHAT_MS=50"}
	systems := []system{
		{name: "highway", group: "embedded", args: []string{highway, "serve", "-log", "off", "-config", "bench/config/embedded.yaml", "-addr"}},
		{name: "naivego (WaitGroup fan-out)", group: "embedded", args: []string{naive, "-addr"}},
		{name: "floor (no fan-out)", group: "embedded", args: []string{floor}},
		{name: "seed FastAPI + asyncio.gather", group: "embedded", args: py, dir: *peers, env: latencies},
		{name: "highway", group: "http", args: []string{highway, "serve", "-log", "off", "-config", "bench/config/http-plain.yaml", "-addr"}},
		{name: "naivego (WaitGroup fan-out)", group: "http", args: []string{naive, "-upstream", up, "-addr"}},
		{name: "seed FastAPI + aiohttp", group: "http", args: py, dir: *peers, env: append(latencies, "UPSTREAM="+up)},
		{name: "highway, coalesce on", group: "http", args: []string{highway, "serve", "-log", "off", "-config", "bench/config/http-coalesce.yaml", "-addr"}},
		{name: "highway, cache 1s", group: "http", args: []string{highway, "serve", "-log", "off", "-config", "bench/config/http-cache.yaml", "-addr"}},
	}
	if *ab != "" {
		before := abs(*ab)
		systems = append(systems,
			system{name: "highway before (A/B)", group: "embedded", args: []string{before, "serve", "-log", "off", "-config", "bench/config/embedded.yaml", "-addr"}},
			system{name: "highway before (A/B)", group: "http", args: []string{before, "serve", "-log", "off", "-config", "bench/config/http-plain.yaml", "-addr"}},
			// A streamed chat lane: each request is one stream of about
			// eleven tokens relayed as events, so CPU per request is CPU
			// per stream and peak RSS at a thousand connections is a
			// thousand open streams.
			system{name: "highway", group: "llm-stream", path: "/chat?stream=1", args: []string{highway, "serve", "-log", "off", "-config", "bench/config/llm-stream.yaml", "-addr"}},
			system{name: "highway before (A/B)", group: "llm-stream", path: "/chat?stream=1", args: []string{before, "serve", "-log", "off", "-config", "bench/config/llm-stream.yaml", "-addr"}})
	}
	filter := regexp.MustCompile(*only)
	// Every system runs at once (an idle one costs nothing) and the rounds
	// interleave them, so that the machine's noise falls on all alike; each
	// cell is the median of the rounds.
	type running struct {
		s    system
		p    *proc
		addr string
	}
	var live []running
	for i, s := range systems {
		if !filter.MatchString(s.name + " " + s.group) {
			continue
		}
		addr := "127.0.0.1:" + strconv.Itoa(18080+i)
		s.args = append(s.args, addrArg(s, addr))
		if s.path == "" {
			s.path = "/city-report"
		}
		live = append(live, running{s, start(s, addr), addr})
	}
	samples := map[[2]int][]row{}
	for round := 1; round <= *rounds; round++ {
		order := make([]int, len(live)) // every other round backwards, so no system always runs first
		for k := range order {
			order[k] = k
			if round%2 == 0 {
				order[k] = len(live) - 1 - k
			}
		}
		for _, i := range order {
			l := live[i]
			for _, c := range conns {
				r := load(l.p, l.s, "http://"+l.addr+l.s.path, c, *warmup, *duration)
				samples[[2]int{i, c}] = append(samples[[2]int{i, c}], r)
				fmt.Fprintf(os.Stderr, "bench: round %d %-32s %-8s c=%-5d %8.0f req/s  p50 %7.1fms  p99 %7.1fms  %6.1f µs/req  errors %d\n",
					round, l.s.name, l.s.group, c, r.rps, r.p50, r.p99, r.cpuPerReq, r.errors+r.non2xx)
			}
		}
	}
	var rows []row
	for i, l := range live {
		for _, c := range conns {
			rows = append(rows, median(samples[[2]int{i, c}]))
		}
		stop(l.p)
	}
	var extra []string
	if filter.MatchString("highway surge") && *surgeUsers > 0 {
		builds := map[string]string{"highway": highway}
		if *ab != "" {
			builds["highway before (A/B)"] = abs(*ab)
		}
		extra = append(extra, surgeRows(builds, *surgeUsers, *duration)...)
	}
	if filter.MatchString("highway open streams") {
		builds := map[string]string{"highway": highway}
		if *ab != "" {
			builds["highway before (A/B)"] = abs(*ab)
		}
		extra = append(extra, openStreamRows(builds, 1000)...)
	}
	if filter.MatchString("highway hedge") {
		extra = append(extra, hedgeRows(highway, *duration)...)
	}
	if filter.MatchString("highway failover hedge") {
		extra = append(extra, failoverHedgeRows(highway, *duration)...)
	}
	if filter.MatchString("highway door") {
		extra = append(extra, doorRows(highway, conns, *warmup, *duration, *rounds)...)
	}
	if filter.MatchString("highway shared") {
		extra = append(extra, sharedRows(highway, *duration)...)
	}
	report := render(rows, extra, conns, *duration, *rounds)
	if notes, err := os.ReadFile("bench/ANALYSIS.md"); err == nil {
		report += "\n" + string(notes) // what the numbers mean, kept by hand
	}
	fmt.Println(report)
	must(os.WriteFile(*out, []byte(report), 0o644))
	fmt.Fprintf(os.Stderr, "bench: wrote %s\n", *out)
}

func addrArg(s system, addr string) string {
	if s.args[0] == "/usr/bin/python3" {
		return strings.Split(addr, ":")[1]
	}
	return addr
}

func build(dir, pkg, out string) string {
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = dir
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		fatal("build %s in %s: %v", pkg, dir, err)
	}
	return abs(out)
}

type proc struct {
	cmd *exec.Cmd
	s   system
}

// pinned runs each system under test on CPU 1 and wrk on CPU 0 (-pin).
var pinned bool

// onCPU is args run on cpu when pinned, as they are otherwise.
func onCPU(cpu string, args []string) []string {
	if !pinned {
		return args
	}
	return append([]string{"taskset", "-c", cpu}, args...)
}

func start(s system, addr string) *proc {
	args := onCPU("1", s.args)
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = s.dir
	cmd.Env = append(os.Environ(), s.env...)
	logName := regexp.MustCompile(`[^a-z0-9]+`).ReplaceAllString(strings.ToLower(s.name+" "+s.group), "-")
	log, err := os.Create(filepath.Join(logDir, logName+".log"))
	must(err)
	defer log.Close()
	cmd.Stdout, cmd.Stderr = log, log
	must(cmd.Start())
	deadline := time.Now().Add(20 * time.Second)
	for {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return &proc{cmd, s}
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			fatal("%s did not listen on %s", s.name, addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func stop(p *proc) {
	p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-done
	}
}

// cpuTicks is the process's user and system time, in clock ticks.
func cpuTicks(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	must(err)
	f := strings.Fields(string(b)[strings.LastIndexByte(string(b), ')')+2:])
	u, _ := strconv.Atoi(f[11])
	s, _ := strconv.Atoi(f[12])
	return u + s
}

// peakRSS is the process's high-water resident memory, in kB.
func peakRSS(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	must(err)
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			n, _ := strconv.Atoi(strings.Fields(v)[0])
			return n
		}
	}
	return 0
}

const ticksPerSecond = 100 // Linux USER_HZ

func load(p *proc, s system, url string, conns int, warmup, duration time.Duration) row {
	wrk(url, conns, warmup)
	pid := p.cmd.Process.Pid
	before := cpuTicks(pid)
	out := wrk(url, conns, duration)
	used := cpuTicks(pid) - before
	r := parseWrk(out)
	r.system, r.group, r.conns = s.name, s.group, conns
	if r.requests > 0 {
		r.cpuPerReq = float64(used) / ticksPerSecond * 1e6 / float64(r.requests)
	}
	r.peakRSS = peakRSS(pid)
	return r
}

// median takes each measure's median over the rounds (errors are summed).
func median(rs []row) row {
	m := rs[0]
	pick := func(get func(row) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = get(r)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	m.rps = pick(func(r row) float64 { return r.rps })
	m.p50 = pick(func(r row) float64 { return r.p50 })
	m.p99 = pick(func(r row) float64 { return r.p99 })
	m.cpuPerReq = pick(func(r row) float64 { return r.cpuPerReq })
	m.errors, m.non2xx, m.peakRSS = 0, 0, 0
	for _, r := range rs {
		m.errors += r.errors
		m.non2xx += r.non2xx
		m.peakRSS = max(m.peakRSS, r.peakRSS)
	}
	return m
}

// wrk loads url from conns connections for d; extra are more of wrk's
// flags (a header, a script).
func wrk(url string, conns int, d time.Duration, extra ...string) string {
	threads := min(2, conns)
	if pinned {
		threads = 1 // its one core
	}
	args := append([]string{"-t", strconv.Itoa(threads), "-c", strconv.Itoa(conns), "-d", fmt.Sprintf("%ds", int(d.Seconds())), "--latency", "--timeout", "10s"}, extra...)
	args = onCPU("0", append(append([]string{"wrk"}, args...), url))
	cmd := exec.Command(args[0], args[1:]...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		fatal("wrk: %v\n%s", err, out)
	}
	return string(out)
}

var (
	reqLine  = regexp.MustCompile(`(\d+) requests in`)
	rpsLine  = regexp.MustCompile(`Requests/sec:\s+([\d.]+)`)
	pctLine  = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([\d.]+)(us|ms|s)`)
	sockLine = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	non2xx   = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
)

func parseWrk(out string) row {
	var r row
	if m := reqLine.FindStringSubmatch(out); m != nil {
		r.requests, _ = strconv.Atoi(m[1])
	}
	if m := rpsLine.FindStringSubmatch(out); m != nil {
		r.rps, _ = strconv.ParseFloat(m[1], 64)
	}
	for _, m := range pctLine.FindAllStringSubmatch(out, -1) {
		v, _ := strconv.ParseFloat(m[2], 64)
		v *= map[string]float64{"us": 0.001, "ms": 1, "s": 1000}[m[3]]
		if m[1] == "50" {
			r.p50 = v
		} else {
			r.p99 = v
		}
	}
	if m := sockLine.FindStringSubmatch(out); m != nil {
		for _, x := range m[1:] {
			n, _ := strconv.Atoi(x)
			r.errors += n
		}
	}
	if m := non2xx.FindStringSubmatch(out); m != nil {
		r.non2xx, _ = strconv.Atoi(m[1])
	}
	return r
}

// surgeRows holds the seed's surge against Highway as shipped (default
// admission control), with Highway's own closed-loop generator, which
// tells admitted requests from shed ones.
func surgeRows(builds map[string]string, users int, d time.Duration) []string {
	lines := []string{
		fmt.Sprintf("### Surge: %d simultaneous users against Highway with admission control sized for this machine", users),
		"",
		"Closed loop (each user sends its next request when the last is answered; a shed user waits the Retry-After it was given, with jitter), measured with `highway surge`'s generator, which tells admitted (2xx) answers from shed (503) ones. The first 3s of the 10,000-user run (the connection storm) are left out. Admission is sized for this machine in bench/config/surge.yaml (512 in flight).",
		"",
		"| build | users | answers/s | served (2xx) | shed (503) | socket errors | admitted p50 | admitted p99 | admitted p99 vs 100 users | server CPU | peak RSS |",
		"| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
	}
	for _, name := range slices.Sorted(maps.Keys(builds)) {
		lines = append(lines, surgeRow(name, builds[name], users, d)...)
	}
	return append(lines, "")
}

// surgeRow runs the surge against one build, one after the other: two
// surges at once would measure each other.
func surgeRow(name, highway string, users int, d time.Duration) []string {
	addr := "127.0.0.1:18079"
	p := start(system{name: name + " (surge)", args: []string{highway, "serve", "-log", "off", "-config", "bench/config/surge.yaml", "-addr", addr}}, addr)
	defer stop(p)
	url := "http://" + addr + "/city-report"
	calm, err := surge.Run(context.Background(), surge.Options{URL: url, Users: 100, Duration: d})
	must(err)
	before := cpuTicks(p.cmd.Process.Pid)
	s, err := surge.Run(context.Background(), surge.Options{URL: url, Users: users, Duration: d + 3*time.Second, Warmup: 3 * time.Second})
	must(err)
	used := cpuTicks(p.cmd.Process.Pid) - before
	rss := peakRSS(p.cmd.Process.Pid)
	ratio := float64(s.Admitted.P99) / float64(calm.Admitted.P99)
	fmt.Fprintf(os.Stderr, "bench: surge %s %d users: %.0f req/s, admitted p99 %v (%.2fx of %v at 100 users), shed %d, socket errors %d, peak RSS %d MB\n",
		name, users, s.PerSec, s.Admitted.P99, ratio, calm.Admitted.P99, s.Shed, s.ErrorCount(), rss/1024)
	return []string{
		fmt.Sprintf("| %s | 100 | %.0f | %d | %d | %d | %s | %s | 1.00x | | |", name, calm.PerSec, calm.Statuses[200], calm.Shed, calm.ErrorCount(), msd(calm.Admitted.P50), msd(calm.Admitted.P99)),
		fmt.Sprintf("| %s | %d | %.0f | %d | %d | %d | %s | %s | %.2fx | %.1f s | %d MB |", name, users, s.PerSec, s.Statuses[200], s.Shed, s.ErrorCount(), msd(s.Admitted.P50), msd(s.Admitted.P99), ratio, float64(used)/ticksPerSecond, rss/1024),
	}
}

// hedgeRows compares a heavy-tailed upstream with and without hedging.
func hedgeRows(highway string, d time.Duration) []string {
	addr := "127.0.0.1:18078"
	p := start(system{name: "highway (hedge)", args: []string{highway, "serve", "-log", "off", "-config", "bench/config/hedge.yaml", "-addr", addr}}, addr)
	defer stop(p)
	lines := []string{
		"### Hedging a heavy-tailed upstream",
		"",
		"One http source whose upstream answers in 50ms except 1% of calls, which take 1s. 100 connections.",
		"",
		"| route | req/s | p50 | p99 | upstream calls per request |",
		"| --- | ---: | ---: | ---: | ---: |",
	}
	for _, route := range []string{"plain", "hedged"} {
		url := "http://" + addr + "/" + route
		wrk(url, 100, 2*time.Second) // warm up, and fill the latency window
		before := mockCalls("tail")
		r := parseWrk(wrk(url, 100, d))
		calls := float64(mockCalls("tail")-before) / float64(r.requests)
		fmt.Fprintf(os.Stderr, "bench: hedge %-6s p50 %.1fms p99 %.1fms, %.3f upstream calls per request\n", route, r.p50, r.p99, calls)
		name := "no hedging"
		if route == "hedged" {
			name = "hedge at p95, max_extra 5%"
		}
		lines = append(lines, fmt.Sprintf("| %s | %.0f | %.1fms | %.1fms | %.3f |", name, r.rps, r.p50, r.p99, calls))
	}
	return append(lines, "")
}

// mockCalls is how many calls highway mock's endpoint (tail, weather…)
// has had.
func mockCalls(endpoint string) int {
	resp, err := http.Get("http://" + upstream + "/")
	must(err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`"` + endpoint + `":(\d+)`).FindSubmatch(b)
	if m == nil {
		fatal("mock index has no %s count: %s", endpoint, b)
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

func msd(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000) }

func render(rows []row, extra []string, conns []int, d time.Duration, rounds int) string {
	var b strings.Builder
	host, _ := os.Hostname()
	fmt.Fprintf(&b, "# Benchmark results\n\n%s, on %s: %d cores, %s, %s. Each cell is the median of %d interleaved rounds (all systems running at once, so the machine's noise falls on all alike) of %v of `wrk -t2 --latency` after a warm-up; server CPU from /proc, divided by the requests served; Highway runs with its metrics on and its request log off (the baselines log nothing); peak RSS is the process's high-water mark; errors are summed over the rounds. All systems fetch the same three sources (weather 30ms, chat 50ms, image 80ms), so the ceiling is connections / 80ms.\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), host, runtime.NumCPU(), cpuModel(), runtime.Version(), rounds, d)
	for _, group := range []string{"embedded", "http", "llm-stream"} {
		if !slices.ContainsFunc(rows, func(r row) bool { return r.group == group }) {
			continue
		}
		title := map[string]string{"embedded": "Built-in mock sources (no upstream calls)", "http": "Sources fetched over HTTP from `highway mock`",
			"llm-stream": "A streamed chat lane (A/B only): one OpenAI-compatible lane from `highway mock`'s fake, about eleven tokens 20ms apart, relayed as events; a request is a stream"}[group]
		fmt.Fprintf(&b, "### %s\n\n| system | conns | req/s | p50 | p99 | errors | server CPU µs/req | peak RSS |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n", title)
		for _, r := range rows {
			if r.group == group {
				fmt.Fprintf(&b, "| %s | %d | %.0f | %.1fms | %.1fms | %d | %.1f | %d MB |\n", r.system, r.conns, r.rps, r.p50, r.p99, r.errors+r.non2xx, r.cpuPerReq, r.peakRSS/1024)
			}
		}
		b.WriteString("\n")
		ratios(&b, rows, group, conns)
	}
	b.WriteString(strings.Join(extra, "\n"))
	return b.String()
}

func ratios(b *strings.Builder, rows []row, group string, conns []int) {
	find := func(prefix string, c int) *row {
		for i := range rows {
			if rows[i].group == group && rows[i].conns == c && strings.HasPrefix(rows[i].system, prefix) && (prefix != "highway" || rows[i].system == "highway") {
				return &rows[i]
			}
		}
		return nil
	}
	findName := func(name string, c int) *row {
		for i := range rows {
			if rows[i].group == group && rows[i].conns == c && rows[i].system == name {
				return &rows[i]
			}
		}
		return nil
	}
	for _, c := range conns {
		h, n, f := find("highway", c), find("naivego", c), find("seed FastAPI", c)
		if old := findName("highway before (A/B)", c); h != nil && n == nil && old != nil { // a group measured for the A/B alone
			fmt.Fprintf(b, "- %d conns: A/B, this build vs the one before under the same load: CPU/request %.2fx (%.1f vs %.1f µs), throughput %.2fx, peak RSS %.2fx (%d vs %d MB)\n",
				c, h.cpuPerReq/old.cpuPerReq, h.cpuPerReq, old.cpuPerReq, h.rps/old.rps, float64(h.peakRSS)/float64(old.peakRSS), h.peakRSS/1024, old.peakRSS/1024)
		}
		if h == nil || n == nil {
			continue
		}
		fmt.Fprintf(b, "- %d conns: Highway vs naivego: throughput %.2fx, CPU/request %.2fx, p99 %.2fx", c, h.rps/n.rps, h.cpuPerReq/n.cpuPerReq, h.p99/n.p99)
		if f != nil && f.cpuPerReq > 0 {
			fmt.Fprintf(b, "; vs seed FastAPI: throughput %.2fx, CPU/request %.2fx", h.rps/f.rps, h.cpuPerReq/f.cpuPerReq)
		}
		if fl := find("floor", c); fl != nil {
			fmt.Fprintf(b, "; fan-out cost above the floor: Highway %.1f µs, naivego %.1f µs", h.cpuPerReq-fl.cpuPerReq, n.cpuPerReq-fl.cpuPerReq)
		}
		if old := findName("highway before (A/B)", c); old != nil {
			fmt.Fprintf(b, "; A/B, this build vs the one before under the same load: CPU/request %.2fx (%.1f vs %.1f µs), throughput %.2fx; the one before vs naivego: CPU/request %.2fx",
				h.cpuPerReq/old.cpuPerReq, h.cpuPerReq, old.cpuPerReq, h.rps/old.rps, old.cpuPerReq/n.cpuPerReq)
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "model name"); ok {
			return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
		}
	}
	return "unknown CPU"
}

func abs(p string) string {
	a, err := filepath.Abs(p)
	must(err)
	return a
}

func must(err error) {
	if err != nil {
		fatal("%v", err)
	}
}

func fatal(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
	os.Exit(1)
}
