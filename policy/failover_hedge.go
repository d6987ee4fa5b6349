package policy

import (
	"context"
	"sync"
	"time"

	"github.com/citypopy/highway/internal/routine"
)

// FailoverHedge makes a Failover start the next source beside the current
// one when the current has not begun its answer after a delay (an LLM
// provider slow to its first token), instead of waiting for it to fail.
// The first of the two to begin its answer holds the call and the other
// is cancelled; its failover step says it lost (a *HedgeLostError). At
// most one hedge is sent per call, and Budget caps how many calls send
// one.
//
// The zero value, with no Delay or Percentile, never hedges.
type FailoverHedge struct {
	// Delay is how long the current source may go without beginning its
	// answer, when Percentile is 0.
	Delay time.Duration
	// Percentile, if set (such as 95), replaces Delay with that percentile
	// of Observed, plus PercentileMargin of it; until Observed has
	// MinSamples, no hedge is sent.
	Percentile float64
	// Observed collects how long the first source took to begin its
	// answer, in the calls where it did. Required with Percentile.
	Observed *Latencies
	// Budget caps the hedges; nil means no cap.
	Budget *Budget
	// Watch, if set, returns the context one source is called with, so
	// that it calls begin the moment it begins its answer (a streamed
	// first token) and, while begin reports false (another source holds
	// the call), keeps what it streams to itself. nil, or a source that
	// never calls begin, begins when it answers.
	Watch func(ctx context.Context, begin func() bool) context.Context
}

// HedgeLostError is the failover step of a source a hedged Failover
// cancelled, because Winner began its answer first. Err is what the
// cancelled call returned (which may say what it had spent).
type HedgeLostError struct {
	Winner string
	Err    error
}

// Error says who won.
func (e *HedgeLostError) Error() string {
	return "cancelled: " + e.Winner + " began its answer first"
}

// Unwrap returns what the cancelled call returned.
func (e *HedgeLostError) Unwrap() error { return e.Err }

// hedgedCall is one call of a hedged Failover: which sources run, which
// holds the call, and what each returned. Its loop runs on the caller's
// goroutine; hold, called by the sources' goroutines, is under mu.
type hedgedCall[C, T any] struct {
	f       *Failover[C, T]
	ctx     context.Context
	call    C
	tr      *Trace
	names   []string
	out     chan raceOutcome[T]
	cancels []context.CancelFunc
	starts  []time.Time
	running map[int]bool
	hedged  bool // a hedge was sent

	mu     sync.Mutex
	holder int   // -1: none yet, or the holder failed
	lostTo []int // by source: the source it lost to, or -1
	began  chan int
}

// raceOutcome is what one source of a hedged call returned.
type raceOutcome[T any] struct {
	k       int
	v       T
	err     error
	latency time.Duration
}

// race is Fetch with a hedge: the failover list is walked as without
// one, but while the first source has not begun its answer, the next is
// started beside it once the hedge delay has passed.
func (f *Failover[C, T]) race(ctx context.Context, call C) (T, error) {
	f.Hedge.Budget.Earn()
	n := 1 + len(f.Alternates)
	c := &hedgedCall[C, T]{f: f, ctx: ctx, call: call, tr: TraceFrom(ctx), names: make([]string, n),
		out: make(chan raceOutcome[T], n), cancels: make([]context.CancelFunc, n), starts: make([]time.Time, n),
		running: map[int]bool{}, holder: -1, lostTo: make([]int, n), began: make(chan int, n)}
	c.names[0] = f.Name
	for k, alt := range f.Alternates {
		c.names[k+1] = alt.Name
	}
	for k := range c.lostTo {
		c.lostTo[k] = -1
	}
	defer func() {
		for _, cancel := range c.cancels {
			if cancel != nil {
				cancel()
			}
		}
	}()
	return c.run()
}

