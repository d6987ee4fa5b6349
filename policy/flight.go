package policy

import (
	"context"
	"time"
)

// SharedFlights is a SharedCache that can also share calls in flight
// between processes, through a lease per key (see Cache.FlightWait). Like
// SharedCache it fails quietly: a Lease that cannot be taken for want of
// the store says true, so that the caller calls the source itself.
type SharedFlights interface {
	// Lease takes key's lease for ttl, and reports whether it did; false
	// means another process holds it. The token names this taking, for
	// Unlease.
	Lease(ctx context.Context, key string, ttl time.Duration) (token string, taken bool)
	// Unlease gives key's lease up, once its answer is stored or its call
	// failed, only if it is still the one token took: a lease that ran
	// out and was taken by another process is that process's.
	Unlease(ctx context.Context, key, token string)
}

// Polling for another process's answer starts at firstPoll and backs off
// to lastPoll: a fast answer is seen soon, a slow one costs few lookups.
const (
	firstPoll = 5 * time.Millisecond
	lastPoll  = 100 * time.Millisecond
)

func (c *Cache[C, T]) flights() SharedFlights {
	if c.FlightWait <= 0 {
		return nil
	}
	f, _ := c.Shared.(SharedFlights)
	return f
}

// await takes key's lease (held: the caller calls the source), or waits
// for the holder's answer to land in Shared (landed), until FlightWait
// has passed or the lease is free again; then the caller calls the
// source itself, holding the lease if it could take it.
func (c *Cache[C, T]) await(ctx context.Context, f SharedFlights, key string) (v T, token string, held, landed bool) {
	if token, held = f.Lease(ctx, key, c.FlightWait); held {
		return v, token, true, false
	}
	deadline := time.NewTimer(c.FlightWait)
	defer deadline.Stop()
	for poll := firstPoll; ; poll = min(2*poll, lastPoll) {
		select {
		case <-ctx.Done():
			return v, "", false, false
		case <-deadline.C:
			return v, "", false, false
		case <-time.After(poll):
		}
		if v, left, ok := c.Shared.Get(ctx, key); ok {
			TraceFrom(ctx).Mark(Coalesced)
			c.remember(key, v, left)
			return v, "", false, true
		}
		if token, held = f.Lease(ctx, key, c.FlightWait); held { // the holder gave up, or its lease ran out
			return v, token, true, false
		}
	}
}
