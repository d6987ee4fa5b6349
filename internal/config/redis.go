package config

import (
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// Redis is where replicas keep what they share: client rate limits and
// source caches. Without an Addr nothing is shared and everything stays in
// the process, as for a single Highway.
type Redis struct {
	// Addr is the Redis server, host:port. Empty: no Redis.
	Addr string `yaml:"addr"`
	// Username authenticates with Redis 6 ACLs, with password.
	Username string `yaml:"username"`
	// Password authenticates (alone for requirepass); give it as ${NAME}
	// from the environment: it is never shown.
	Password string `yaml:"password"`
	// TLS connects with TLS 1.2 or later, verifying the server's
	// certificate against the system's roots, or TLSCAFile's.
	TLS bool `yaml:"tls"`
	// TLSCAFile names a PEM file of the CA certificates to trust instead
	// of the system's, for a Redis with a private CA. A relative path is
	// from the config file's directory.
	TLSCAFile string `yaml:"tls_ca_file"`
	// DB is the database number. Default 0.
	DB int `yaml:"db"`
	// Prefix starts every key Highway writes, so that several deployments
	// may share one Redis. Default "highway:".
	Prefix string `yaml:"prefix"`
	// Timeout bounds each operation, so that a slow Redis costs a request
	// at most this much. Default 50ms.
	Timeout Duration `yaml:"timeout"`
	// OnError is what client rate limits do while Redis cannot be reached:
	// "open" (the default) falls back to each replica's own limiter;
	// "closed" refuses the requests with 503. Caches always fall back to
	// the upstream.
	OnError string `yaml:"on_error"`
	// MaxEntryBytes is the largest answer written to the shared cache;
	// bigger ones stay in the replica's memory only. Default 1 MiB.
	MaxEntryBytes ByteSize `yaml:"max_entry_bytes"`

	caPEM string // TLSCAFile's certificates, read by provision
}

// CAPEM is the PEM of the CA certificates TLSCAFile named, read when the
// config was loaded; empty means the system's roots.
func (r *Redis) CAPEM() []byte { return []byte(r.caPEM) }

// On reports whether a Redis is configured.
func (r *Redis) On() bool { return r.Addr != "" }

// The values Redis.OnError takes.
const (
	RedisFailOpen   = "open"
	RedisFailClosed = "closed"
)

// Defaults of a configured Redis.
const (
	DefaultRedisPrefix   = "highway:"
	DefaultRedisTimeout  = 50 * time.Millisecond
	DefaultRedisMaxEntry = 1 << 20
)

func (r *Redis) defaults() {
	if !r.On() {
		return
	}
	if r.Prefix == "" {
		r.Prefix = DefaultRedisPrefix
	}
	if r.Timeout == 0 {
		r.Timeout = Duration(DefaultRedisTimeout)
	}
	if r.OnError == "" {
		r.OnError = RedisFailOpen
	}
	if r.MaxEntryBytes == 0 {
		r.MaxEntryBytes = DefaultRedisMaxEntry
	}
}

func (d *decoder) validateRedis(r *Redis) {
	if !r.On() {
		if r.Username != "" || r.Password != "" || r.TLS || r.TLSCAFile != "" || r.Prefix != "" || r.OnError != "" {
			d.failAt("redis.addr", "redis settings without an addr: give addr host:port, or remove the redis section")
		}
		return
	}
	if _, port, err := net.SplitHostPort(r.Addr); err != nil {
		d.failAt("redis.addr", "want host:port, got %q", d.redactText(r.Addr))
	} else if p, err := strconv.Atoi(port); err != nil || p <= 0 || p > 65535 {
		d.failAt("redis.addr", "invalid port %q", port)
	}
	if r.Timeout <= 0 {
		d.failAt("redis.timeout", "must be positive")
	}
	if r.OnError != RedisFailOpen && r.OnError != RedisFailClosed {
		d.failAt("redis.on_error", "want open or closed, got %q", r.OnError)
	}
	if r.DB < 0 {
		d.failAt("redis.db", "must not be negative")
	}
	if r.MaxEntryBytes < 0 {
		d.failAt("redis.max_entry_bytes", "must not be negative")
	}
	if r.TLSCAFile != "" && !r.TLS {
		d.failAt("redis.tls_ca_file", "a CA file without tls: true would not be used")
	}
}

// readCA reads the CA file r names, if it does and will be used.
func (d *decoder) readCA(r *Redis) {
	if r.TLSCAFile == "" || !r.TLS || !r.On() {
		return
	}
	path := r.TLSCAFile
	if !filepath.IsAbs(path) && d.file != "" {
		path = filepath.Join(filepath.Dir(d.file), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		d.failAt("redis.tls_ca_file", "%v", err)
		return
	}
	if !x509.NewCertPool().AppendCertsFromPEM(b) {
		d.failAt("redis.tls_ca_file", "%s holds no PEM certificate", path)
		return
	}
	r.caPEM = string(b)
}
