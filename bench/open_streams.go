package main

import (
	"bufio"
	"fmt"
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

// openStreamRows measures what an open stream holds: each build serves
// a chat lane whose tokens come a second apart, n clients open a stream
// each and read it, and the server's resident memory once every stream
// has its first token, less its memory before, is divided by n. The
// builds run one after the other, so that neither measures the other.
func openStreamRows(builds map[string]string, n int) []string {
	lines := []string{
		fmt.Sprintf("### Open streams: memory per stream, %d streamed chat lanes held open at once", n),
		"",
		"Each client opens `/chat?stream=1` on a lane from `highway mock`'s fake OpenAI endpoint whose tokens come a second apart, and reads it; once every stream has had its first token, the server's resident memory (VmRSS) less what it held before is divided by the streams.",
		"",
		"| build | streams | RSS before | RSS with the streams open | per open stream |",
		"| --- | ---: | ---: | ---: | ---: |",
	}
	for _, name := range slices.Sorted(maps.Keys(builds)) {
		addr := "127.0.0.1:18079"
		p := start(system{name: name + " (open streams)", args: []string{builds[name], "serve", "-log", "off", "-config", "bench/config/llm-open.yaml", "-addr", addr}}, addr)
		url := "http://" + addr + "/chat?stream=1"
		pid := p.cmd.Process.Pid
		get := func(c *http.Client) (*http.Response, error) { return c.Get(url) }
		holdStreams(get, "event: delta", 50, pid) // warm: the pools and the heap a stream needs
		before := rssKB(pid)
		open := holdStreams(get, "event: delta", n, pid)
		stop(p)
		per := float64(open-before) * 1024 / float64(n)
		fmt.Fprintf(os.Stderr, "bench: open streams %s: %d MB before, %d MB with %d open, %.1f KB each\n", name, before/1024, open/1024, n, per/1024)
		lines = append(lines, fmt.Sprintf("| %s | %d | %d MB | %d MB | %.1f KB |", name, n, before/1024, open/1024, per/1024))
	}
	return append(lines, "")
}

// holdStreams opens n streams with open, waits for each one's first
// token (a line that begins with first), and returns the resident memory
// of the server (process pid) then, in kB; it closes them all after.
func holdStreams(open func(*http.Client) (*http.Response, error), first string, n, pid int) (rss int) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n, MaxConnsPerHost: 0}}
	defer client.CloseIdleConnections()
	var began, done sync.WaitGroup
	release := make(chan struct{})
	for range n {
		began.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			seen := false
			defer func() {
				if !seen {
					began.Done()
				}
			}()
			resp, err := open(client)
			if err != nil {
				return
			}
			defer resp.Body.Close()
			sc := bufio.NewScanner(resp.Body)
			for sc.Scan() {
				if !seen && strings.HasPrefix(sc.Text(), first) {
					seen = true
					began.Done()
					<-release // hold it open, unread, until measured
				}
			}
		}()
	}
	began.Wait()
	time.Sleep(500 * time.Millisecond) // let the last writes settle
	rss = rssKB(pid)
	close(release)
	done.Wait()
	return rss
}

// rssKB is the process's resident memory now, in kB.
func rssKB(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			var kb int
			fmt.Sscanf(strings.TrimSpace(v), "%d", &kb)
			return kb
		}
	}
	return 0
}
