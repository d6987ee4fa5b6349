package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/citypopy/highway/internal/balancer"
	"github.com/citypopy/highway/internal/redistest"
	"github.com/citypopy/highway/internal/report"
	"github.com/citypopy/highway/internal/surge"
)

// The replicas' city: a rate-limited client, an unlimited one, a cached
// source and a slow one, sharing the test's Redis.
func replicaCity(redisAddr string) string {
	return `
redis: {addr: "` + redisAddr + `", timeout: 500ms}
clients:
  keys:
    - {name: limited, key: limited-0123456789abcdef, rate: 5, burst: 5}
    - {name: free, key: free-0123456789abcdef}
sources:
  weather: {kind: mock, latency: 20ms, data: {sky: clear}, cache: {ttl: 1m}}
  chat: {kind: mock, latency: 100ms, data: {reply: hello}}
routes:
  - {path: /weather, sources: [weather]}
  - {path: /slow, sources: [weather, chat]}
`
}

// replica is one highway serve behind the balancer.
type replica struct {
	name, base string
	cmd        *exec.Cmd
	mu         sync.Mutex
	log        []string // its stderr, read as it comes so it never blocks
}

func (r *replica) collect(lines <-chan string) {
	go func() {
		for l := range lines {
			r.mu.Lock()
			r.log = append(r.log, l)
			r.mu.Unlock()
		}
	}()
}

// count is how many lines of its log contain s; each must contain also.
func (r *replica) count(t *testing.T, s, also string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, l := range r.log {
		if strings.Contains(l, s) {
			n++
			if !strings.Contains(l, also) {
				t.Errorf("replica %s: %q without %q", r.name, l, also)
			}
		}
	}
	return n
}

// balance runs Debian's nginx in front of the replicas. Without nginx the
// test is skipped, except under CI, which installs it.
func balance(t *testing.T, replicas []*replica) string {
	t.Helper()
	if _, err := balancer.Binary(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	var addrs []string
	for _, r := range replicas {
		addrs = append(addrs, strings.TrimPrefix(r.base, "http://"))
	}
	n, err := balancer.Start(t.TempDir(), "127.0.0.1:0", addrs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		n.Stop()
		if t.Failed() {
			t.Logf("nginx's log:\n%s", n.Log())
		}
	})
	return n.URL()
}

