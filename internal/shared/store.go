// Package shared keeps what Highway's replicas share through Redis: client
// rate limits (a GCRA in a Lua script, one key per client) and a cache
// tier of source answers. A Store never lets Redis take a request down: an
// operation is bounded by the configured timeout, and while Redis cannot
// be reached the Store stops asking it, says so once, and tries again
// every second until it answers.
package shared

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sony/gobreaker/v2"

	"github.com/citypopy/highway/internal/config"
)

// Options are what a Store reports to. The zero value reports nothing.
type Options struct {
	// Logger gets one line each time Redis stops or starts answering.
	Logger *slog.Logger
	// Up is told each change of whether Redis answers, and true at start.
	Up func(bool)
	// Fallback is told of each operation done without Redis, by feature:
	// "rate_limit" or "cache".
	Fallback func(feature string)
}

// Store is one connection pool to the configured Redis, shared by every
// server a reload makes while the redis section stays the same. It is
// safe for concurrent use.
type Store struct {
	cfg  config.Redis
	rdb  *redis.Client
	gate *gobreaker.CircuitBreaker[any]
	o    Options
}

// Reachability: after tripAfter failures in a row Redis counts as down and
// is left alone for retryEvery, then one operation probes it.
const (
	tripAfter  = 3
	retryEvery = time.Second
)

// quiet keeps go-redis from logging each failed dial: a Store says once
// that Redis is down, and once that it is back.
var quiet sync.Once

type discard struct{}

// Printf says nothing: go-redis's own log is Highway's to write.
func (discard) Printf(context.Context, string, ...any) {}

// Open makes a Store for cfg, which must be on. It does not connect: the
// pool dials on first use and again after Redis restarts.
func Open(cfg config.Redis, o Options) *Store {
	quiet.Do(func() { redis.SetLogger(discard{}) })
	opts := &redis.Options{
		Addr:     cfg.Addr,
		Username: cfg.Username,
		Password: cfg.Password,
		DB:       cfg.DB,
		// Every operation has its own deadline (cfg.Timeout); the pool's
		// timeouts only back it up.
		ContextTimeoutEnabled: true,
		DialTimeout:           max(cfg.Timeout.Std(), 250*time.Millisecond),
		ReadTimeout:           cfg.Timeout.Std(),
		WriteTimeout:          cfg.Timeout.Std(),
		PoolTimeout:           cfg.Timeout.Std(),
		// One retry redials a pooled connection that a restarted Redis
		// dropped; the operation's deadline still bounds both tries.
		MaxRetries: 1,
		// A dial that fails is not tried again in the background: the
		// Store's gate decides when to try Redis again, and a pool
		// closed by a reload leaves no dial behind.
		DialerRetries: 1,
		// Identification (CLIENT SETINFO) is not needed and older or
		// proxied servers refuse it.
		DisableIdentity: true,
	}
	if cfg.TLS {
		host, _, _ := net.SplitHostPort(cfg.Addr)
		opts.TLSConfig = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
		if ca := cfg.CAPEM(); len(ca) > 0 {
			opts.TLSConfig.RootCAs = x509.NewCertPool()
			opts.TLSConfig.RootCAs.AppendCertsFromPEM(ca) // checked when the config was loaded
		}
	}
	s := &Store{cfg: cfg, rdb: redis.NewClient(opts), o: o}
	s.gate = gobreaker.NewCircuitBreaker[any](gobreaker.Settings{
		Name:          "redis",
		MaxRequests:   1,
		Timeout:       retryEvery,
		ReadyToTrip:   func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= tripAfter },
		IsSuccessful:  func(err error) bool { return err == nil || errors.Is(err, redis.Nil) }, // a miss is an answer
		OnStateChange: s.changed,
	})
	if o.Up != nil {
		o.Up(true)
	}
	return s
}

// Config is the redis section the Store was opened with.
func (s *Store) Config() config.Redis { return s.cfg }

// FailClosed reports whether requests that need Redis are refused while
// it is down.
func (s *Store) FailClosed() bool { return s.cfg.OnError == config.RedisFailClosed }

// Close closes the pool; operations after it fall back.
func (s *Store) Close() error { return s.rdb.Close() }

// do runs op with the operation timeout, unless Redis is known to be down.
// The caller leaving does not cut op short: it is bounded anyway, and a
// canceled operation would count against Redis.
func (s *Store) do(ctx context.Context, op func(ctx context.Context) error) error {
	_, err := s.gate.Execute(func() (any, error) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.Timeout.Std())
		defer cancel()
		return nil, op(ctx)
	})
	return err
}

// fellBack counts an operation answered without Redis.
func (s *Store) fellBack(feature string) {
	if s.o.Fallback != nil {
		s.o.Fallback(feature)
	}
}

// changed logs and reports Redis going down (the gate opening) and coming
// back (the gate closing); the probes in between say nothing.
func (s *Store) changed(_ string, from, to gobreaker.State) {
	var up bool
	switch {
	case to == gobreaker.StateOpen && from == gobreaker.StateClosed:
	case to == gobreaker.StateClosed:
		up = true
	default:
		return
	}
	if s.o.Up != nil {
		s.o.Up(up)
	}
	if s.o.Logger == nil {
		return
	}
	if up {
		s.o.Logger.Info("redis answers again: rate limits and caches are shared", "addr", s.cfg.Addr)
		return
	}
	limits := "fall back to each replica's own limiter (on_error: open)"
	if s.FailClosed() {
		limits = "refuse requests with 503 (on_error: closed)"
	}
	s.o.Logger.Warn("redis does not answer: caches go to the upstreams; rate limits "+limits+"; retrying every second",
		"addr", s.cfg.Addr, "after_failures", tripAfter)
}

// Ping asks Redis whether it answers, within the operation timeout.
func (s *Store) Ping(ctx context.Context) error {
	return s.do(ctx, func(ctx context.Context) error { return s.rdb.Ping(ctx).Err() })
}

// Check pings Redis until it answers, as many times as it takes to count
// it as down: at start, so that a Redis that is not there is said (and
// highway_redis_up is 0) before the first request rather than after.
func (s *Store) Check(ctx context.Context) (err error) {
	for range tripAfter {
		if err = s.Ping(ctx); err == nil {
			return nil
		}
	}
	return err
}
