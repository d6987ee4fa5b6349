package policy

import (
	"context"
	"math"
	"sync"
	"time"

	"github.com/maypok86/otter/v2"
)

// Cache answers from memory for TTL after a successful call; failures are
// not cached. An Arriving answer is kept once it has ended well, and a
// cached one is answered as it was: a stream is replayed, from its first
// token, to each reader. It holds at most MaxBytes of answers (weighed by Size, with
// their keys), evicting those least likely to be asked again, and drops
// each entry once its TTL has passed, whether or not it is asked for. The
// store is otter's (github.com/maypok86/otter/v2).
//
// The zero value, with Next and TTL set, caches every call under one key,
// up to DefaultCacheMaxBytes. It must not be copied after first use; Close
// it when it is no longer used, to stop its clean-up goroutine and free
// its entries.
type Cache[C, T any] struct {
	Next Source[C, T]
	// TTL is how long an answer is served from memory.
	TTL time.Duration
	// Key says which calls share an answer, from their argument; nil means
	// all do.
	Key func(C) string
	// MaxBytes bounds the answers held, as Size weighs them; 0 means
	// DefaultCacheMaxBytes.
	MaxBytes int64
	// Size weighs an answer in bytes; nil counts each as 1, so that
	// MaxBytes bounds the number of entries.
	Size func(T) int
	// Shared, when set, is a second tier behind the memory, which other
	// processes see too (such as Redis): a call missing from memory is
	// looked up there, and each new answer is stored there for TTL. An
	// answer found there is kept in memory only for what it has left, so
	// no tier serves it past the TTL it was first stored for.
	Shared SharedCache[T]
	// FlightWait, when positive and Shared is also SharedFlights, shares
	// calls in flight between processes: the first to miss a key takes a
	// lease on it and calls Next; another process missing the same key
	// meanwhile waits up to FlightWait for that answer to land in Shared,
	// and calls Next itself if it does not (the holder failed, or died
	// and its lease expired). 0 shares nothing in flight.
	FlightWait time.Duration

	once  sync.Once
	store *otter.Cache[string, T]
}

// DefaultCacheMaxBytes is the bound of a Cache whose MaxBytes is 0.
const DefaultCacheMaxBytes = 16 << 20

// Fetch answers from the cache, or calls Next and remembers a success.
func (c *Cache[C, T]) Fetch(ctx context.Context, call C) (T, error) {
	c.once.Do(c.open)
	key := keyOf(call, c.Key)
	if v, ok := c.store.GetIfPresent(key); ok {
		TraceFrom(ctx).Mark(CacheHit)
		return v, nil
	}
	if c.Shared != nil {
		if v, left, ok := c.Shared.Get(ctx, key); ok {
			TraceFrom(ctx).Mark(CacheHit)
			c.remember(key, v, left)
			return v, nil
		}
	}
	flights, held, token := c.flights(), false, ""
	if flights != nil {
		var v T
		var landed bool
		if v, token, held, landed = c.await(ctx, flights, key); landed {
			return v, nil
		}
	}
	v, err := c.Next.Fetch(ctx, call)
	// An Arriving answer is kept once it has ended well, and its lease
	// held until then: the call's context may have ended by the time it
	// stores, so the store is detached from it.
	keep := func(err error) {
		sctx := context.WithoutCancel(ctx)
		if err == nil {
			c.store.Set(key, v)
			if c.Shared != nil {
				c.Shared.Set(sctx, key, v, c.TTL)
			}
		}
		if held { // after the answer is in Shared, so that waiters find it first
			flights.Unlease(sctx, key, token)
		}
	}
	if a := arriving(v, err); a != nil {
		a.AfterEnd(keep)
	} else {
		keep(err)
	}
	return v, err
}

// remember keeps an answer from Shared in memory for what it has left.
func (c *Cache[C, T]) remember(key string, v T, left time.Duration) {
	c.store.Set(key, v)
	c.store.SetExpiresAfter(key, min(left, c.TTL))
}

// SharedCache is a cache tier that other processes see too. Its methods
// fail quietly, since the cache can always ask the source: a Get that
// fails is a miss, a Set that fails is dropped.
type SharedCache[T any] interface {
	// Get is the answer stored under key and how long it has left.
	Get(ctx context.Context, key string) (v T, left time.Duration, ok bool)
	// Set stores v under key for ttl.
	Set(ctx context.Context, key string, v T, ttl time.Duration)
}

func (c *Cache[C, T]) open() {
	limit := c.MaxBytes
	if limit <= 0 {
		limit = DefaultCacheMaxBytes
	}
	c.store = otter.Must(&otter.Options[string, T]{
		MaximumWeight:    uint64(limit),
		Weigher:          c.weigh,
		ExpiryCalculator: otter.ExpiryWriting[string, T](c.TTL),
	})
}

// weigh is an entry's weight: its key and its answer.
func (c *Cache[C, T]) weigh(key string, v T) uint32 {
	w := 1
	if c.Size != nil {
		w = len(key) + c.Size(v)
	}
	return uint32(min(w, math.MaxUint32))
}

// Bytes is the weight of the answers held now.
func (c *Cache[C, T]) Bytes() int64 {
	c.once.Do(c.open)
	return int64(c.store.WeightedSize())
}

// Close drops every entry and stops the cache's goroutines. A Cache may
// still be called after Close, without clean-up in the background.
func (c *Cache[C, T]) Close() {
	c.once.Do(c.open)
	c.store.InvalidateAll()
	c.store.StopAllGoroutines()
}
