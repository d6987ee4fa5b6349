package policy

import "sync"

// Budget caps extra calls (hedges) at a fraction of the calls made: each
// call earns Ratio of an extra one, each extra one spends a whole, and at
// most Burst are banked. It starts full, so the first slow calls after a
// start can be hedged too. A nil *Budget allows everything. Safe for
// concurrent use.
type Budget struct {
	// Ratio is the extra calls allowed per call, such as 0.05 for 5% more.
	Ratio float64
	// Burst is the most extra calls banked; 0 means 10.
	Burst float64

	mu      sync.Mutex
	tokens  float64
	started bool
}

// fill starts the budget full; b.mu is held.
func (b *Budget) fill() float64 {
	burst := b.Burst
	if burst <= 0 {
		burst = 10
	}
	if !b.started {
		b.tokens, b.started = burst, true
	}
	return burst
}

// Earn credits one call.
func (b *Budget) Earn() {
	if b == nil {
		return
	}
	b.mu.Lock()
	b.tokens = min(b.tokens+b.Ratio, b.fill())
	b.mu.Unlock()
}

// Take spends one extra call if the budget has one.
func (b *Budget) Take() bool {
	if b == nil {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.fill()
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
