package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/citypopy/highway/internal/balancer"
)

// The shared-state section: Redis and nginx on fixed loopback ports, as
// bench/config/shared.yaml names them.
const (
	redisAddr = "127.0.0.1:18379"
	limited   = "X-API-Key: bench-limited-0123456789"
	free      = "X-API-Key: bench-free-0123456789"
	conns     = 100
)

// measured is one wrk run and the CPU each process spent on it.
type measured struct {
	row
	cpu map[string]float64 // µs per request, by process: highway, redis, nginx, wrk
	ops float64            // Redis commands per request
}

// sharedRows measures Highway sharing state through Redis: what Redis
// adds to a request for the rate limit and the cache, against the
// in-memory path; the cache hit rate of three replicas sharing and not
// sharing under one load; and the capacity model of docs/scaling.md,
// predicted from one replica and checked against three behind nginx.
func sharedRows(highway string, d time.Duration) []string {
	rdb := startRedis()
	defer stopRedis(rdb)
	lines := []string{"### Shared state on Redis", "",
		fmt.Sprintf("Each row is one %v `wrk` run at %d connections against one Highway (two rows per feature: without a redis section, and with `bench/config/shared.yaml`'s Redis on loopback). CPU is per request, from /proc, for Highway and for redis-server; Redis commands per request from `INFO stats`.", d, conns),
		"",
		"| feature | state | req/s | p50 | p99 | Highway CPU µs/req | Redis CPU µs/req | Redis commands/req |",
		"| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"}
	type run struct{ feature, path, header, keys string }
	for _, r := range []run{
		{"client rate limit", "/limit", limited, ""},
		{"cache hit", "/cache", free, "1000"},
		{"cache miss", "/cache", free, "1000000000"},
	} {
		for _, cfg := range []string{"local", "shared"} {
			path, state := r.path, map[string]string{"local": "in memory", "shared": "Redis"}[cfg]
			if r.feature == "cache hit" && cfg == "shared" {
				path, state = "/cache-remote", "Redis (1 KiB memory tier)"
			}
			p := startHighway(highway, cfg, "127.0.0.1:18090", "solo")
			m := measure(rdb, map[string][]int{"highway": {p.cmd.Process.Pid}}, "http://127.0.0.1:18090"+path, r.keys, r.header, d)
			stop(p)
			fmt.Fprintf(os.Stderr, "bench: shared %-18s %-26s %7.0f req/s p50 %6.1fms p99 %6.1fms highway %6.1f µs redis %5.1f µs %4.2f cmds\n",
				r.feature, state, m.rps, m.p50, m.p99, m.cpu["highway"], m.cpu["redis"], m.ops)
			lines = append(lines, fmt.Sprintf("| %s | %s | %.0f | %.1fms | %.1fms | %.1f | %.1f | %.2f |",
				r.feature, state, m.rps, m.p50, m.p99, m.cpu["highway"], m.cpu["redis"], m.ops))
		}
	}
	lines = append(lines, "")
	lines = append(lines, hitRates(highway, rdb, d)...)
	lines = append(lines, shapes(highway, d)...)
	return append(lines, capacity(highway, rdb, d)...)
}

// hitRates runs three replicas behind nginx over 3,000 distinct calls,
// with and without the shared tier, under the same load.
func hitRates(highway string, rdb *exec.Cmd, d time.Duration) []string {
	lines := []string{fmt.Sprintf("Three replicas behind nginx, %d connections for %v over 3,000 distinct calls of a source cached 60s, each configuration from cold:", conns, d), "",
		"| replicas | req/s | cache hit rate | upstream calls | upstream calls per request |", "| --- | ---: | ---: | ---: | ---: |"}
	for _, cfg := range []string{"local", "shared"} {
		flushRedis()
		reps, lb := replicasBehindNginx(highway, cfg, 3)
		before := mockCalls("weather")
		m := measureAt(rdb, nil, lb.URL()+"/cache", "3000", free, conns, 0, d)
		calls := mockCalls("weather") - before
		hits := 0.0
		for _, p := range reps {
			hits += cacheHits(p.base)
		}
		for _, p := range reps {
			stop(p.proc)
		}
		lb.Stop()
		name := map[string]string{"local": "3, each its own cache", "shared": "3, sharing Redis"}[cfg]
		rate := hits / float64(m.requests)
		fmt.Fprintf(os.Stderr, "bench: shared hit rate %-22s %.1f%% (%d upstream calls for %d requests)\n", name, 100*rate, calls, m.requests)
		lines = append(lines, fmt.Sprintf("| %s | %.0f | %.1f%% | %d | %.3f |", name, m.rps, 100*rate, calls, float64(calls)/float64(m.requests)))
	}
	return append(lines, "")
}

