package policy

import (
	"slices"
	"sync"
	"time"
)

// Latencies keeps the latencies of a source's most recent successful calls
// and answers percentiles of them, for hedging at "p95" and for health
// pages. The zero value is ready to use and safe for concurrent use.
type Latencies struct {
	mu     sync.Mutex
	ring   [latencyWindow]time.Duration
	n      int // samples held, up to latencyWindow
	next   int
	sorted []time.Duration // a sorted copy of ring[:n], rebuilt when stale
	stale  int             // observations since sorted was built
}

const (
	latencyWindow = 512
	// MinSamples is how many observations Percentile needs before it
	// answers: below it, a percentile is noise.
	MinSamples = 20
	// resortEvery bounds the work of Percentile: the sorted copy is rebuilt
	// at most once per this many observations.
	resortEvery = 32
)

// Observe records one latency.
func (l *Latencies) Observe(d time.Duration) {
	l.mu.Lock()
	l.ring[l.next] = d
	l.next = (l.next + 1) % latencyWindow
	l.n = min(l.n+1, latencyWindow)
	l.stale++
	l.mu.Unlock()
}

// Len is how many recent latencies are held, up to the window of 512.
func (l *Latencies) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n
}

// Percentile returns the p-th percentile (0 < p <= 100) of the recent
// latencies, and false while there are fewer than MinSamples.
func (l *Latencies) Percentile(p float64) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n < MinSamples {
		return 0, false
	}
	if l.sorted == nil || l.stale >= resortEvery {
		l.sorted = append(l.sorted[:0], l.ring[:l.n]...)
		slices.Sort(l.sorted)
		l.stale = 0
	}
	i := int(float64(len(l.sorted))*p/100+0.5) - 1
	return l.sorted[min(max(i, 0), len(l.sorted)-1)], true
}