func (c *hedgedCall[C, T]) run() (T, error) {
	c.launch(0)
	next := 1
	h := c.f.Hedge
	delay, hedging := hedgeDelay(h.Delay, h.Percentile, h.Observed)
	var t *time.Timer
	var timer <-chan time.Time
	arm := func() { // each source the call moves on to gets its own time to begin
		if !hedging || c.hedged {
			return
		}
		if t == nil {
			t = time.NewTimer(delay)
		} else {
			t.Reset(delay)
		}
		timer = t.C
	}
	defer func() {
		if t != nil {
			t.Stop()
		}
	}()
	arm()
	var failed *raceOutcome[T] // the last source that failed without losing a race: what the call ends with
	for {
		select {
		case <-timer: // the current source has been slow to begin: start the next beside it
			timer = nil
			if c.holding() >= 0 || len(c.running) != 1 || next >= len(c.names) || c.ctx.Err() != nil || !h.Budget.Take() {
				continue
			}
			c.hedged = true
			c.tr.Mark(Hedged)
			cur := next - 1
			c.tell(FailoverStep{Name: c.names[cur], Latency: time.Since(c.starts[cur]), Hedge: true}, next)
			c.launch(next)
			next++
		case k := <-c.began:
			timer = nil
			if c.holding() == k { // not one that has failed since
				c.beat(k)
			}
		case o := <-c.out:
			delete(c.running, o.k)
			if o.err == nil && c.hold(o.k) { // answering is beginning, for a source that streams nothing
				return c.served(o.k, o.v)
			}
			lost := false
			if w := c.winner(o.k, o.err); w >= 0 {
				o.err, lost = &HedgeLostError{Winner: c.names[w], Err: o.err}, true
			} else {
				failed = &o
			}
			c.release(o.k)
			if len(c.running) > 0 { // the other source goes on with the call
				c.tr.FailedOver(c.names[o.k], o.err, o.latency)
				continue
			}
			if failed == nil {
				failed = &o
			}
			last := c.ctx.Err() != nil || next >= len(c.names) || (c.f.On != nil && !c.f.On(failed.err))
			if lost || !last || c.ctx.Err() == nil && (c.f.On == nil || c.f.On(failed.err)) {
				c.tr.FailedOver(c.names[o.k], o.err, o.latency) // as Failover does, the last failure is a step only if it would have moved on
			}
			if last {
				var zero T
				return zero, failed.err
			}
			c.tell(FailoverStep{Name: c.names[failed.k], Err: failed.err, Latency: failed.latency}, next)
			c.launch(next)
			next++
			arm()
		}
	}
}

// launch starts source k.
func (c *hedgedCall[C, T]) launch(k int) {
	src := c.f.Next
	if k > 0 {
		src = c.f.Alternates[k-1].Source
	}
	ctx, cancel := context.WithCancel(c.ctx)
	c.cancels[k], c.starts[k], c.running[k] = cancel, time.Now(), true
	if w := c.f.Hedge.Watch; w != nil {
		ctx = w(ctx, func() bool { return c.hold(k) })
	}
	start := c.starts[k]
	routine.Go(func() (T, error) { return src.Fetch(ctx, c.call) },
		func(v T, err error) { c.out <- raceOutcome[T]{k, v, err, time.Since(start)} })
}

// tell tells the trace's OnFailover that the call moves on (or a hedge
// goes out) from step to source next.
func (c *hedgedCall[C, T]) tell(step FailoverStep, next int) {
	if c.tr != nil && c.tr.OnFailover != nil {
		c.tr.OnFailover(step, c.names[next])
	}
}

// served ends the call with k's answer: the others running lose, and are
// waited for, so that the trace has what each returned.
func (c *hedgedCall[C, T]) served(k int, v T) (T, error) {
	c.beat(k)
	for len(c.running) > 0 {
		o := <-c.out
		delete(c.running, o.k)
		c.tr.FailedOver(c.names[o.k], &HedgeLostError{Winner: c.names[k], Err: o.err}, o.latency)
	}
	if k > 0 {
		c.tr.ServedBy(c.names[k])
		if c.hedged {
			c.tr.Mark(HedgeWon)
		}
	} else if steps, _ := c.tr.Failovers(); len(steps) > 0 {
		c.tr.ServedBy(c.names[0])
	}
	return v, nil
}

// beat cancels every source running but k, which holds the call.
func (c *hedgedCall[C, T]) beat(k int) {
	c.mu.Lock()
	for j := range c.running {
		if j != k && c.lostTo[j] < 0 {
			c.lostTo[j] = k
			c.cancels[j]()
		}
	}
	c.mu.Unlock()
}

// hold reports whether source k holds the call, taking it when nobody
// does and k has not lost. The first source taking hold for the first
// time says how long it took to begin.
func (c *hedgedCall[C, T]) hold(k int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.holder == k:
		return true
	case c.holder >= 0 || c.lostTo[k] >= 0:
		return false
	}
	c.holder = k
	if h := c.f.Hedge; k == 0 && h.Observed != nil {
		h.Observed.Observe(time.Since(c.starts[0]))
	}
	c.began <- k // buffered for every source: each takes hold at most once
	return true
}

// holding is the source that holds the call, or -1.
func (c *hedgedCall[C, T]) holding() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.holder
}

// winner is the source that k, which returned err, lost to, or -1 when
// it did not lose: it was cancelled for losing, or it answered after
// another began.
func (c *hedgedCall[C, T]) winner(k int, err error) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.lostTo[k] >= 0:
		return c.lostTo[k]
	case err == nil && c.holder != k:
		return c.holder
	}
	return -1
}

// release gives up the call held by k, which failed after it began.
func (c *hedgedCall[C, T]) release(k int) {
	c.mu.Lock()
	if c.holder == k {
		c.holder = -1
	}
	c.mu.Unlock()
}