// capacity predicts what three replicas behind nginx serve on this
// machine from the CPU each part spends per request, measured on one
// replica, and measures it.
func capacity(highway string, rdb *exec.Cmd, d time.Duration) []string {
	const url = "/city-report"
	solo := startHighway(highway, "shared", "127.0.0.1:18090", "solo")
	direct := measure(rdb, map[string][]int{"highway": {solo.cmd.Process.Pid}}, "http://127.0.0.1:18090"+url, "", limited, d)
	dir, _ := os.MkdirTemp("", "bench-nginx")
	defer os.RemoveAll(dir)
	lb, err := balancer.Start(dir, "127.0.0.1:18085", []string{"127.0.0.1:18090"})
	must(err)
	both := map[string][]int{"highway": {solo.cmd.Process.Pid}, "nginx": lb.Pids()}
	behind := measure(rdb, both, lb.URL()+url, "", limited, d)
	// Each of three replicas sees a third of the connections, and a Go
	// server spends more CPU per request at lower concurrency (fewer
	// requests per wake-up of the poller): the model takes the replica's
	// cost at its own share.
	third := measureAt(rdb, both, lb.URL()+url, "", limited, conns/3, 2*time.Second, d)
	lb.Stop()
	stop(solo)
	perReq := third.cpu["highway"] + behind.cpu["redis"] + behind.cpu["nginx"] + behind.cpu["wrk"]
	predicted := float64(runtimeCores()) * 1e6 / perReq

	reps, lb3 := replicasBehindNginx(highway, "shared", 3)
	pids := map[string][]int{"nginx": lb3.Pids()}
	for _, p := range reps {
		pids["highway"] = append(pids["highway"], p.proc.cmd.Process.Pid)
	}
	three := measure(rdb, pids, lb3.URL()+url, "", limited, d)
	for _, p := range reps {
		stop(p.proc)
	}
	lb3.Stop()
	fmt.Fprintf(os.Stderr, "bench: capacity one replica %.0f req/s (%.1f µs highway); behind nginx %.1f µs in all; predicted 3 replicas %.0f req/s, measured %.0f (%.2fx)\n",
		direct.rps, direct.cpu["highway"], perReq, predicted, three.rps, three.rps/predicted)
	row := func(name string, m measured) string {
		return fmt.Sprintf("| %s | %.0f | %.1fms | %.1fms | %.1f | %.1f | %.1f | %.1f | %.2f |", name, m.rps, m.p50, m.p99,
			m.cpu["highway"], m.cpu["redis"], m.cpu["nginx"], m.cpu["wrk"], m.ops)
	}
	return []string{
		fmt.Sprintf("Capacity check (docs/scaling.md): `/city-report` of `bench/config/shared.yaml` (three 5ms districts, weather cached, a client rate in Redis), %d connections. CPU per request by process, summed over processes of a kind.", conns), "",
		"| run | req/s | p50 | p99 | Highway µs/req | Redis µs/req | nginx µs/req | wrk µs/req | Redis commands/req |",
		"| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
		row("1 replica, direct", direct), row("1 replica behind nginx", behind),
		row(fmt.Sprintf("1 replica behind nginx, %d connections", conns/3), third), row("3 replicas behind nginx", three), "",
		fmt.Sprintf("Predicted for 3 replicas behind nginx on this machine's %d cores, CPU-bound: %d × 10⁶ µs / (Highway %.1f µs at a third of the connections + Redis %.1f + nginx %.1f + wrk %.1f) = **%.0f req/s**; measured **%.0f req/s**, %.2fx the prediction.",
			runtimeCores(), runtimeCores(), third.cpu["highway"], behind.cpu["redis"], behind.cpu["nginx"], behind.cpu["wrk"], predicted, three.rps, three.rps/predicted), ""}
}

