package policy

import (
	"context"
	"sync"
	"time"
)

// Cache answers from memory for TTL after a successful call; failures are
// not cached. The zero value, with Next and TTL set, caches every call
// under one key. It must not be copied after first use.
type Cache[C, T any] struct {
	Next Source[C, T]
	// TTL is how long an answer is served from memory.
	TTL time.Duration
	// Key says which calls share an answer, from their argument; nil means
	// all do.
	Key func(C) string
	// MaxEntries bounds memory; 0 means 10000. When full, an arbitrary
	// entry is dropped.
	MaxEntries int

	mu      sync.Mutex
	entries map[string]cached[T]
}

type cached[T any] struct {
	v       T
	expires time.Time
}

// Fetch answers from the cache, or calls Next and remembers a success.
func (c *Cache[C, T]) Fetch(ctx context.Context, call C) (T, error) {
	key := keyOf(call, c.Key)
	now := time.Now()
	c.mu.Lock()
	e, ok := c.entries[key]
	c.mu.Unlock()
	if ok && now.Before(e.expires) {
		TraceFrom(ctx).Mark(CacheHit)
		return e.v, nil
	}
	v, err := c.Next.Fetch(ctx, call)
	if err == nil {
		c.store(key, v)
	}
	return v, err
}

func (c *Cache[C, T]) store(key string, v T) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = make(map[string]cached[T])
	}
	limit := c.MaxEntries
	if limit <= 0 {
		limit = 10000
	}
	if _, ok := c.entries[key]; !ok && len(c.entries) >= limit {
		for k := range c.entries {
			delete(c.entries, k)
			break
		}
	}
	c.entries[key] = cached[T]{v: v, expires: time.Now().Add(c.TTL)}
}
