package source

import (
	"context"
	"sync"

	"github.com/citypopy/highway/internal/routine"
)

// continuation is what an answer made by Then goes on as, once its head
// has ended.
type continuation struct {
	decided chan struct{} // closed once next is known
	next    *Answer       // nil: the head's end is the end
	failed  error         // what the answer ended with when next gave no answer

	mu     sync.Mutex
	over   bool
	err    error
	afters []func(error)
}

// Then returns an answer that reads as a and, if a ends with an error,
// goes on as the answer next gives for it: its readers, past a's tokens,
// read on into it (Next), and its value, usage and end are that one's.
// When next gives an error instead, the answer ends with that error. next
// runs on a goroutine of its own once a has failed, and may take as long
// as a call does (the next provider's first token). It makes
// an Answer a policy.Continuable. An answer that has already succeeded is
// returned as it is: it has nothing to go on from.
//
// Each caller gets its own answer from Then, so that readers of one
// shared answer (a coalesced stream) each go on their own way.
func (a *Answer) Then(next func(err error) (*Answer, error)) *Answer {
	if a.head == nil && a.ended() && a.err == nil {
		return a
	}
	c := &continuation{decided: make(chan struct{})}
	a.AfterEnd(func(err error) {
		if err == nil {
			c.decide(nil, nil)
			return
		}
		routine.Go(func() (*Answer, error) { return next(err) }, c.decide)
	})
	return &Answer{head: a, cont: c}
}

// Next waits until the answer's own part has ended and is the answer it
// goes on as, or nil when it goes on as none (it succeeded, or its
// failure was the end); ctx's error if ctx ends first. An answer not made
// by Then goes on as none.
func (a *Answer) Next(ctx context.Context) (*Answer, error) {
	if a.head == nil {
		return nil, nil
	}
	select {
	case <-a.cont.decided: // first, so that a context that has ended only looks
		return a.cont.next, nil
	default:
	}
	if _, err := a.head.last(ctx); err != nil { // the head is read to its end, which decides
		return nil, err
	}
	select {
	case <-a.cont.decided:
		return a.cont.next, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// decide sets what the answer goes on as, and ends it with n's end, or
// with err when there is no n.
func (c *continuation) decide(n *Answer, err error) {
	if err != nil {
		n = nil
	}
	c.next, c.failed = n, err
	close(c.decided)
	if n != nil {
		n.AfterEnd(c.finish)
		return
	}
	c.finish(err)
}

func (c *continuation) finish(err error) {
	c.mu.Lock()
	c.over, c.err = true, err
	afters := c.afters
	c.afters = nil
	c.mu.Unlock()
	for _, f := range afters {
		f(err)
	}
}

func (c *continuation) afterEnd(f func(error)) {
	c.mu.Lock()
	if !c.over {
		c.afters = append(c.afters, f)
		c.mu.Unlock()
		return
	}
	err := c.err
	c.mu.Unlock()
	f(err)
}