func getWith(t *testing.T, url, key string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("X-API-Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

func TestThreeReplicasBehindNginxShareRedis(t *testing.T) {
	rs := redistest.Start(t)
	bin := build(t)
	cfg := filepath.Join(t.TempDir(), "highway.yaml")
	os.WriteFile(cfg, []byte(replicaCity(rs.Addr)), 0o600)
	var replicas []*replica
	for i := range 3 {
		name := fmt.Sprintf("r%d", i+1)
		cmd, base, lines := start(t, bin, "-config", cfg, "-instance", name, "-log", "json") // the default -drain-delay, 1s
		r := &replica{name: name, base: base, cmd: cmd}
		r.collect(lines)
		replicas = append(replicas, r)
	}
	lb := balance(t, replicas)

	t.Run("one rate across the replicas", func(t *testing.T) {
		const rate, burst = 5, 5
		var allowed, refused atomic.Int64
		var instances sync.Map
		start := time.Now()
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for time.Since(start) < 2*time.Second {
					resp, _ := getWith(t, lb+"/weather", "limited-0123456789abcdef")
					switch resp.StatusCode {
					case 200:
						allowed.Add(1)
						instances.Store(resp.Header.Get("X-Highway-Instance"), true)
					case 429:
						refused.Add(1)
						if resp.Header.Get("Retry-After") == "" {
							t.Error("429 without Retry-After")
						}
					default:
						t.Errorf("status %d", resp.StatusCode)
					}
				}
			})
		}
		wg.Wait()
		elapsed := time.Since(start).Seconds()
		most := burst + rate*elapsed + 1
		t.Logf("%d allowed, %d refused in %.2fs through the balancer (one shared limit allows at most %.0f; three separate ones %.0f)",
			allowed.Load(), refused.Load(), elapsed, most, 3*most)
		if float64(allowed.Load()) > most || allowed.Load() < burst {
			t.Errorf("%d allowed in %.2fs at %d/s with a burst of %d: the limit is not shared", allowed.Load(), elapsed, rate, burst)
		}
		if refused.Load() == 0 {
			t.Error("nothing was refused")
		}
		n := 0
		instances.Range(func(any, any) bool { n++; return true })
		if n < 2 {
			t.Errorf("allowed requests came from %d replicas: the balancer did not spread them", n)
		}
	})

	t.Run("an answer cached by one replica is served by the others", func(t *testing.T) {
		fetched := map[string]bool{}
		var first string
		for range 6 {
			resp, body := getWith(t, lb+"/weather?lanes=1", "free-0123456789abcdef")
			d, err := report.Decode(body)
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("%d %s: %v", resp.StatusCode, body, err)
			}
			w := d.Sources.Get("weather")
			if !w.Cached {
				if first != "" {
					t.Errorf("replica %s fetched again what %s had cached", resp.Header.Get("X-Highway-Instance"), first)
				}
				first = resp.Header.Get("X-Highway-Instance")
			}
			fetched[resp.Header.Get("X-Highway-Instance")] = true
		}
		if len(fetched) != 3 {
			t.Errorf("answers came from %v, want all three replicas", fetched)
		}
	})

	t.Run("a replica sent SIGTERM mid-surge loses no request", func(t *testing.T) {
		victim := replicas[2]
		readyz := make(chan int, 1)
		time.AfterFunc(time.Second, func() {
			victim.cmd.Process.Signal(syscall.SIGTERM)
			// Within the drain delay the replica still listens and says
			// it is not ready.
			for deadline := time.Now().Add(900 * time.Millisecond); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
				req, _ := http.NewRequest("GET", victim.base+"/readyz", nil)
				req.Header.Set("X-API-Key", "free-0123456789abcdef") // keys are on: operators present one too
				if resp, err := http.DefaultClient.Do(req); err == nil {
					resp.Body.Close()
					if resp.StatusCode == 503 {
						readyz <- 503
						return
					}
				}
			}
			readyz <- 0
		})
		s, err := surge.Run(t.Context(), surge.Options{URL: lb + "/slow", Users: 40, Duration: 3 * time.Second,
			Header: http.Header{"X-Api-Key": {"free-0123456789abcdef"}}})
		if err != nil {
			t.Fatal(err)
		}
		if code := <-readyz; code != 503 {
			t.Error("/readyz did not answer 503 before the listener closed")
		}
		if err := victim.cmd.Wait(); err != nil {
			t.Errorf("the replica exited with %v", err)
		}
		t.Logf("surge through the balancer: %d requests, statuses %v, errors %v", s.Requests, s.Statuses, s.Errors)
		if s.Statuses[200] == 0 || len(s.Statuses) != 1 || len(s.Errors) != 0 {
			t.Errorf("statuses %v, errors %v: a request was lost when a replica left", s.Statuses, s.Errors)
		}
		replicas = replicas[:2]
	})

	t.Run("Redis stopped mid-surge: requests keep being answered", func(t *testing.T) {
		time.AfterFunc(700*time.Millisecond, rs.Stop)
		s, err := surge.Run(t.Context(), surge.Options{URL: lb + "/slow", Users: 20, Duration: 2 * time.Second,
			Header: http.Header{"X-Api-Key": {"free-0123456789abcdef"}}})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("surge with Redis stopped: %d requests, statuses %v, errors %v", s.Requests, s.Statuses, s.Errors)
		if s.Statuses[200] == 0 || len(s.Statuses) != 1 || len(s.Errors) != 0 {
			t.Errorf("statuses %v, errors %v: with Redis down every request must still be answered", s.Statuses, s.Errors)
		}
		// The limited client falls back to each replica's own limiter
		// (on_error: open): answered or rate-limited, never refused
		// otherwise.
		for range 10 {
			if resp, body := getWith(t, lb+"/weather", "limited-0123456789abcdef"); resp.StatusCode != 200 && resp.StatusCode != 429 {
				t.Errorf("limited client with Redis down: %d %s", resp.StatusCode, body)
			}
		}
		for _, r := range replicas {
			_, b := getWith(t, r.base+"/metrics", "free-0123456789abcdef")
			if want := `highway_redis_up{instance="` + r.name + `"} 0`; !strings.Contains(string(b), want) {
				t.Errorf("replica %s: metrics lack %s", r.name, want)
			}
			// One line saying Redis went, not one per request.
			if n := r.count(t, "redis does not answer", `"instance":"`+r.name+`"`); n != 1 {
				t.Errorf("replica %s logged Redis going away %d times, want once", r.name, n)
			}
		}
	})
}