// measure runs wrk against url for d after a warm-up, with keys distinct
// values of q (none when empty), and takes the CPU of pids, of Redis and
// of wrk itself per request.
func measure(rdb *exec.Cmd, pids map[string][]int, url, keys, header string, d time.Duration) measured {
	return measureAt(rdb, pids, url, keys, header, conns, 2*time.Second, d)
}

// keysScript has wrk ask for path?q=N, N uniform in 1..keys. Each of
// wrk's threads has its own Lua state: seeded alike, they would ask for
// the same keys at the same moments, and every miss would be two
// identical calls at once.
const keysScript = `local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("id", threads)
end
function init(args)
  math.randomseed(os.time() * 1000 + id)
end
request = function()
  return wrk.format("GET", %q .. math.random(1, %s))
end
`

// measureAt is measure at c connections, after a warm-up of warm (none
// when 0).
func measureAt(rdb *exec.Cmd, pids map[string][]int, url, keys, header string, c int, warm, d time.Duration) measured {
	var args []string
	if keys != "" {
		script := filepath.Join(logDir, "keys-"+keys+".lua")
		must(os.WriteFile(script, []byte(fmt.Sprintf(keysScript,
			strings.TrimPrefix(url, regexp.MustCompile(`^http://[^/]+`).FindString(url))+"?q=", keys)), 0o644))
		args = append(args, "-s", script)
	}
	args = append(args, "-H", header)
	if warm > 0 {
		wrk(url, c, warm, args...)
	}
	pids = withPid(pids, "redis", rdb.Process.Pid)
	before := map[string]int{}
	for name, ps := range pids {
		for _, pid := range ps {
			before[name] += cpuTicks(pid)
		}
	}
	opsBefore := redisCommands()
	var ru0, ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru0)
	out := wrk(url, c, d, args...)
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru1)
	m := measured{row: parseWrk(out), cpu: map[string]float64{}}
	if m.requests == 0 {
		fatal("wrk served no request on %s:\n%s", url, out)
	}
	if m.non2xx+m.errors > 0 {
		fmt.Fprintf(os.Stderr, "bench: %s: %d non-2xx, %d socket errors\n", url, m.non2xx, m.errors)
	}
	for name, ps := range pids {
		used := -before[name]
		for _, pid := range ps {
			used += cpuTicks(pid)
		}
		m.cpu[name] = float64(used) / ticksPerSecond * 1e6 / float64(m.requests)
	}
	wrkCPU := time.Duration(ru1.Utime.Nano()+ru1.Stime.Nano()-ru0.Utime.Nano()-ru0.Stime.Nano()) * time.Nanosecond
	m.cpu["wrk"] = float64(wrkCPU.Microseconds()) / float64(m.requests)
	m.ops = float64(redisCommands()-opsBefore) / float64(m.requests)
	return m
}

// withPid is pids with name's pid added.
func withPid(pids map[string][]int, name string, pid int) map[string][]int {
	out := map[string][]int{name: {pid}}
	for k, v := range pids {
		out[k] = v
	}
	return out
}

type replicaProc struct {
	proc *proc
	base string
}

// replicasBehindNginx starts n replicas of cfg on 18091… and nginx over
// them on 18085.
func replicasBehindNginx(highway, cfg string, n int) ([]replicaProc, *balancer.Nginx) {
	var reps []replicaProc
	var addrs []string
	for i := range n {
		addr := "127.0.0.1:" + strconv.Itoa(18091+i)
		reps = append(reps, replicaProc{startHighway(highway, cfg, addr, fmt.Sprintf("r%d", i+1)), "http://" + addr})
		addrs = append(addrs, addr)
	}
	dir, _ := os.MkdirTemp("", "bench-nginx")
	lb, err := balancer.Start(dir, "127.0.0.1:18085", addrs)
	must(err)
	return reps, lb
}

