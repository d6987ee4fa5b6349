package shared

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/citypopy/highway/source"
)

// Cache is one source's (or front-door model's) tier of answers in
// Redis, a policy.SharedCache: an answer one replica fetched is there for
// every other until its TTL. Its keys are namespaced by the name and a
// hash of the whole config, so a source whose config changed never reads
// an answer of the old one; the call's own key is hashed, so keys stay short whatever the
// parameters. The source and config hash are the key's Redis Cluster hash
// tag, so that one source's entries live on one shard.
type Cache struct {
	s  *Store
	ns string // prefix "cache:{" source ":" config hash "}:"
}

// Cache returns the shared cache tier of what name names (a source, or
// a model as "model:" and its name), as config (everything that decides
// its answers, encoded as JSON) configures it.
func (s *Store) Cache(name string, config any) *Cache {
	b, err := json.Marshal(config)
	if err != nil { // not expected of a decoded config; keep the name alone apart
		b = []byte(err.Error())
	}
	sum := sha256.Sum256(b)
	return &Cache{s: s, ns: s.cfg.Prefix + "cache:{" + name + ":" + hex.EncodeToString(sum[:8]) + "}:"}
}

func (c *Cache) key(call string) string {
	sum := sha256.Sum256([]byte(call))
	return c.ns + hex.EncodeToString(sum[:16])
}

// Get is the answer stored for the call key and how long it has left; a
// miss, or Redis not answering, is ok false.
func (c *Cache) Get(ctx context.Context, key string) (v *source.Answer, left time.Duration, ok bool) {
	var get *redis.StringCmd
	var ttl *redis.DurationCmd
	err := c.s.do(ctx, func(ctx context.Context) error {
		_, err := c.s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			k := c.key(key)
			get, ttl = p.Get(ctx, k), p.PTTL(ctx, k)
			return nil
		})
		return err
	})
	switch {
	case err == redis.Nil:
		return nil, 0, false
	case err != nil:
		c.s.fellBack("cache")
		return nil, 0, false
	}
	left = ttl.Val()
	if left <= 0 { // expiring right now, or stored without a TTL by someone else
		return nil, 0, false
	}
	v = new(source.Answer)
	if v.UnmarshalBinary([]byte(get.Val())) != nil {
		return nil, 0, false // not an answer this release can read: a miss
	}
	return v, left, true
}

// Set stores v for the call key for ttl, unless it is bigger than the
// configured max_entry_bytes. A failure is counted and dropped: the answer
// is still served and kept in the replica's memory. A streamed answer is
// stored with its tokens, so that every replica replays it as a stream.
func (c *Cache) Set(ctx context.Context, key string, v *source.Answer, ttl time.Duration) {
	b, err := v.MarshalBinary()
	if err != nil || len(b) > int(c.s.cfg.MaxEntryBytes) || ttl <= 0 {
		return
	}
	err = c.s.do(ctx, func(ctx context.Context) error {
		return c.s.rdb.Set(ctx, c.key(key), b, ttl).Err()
	})
	if err != nil {
		c.s.fellBack("cache")
	}
}

// Lease takes the lease on the call key for ttl (SET NX with an expiry),
// so that replicas missing the same key share one upstream call. The
// lease's value is a token of this taking, which Unlease must show: a
// replica whose lease ran out cannot drop the one another replica took
// since. Redis not answering counts as taken (with no token): the caller
// calls the upstream itself.
func (c *Cache) Lease(ctx context.Context, key string, ttl time.Duration) (token string, taken bool) {
	token = leaseToken()
	taken = true
	err := c.s.do(ctx, func(ctx context.Context) error {
		var err error
		taken, err = c.s.rdb.SetNX(ctx, c.key(key)+":lease", token, ttl).Result()
		return err
	})
	if err != nil {
		c.s.fellBack("cache")
		return "", true
	}
	return token, taken
}

// unlease deletes a lease only while it still holds the token it was
// taken with (compare-and-delete, in one step on the server).
var unlease = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("DEL", KEYS[1])
end
return 0`)

// Unlease drops the lease on the call key if it is still the one token
// took; a lease taken by another since is left alone.
func (c *Cache) Unlease(ctx context.Context, key, token string) {
	if token == "" {
		return // taken for want of Redis: there is no lease to drop
	}
	err := c.s.do(ctx, func(ctx context.Context) error {
		return unlease.Run(ctx, c.s.rdb, []string{c.key(key) + ":lease"}, token).Err()
	})
	if err != nil {
		c.s.fellBack("cache")
	}
}

// leaseToken is 128 random bits: no two takings of a lease share one.
func leaseToken() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand, Go 1.24+)
	return hex.EncodeToString(b[:])
}
