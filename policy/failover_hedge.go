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
// A source begins its answer when its call returns: a streamed answer
// (Arriving) returns at its first token. The first of the two to begin
// holds the call and the other is cancelled, not waited for; its failover
// step says it lost (a *HedgeLostError), recorded when it ends. At most
// one hedge is sent per call, and Budget caps how many calls send one.
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

// hedgedCall is one call of a hedged Failover: which sources run, and
// which won. Its loop runs on the caller's goroutine; the sources'
// goroutines hand their outcomes over under mu, so that one that ends
// after the call was won is recorded as the loser it is.
type hedgedCall[C, T any] struct {
	f       *Failover[C, T]
	ctx     context.Context
	call    C
	tr      *Trace
	moved   Moved // told each move, when set
	names   []string
	out     chan raceOutcome[T]
	cancels []context.CancelFunc
	starts  []time.Time
	running map[int]bool
	first   int  // the source the call started from
	hedged  bool // a hedge was sent

	mu     sync.Mutex
	winner int // -1 until one began its answer
}

// raceOutcome is what one source of a hedged call returned.
type raceOutcome[T any] struct {
	k       int
	v       T
	err     error
	latency time.Duration
}

// race is from with a hedge: the failover list is walked from source k
// as without one, but while the current source has not begun its answer
// (its call has not returned), the next is started beside it once the
// hedge delay has passed. The first to begin wins.
func (f *Failover[C, T]) race(ctx context.Context, call C, k int, moved Moved) (T, error) {
	f.Hedge.Budget.Earn()
	n := 1 + len(f.Alternates)
	c := &hedgedCall[C, T]{f: f, ctx: ctx, call: call, tr: TraceFrom(ctx), moved: moved, names: make([]string, n),
		out: make(chan raceOutcome[T], n), cancels: make([]context.CancelFunc, n), starts: make([]time.Time, n),
		running: map[int]bool{}, first: k, winner: -1}
	for j := range n {
		c.names[j], _ = f.source(j)
	}
	defer func() {
		for j, cancel := range c.cancels {
			if cancel != nil && j != c.winner {
				cancel() // the winner's lives until its answer's end
			}
		}
	}()
	return c.run()
}

func (c *hedgedCall[C, T]) run() (T, error) {
	c.launch(c.first)
	next := c.first + 1
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
	for {
		select {
		case <-timer: // the current source has been slow to begin: start the next beside it
			timer = nil
			if len(c.running) != 1 || next >= len(c.names) || c.ctx.Err() != nil || !h.Budget.Take() {
				continue
			}
			c.hedged = true
			c.tr.Mark(Hedged)
			cur := next - 1
			c.tell(FailoverStep{Name: c.names[cur], Latency: time.Since(c.starts[cur]), Hedge: true}, next)
			c.launch(next)
			next++
		case o := <-c.out:
			delete(c.running, o.k)
			if o.err == nil {
				return c.served(o)
			}
			if len(c.running) > 0 { // the other source goes on with the call
				c.tr.FailedOver(c.names[o.k], o.err, o.latency)
				continue
			}
			last := next >= len(c.names) || !c.f.movesOn(c.ctx, o.err)
			if !last || c.f.movesOn(c.ctx, o.err) {
				c.tr.FailedOver(c.names[o.k], o.err, o.latency) // as Failover does, the last failure is a step only if it would have moved on
			}
			if last {
				var zero T
				return zero, o.err
			}
			c.tell(FailoverStep{Name: c.names[o.k], Err: o.err, Latency: o.latency}, next)
			c.launch(next)
			next++
			arm()
		}
	}
}

// launch starts source k.
func (c *hedgedCall[C, T]) launch(k int) {
	_, src := c.f.source(k)
	ctx, cancel := context.WithCancel(c.ctx)
	start := time.Now()
	c.cancels[k], c.starts[k], c.running[k] = cancel, start, true
	routine.Go(func() (T, error) { return src.Fetch(ctx, c.call) }, func(v T, err error) {
		o := raceOutcome[T]{k, v, err, time.Since(start)}
		c.mu.Lock()
		w := c.winner
		if w < 0 {
			c.out <- o // room for every source
		}
		c.mu.Unlock()
		if w >= 0 {
			c.lost(o, w)
		}
	})
}

// tell tells the call's Moved that the call moves on (or a hedge goes
// out) from step to source next.
func (c *hedgedCall[C, T]) tell(step FailoverStep, next int) {
	if c.moved != nil {
		c.moved(step, c.names[next])
	}
}

// served ends the call with o's answer at once: the others running are
// cancelled and not waited for, as Hedge leaves the attempt it beat; each
// is recorded as lost when it ends (marked HedgeAbandoned if it had not
// yet).
func (c *hedgedCall[C, T]) served(o raceOutcome[T]) (T, error) {
	c.mu.Lock()
	c.winner = o.k
	var ended []raceOutcome[T] // those that ended before the call was won
	for len(c.out) > 0 {
		ended = append(ended, <-c.out)
	}
	c.mu.Unlock()
	for _, e := range ended {
		delete(c.running, e.k)
		c.lost(e, o.k)
	}
	for j := range c.running {
		c.cancels[j]()
		c.tr.Mark(HedgeAbandoned)
	}
	if h := c.f.Hedge; o.k == 0 && h.Observed != nil {
		h.Observed.Observe(o.latency)
	}
	c.tr.ServedBy(c.names[o.k])
	if o.k > c.first && c.hedged {
		c.tr.Mark(HedgeWon)
	}
	return c.f.goOn(c.ctx, c.call, o.k, c.names[o.k], c.starts[o.k], o.v), nil
}

// lost records that source o.k lost the call to source w.
func (c *hedgedCall[C, T]) lost(o raceOutcome[T], w int) {
	c.tr.FailedOver(c.names[o.k], &HedgeLostError{Winner: c.names[w], Err: o.err}, o.latency)
}