func startHighway(highway, cfg, addr, instance string) *proc {
	return start(system{name: "highway " + cfg + " " + instance, args: []string{highway, "serve", "-log", "off",
		"-config", "bench/config/" + cfg + ".yaml", "-addr", addr, "-instance", instance}}, addr)
}

func startRedis() *exec.Cmd {
	cmd := exec.Command("redis-server", "--port", "18379", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	must(cmd.Start())
	for deadline := time.Now().Add(10 * time.Second); redisClient().Ping(context.Background()).Err() != nil; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			fatal("redis-server did not answer on %s", redisAddr)
		}
	}
	return cmd
}

func stopRedis(cmd *exec.Cmd) { cmd.Process.Kill(); cmd.Wait() }

var rc *redis.Client

func redisClient() *redis.Client {
	if rc == nil {
		rc = redis.NewClient(&redis.Options{Addr: redisAddr, DisableIdentity: true})
	}
	return rc
}

func flushRedis() { must(redisClient().FlushAll(context.Background()).Err()) }

// redisCommands is how many commands Redis has processed, less this
// reading's own.
func redisCommands() int {
	info, err := redisClient().Info(context.Background(), "stats").Result()
	must(err)
	m := regexp.MustCompile(`total_commands_processed:(\d+)`).FindStringSubmatch(info)
	n, _ := strconv.Atoi(m[1])
	return n
}

// cacheHits is the replica's count of answers served from a cache.
func cacheHits(base string) float64 {
	req, _ := http.NewRequest("GET", base+"/metrics", nil)
	req.Header.Set("X-API-Key", strings.TrimPrefix(free, "X-API-Key: "))
	resp, err := http.DefaultClient.Do(req)
	must(err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	total := 0.0
	for _, m := range regexp.MustCompile(`(?m)^highway_source_cache_hits_total\{[^}]*\} (\S+)$`).FindAllSubmatch(b, -1) {
		v, _ := strconv.ParseFloat(string(m[1]), 64)
		total += v
	}
	return total
}

func runtimeCores() int { return runtime.NumCPU() }

// shapes measures one replica's CPU per request and memory for each route
// shape the capacity model covers, at 1,000 connections.
func shapes(highway string, d time.Duration) []string {
	lines := []string{"Route shapes, one replica alone, 1,000 connections (the capacity model's inputs):", "",
		"| shape | route | req/s | p99 | Highway CPU µs/req | req/s per core, CPU-bound | peak RSS |", "| --- | --- | ---: | ---: | ---: | ---: | ---: |"}
	for _, sh := range []struct{ name, cfg, path string }{
		{"embedded (three mock districts, 30/50/80ms)", "embedded", "/city-report"},
		{"HTTP (three upstreams over HTTP, 30/50/80ms)", "http-plain", "/city-report"},
		{"LLM streaming (one OpenAI-compatible lane, ~11 tokens 20ms apart, relayed as events)", "llm-stream", "/chat?stream=1"},
		{"the default city (embedded default: mocks up to 800ms, a chat lane from its own fake LLM, served by the same process)", "", "/city-report"},
	} {
		addr := "127.0.0.1:18090"
		args := []string{highway, "serve", "-log", "off", "-addr", addr}
		if sh.cfg != "" {
			args = append(args, "-config", "bench/config/"+sh.cfg+".yaml")
		}
		p := start(system{name: "highway shape " + sh.cfg, args: args}, addr)
		r := load(p, system{name: sh.name}, "http://"+addr+sh.path, 1000, 2*time.Second, d)
		stop(p)
		fmt.Fprintf(os.Stderr, "bench: shape %-10s %7.0f req/s p99 %6.1fms %6.1f µs/req %d MB\n", sh.cfg, r.rps, r.p99, r.cpuPerReq, r.peakRSS/1024)
		lines = append(lines, fmt.Sprintf("| %s | `%s` | %.0f | %.1fms | %.1f | %.0f | %d MB |", sh.name, sh.path, r.rps, r.p99, r.cpuPerReq, 1e6/r.cpuPerReq, r.peakRSS/1024))
	}
	return append(lines, "")
}
