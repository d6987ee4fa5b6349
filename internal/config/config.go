// Package config reads Highway's YAML configuration: sources, routes and
// the listen address. Decoding is strict (an unknown field is an error) and
// every problem is reported with the file, the line, the field and what is
// wrong, all at once, before anything starts.
package config

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"time"
)

// Config is a whole Highway configuration, validated and with defaults
// applied once it comes from Load, Parse or Default.
type Config struct {
	// Listen is the address served on, host:port. Default 127.0.0.1:8080.
	Listen string `yaml:"listen"`
	// cacheShare is what each cache without a max_bytes may hold
	// (shareCacheBytes).
	cacheShare ByteSize
	// Sources are the upstreams routes can use, by name.
	Sources map[string]*Source `yaml:"sources"`
	// Routes are the paths served; each fans out to its sources.
	Routes []*Route `yaml:"routes"`
	// Models are what clients of the front door (/v1/chat/completions,
	// /v1/messages, /v1/models) ask for, by the name they send as model.
	Models map[string]*Model `yaml:"models"`
	// Admission bounds the requests in flight, sized by default for a
	// small machine (see bench/RESULTS.md).
	Admission Admission `yaml:"admission"`
	// Heartbeat is how often a quiet event stream gets a comment, so that
	// proxies do not cut it. Default 15s.
	Heartbeat Duration `yaml:"heartbeat"`
	// Server bounds what clients may take of the HTTP server.
	Server Server `yaml:"server"`
	// Clients, when it lists any key, makes every route and dashboard
	// endpoint ask for an API key. Empty: open to anyone who can connect.
	Clients Clients `yaml:"clients"`
	// Dashboard bounds what the web page at / may start.
	Dashboard Dashboard `yaml:"dashboard"`
	// CacheMaxBytes bounds every source's cache together: the sources'
	// cache.max_bytes may add up to it, no more. Default 64 MiB.
	CacheMaxBytes ByteSize `yaml:"cache_max_bytes"`
	// Redis, when it has an addr, is shared by every replica pointing at
	// it: client rate limits and source caches hold across them.
	Redis Redis `yaml:"redis"`

	// File is where the configuration came from, for messages.
	File string `yaml:"-"`
}

// Route is one path served by fanning out to sources.
type Route struct {
	// Path is the URL path, such as /city-report.
	Path string `yaml:"path"`
	// Method is the HTTP method accepted. Default GET.
	Method string `yaml:"method"`
	// Sources are the names of the sources fetched, in the order reported.
	Sources []string `yaml:"sources"`
	// Timeout is the deadline of the whole fan-out. Default 10s.
	Timeout Duration `yaml:"timeout"`
	// Lanes is how many sources run at once when the request does not say;
	// 0 means all of them.
	Lanes int `yaml:"lanes"`
	// Optional names sources whose failure does not fail the route: only
	// required ones decide 502 and 504.
	Optional []string `yaml:"optional"`
	// Params are the query parameters the route takes, by name; sources
	// use them as {{.params.NAME}}. Any other parameter is refused.
	Params map[string]*Param `yaml:"params"`
	// MaxBody limits a POST route's JSON body, in bytes; past it, 413.
	// Default 1 MiB.
	MaxBody int64 `yaml:"max_body"`
}

// Server bounds slow and greedy clients, so that none can hold a
// connection and its goroutine for long: the defaults suit clients of an
// API. The listener's limits are set when serving starts; a reload
// changes only a stream's WriteTimeout.
type Server struct {
	// ReadHeaderTimeout is how long a client may take to send a request's
	// headers: the Slowloris bound. Default 5s.
	ReadHeaderTimeout Duration `yaml:"read_header_timeout"`
	// ReadTimeout is how long a client may take to send a whole request,
	// body included. Default 30s.
	ReadTimeout Duration `yaml:"read_timeout"`
	// IdleTimeout is how long a keep-alive connection may wait for its next
	// request. Default 120s.
	IdleTimeout Duration `yaml:"idle_timeout"`
	// BodyTimeout is how long a client may take to send a POST route's
	// body, read before the request takes an admission place, so that a
	// slow sender holds none. Default 5s; past it, 408.
	BodyTimeout Duration `yaml:"body_timeout"`
	// WriteTimeout is how long a client may take to accept a write: every
	// write to every client has a rolling deadline of it, renewed when
	// half of it is left, and a stream a fresh one per event. Default 10s.
	WriteTimeout Duration `yaml:"write_timeout"`
	// MaxHeaderBytes caps a request's headers. Default 64 KiB.
	MaxHeaderBytes int `yaml:"max_header_bytes"`
	// MaxBody caps a front door request's body (/v1/chat/completions,
	// /v1/messages, /v1/embeddings), images as content parts included, in
	// bytes; past it, 413. Default 4 MiB.
	MaxBody int64 `yaml:"max_body"`
}

// Dashboard bounds the surges the web page may start against the server's
// own routes.
type Dashboard struct {
	// SurgeMaxUsers caps a surge's users. Default 1000, the seed's scene; 0 after defaults
	// is impossible, set -1 to turn surges off.
	SurgeMaxUsers int `yaml:"surge_max_users"`
	// SurgeMaxDuration caps a surge's length. Default 30s.
	SurgeMaxDuration Duration `yaml:"surge_max_duration"`
}

// Param is one query parameter a route takes.
type Param struct {
	// Type is string (the default), int, float or bool.
	Type string `yaml:"type"`
	// Default is used when the request leaves the parameter out; without
	// one, the parameter is required.
	Default *string `yaml:"default"`
	// Pattern is a regular expression the whole value must match.
	Pattern string `yaml:"pattern"`

	re       *regexp.Regexp // Pattern, compiled once by validation
	inPath   bool           // a source of the route puts it in an upstream URL's path
	unquoted bool           // a source of the route puts it in a JSON body outside quotes
	secret   bool           // Default holds a value from the environment
}

// MarshalJSON writes the parameter as the config reads it, with a
// default that came from the environment hidden: the page shows it.
func (p *Param) MarshalJSON() ([]byte, error) {
	out := struct {
		Type    string  `json:"type"`
		Default *string `json:"default,omitempty"`
		Pattern string  `json:"pattern,omitempty"`
	}{p.Type, p.Default, p.Pattern}
	if p.secret && p.Default != nil {
		hidden := "[redacted]"
		out.Default = &hidden
	}
	return json.Marshal(out)
}

// IsOptional reports whether the route marks source optional.
func (r *Route) IsOptional(source string) bool { return slices.Contains(r.Optional, source) }

// Defaults applied where the configuration is silent.
const (
	DefaultListen       = "127.0.0.1:8080"
	DefaultRouteTimeout = 10 * time.Second
	DefaultHTTPTimeout  = 10 * time.Second
	DefaultMaxExtra     = 0.05
	DefaultHeartbeat    = 15 * time.Second
	DefaultLLMTimeout   = 60 * time.Second
	DefaultMaxBody      = 1 << 20
	DefaultCacheBytes   = 64 << 20
)

// DefaultServer is the server's limits where the config is silent.
var DefaultServer = Server{
	ReadHeaderTimeout: Duration(5 * time.Second),
	ReadTimeout:       Duration(30 * time.Second),
	IdleTimeout:       Duration(120 * time.Second),
	WriteTimeout:      Duration(10 * time.Second),
	BodyTimeout:       Duration(5 * time.Second),
	MaxHeaderBytes:    64 << 10,
	MaxBody:           4 << 20,
}

func (s *Server) defaults() {
	for _, f := range []struct{ got, def *Duration }{
		{&s.ReadHeaderTimeout, &DefaultServer.ReadHeaderTimeout},
		{&s.ReadTimeout, &DefaultServer.ReadTimeout},
		{&s.IdleTimeout, &DefaultServer.IdleTimeout},
		{&s.WriteTimeout, &DefaultServer.WriteTimeout},
		{&s.BodyTimeout, &DefaultServer.BodyTimeout},
	} {
		if *f.got == 0 {
			*f.got = *f.def
		}
	}
	if s.MaxBody == 0 {
		s.MaxBody = DefaultServer.MaxBody
	}
	if s.MaxHeaderBytes == 0 {
		s.MaxHeaderBytes = DefaultServer.MaxHeaderBytes
	}
}

// DefaultAdmission is the admission control used where the config is
// silent, sized for a small machine: see bench/RESULTS.md.
var DefaultAdmission = Admission{MaxInflight: 2048, Queue: 512, QueueTimeout: Duration(20 * time.Millisecond), RetryAfter: Duration(2 * time.Second)}

// DefaultRetry and DefaultBreaker are what an idempotent http source gets
// when its config is silent.
var (
	DefaultRetry   = Retry{Attempts: 2, Backoff: Duration(50 * time.Millisecond), MaxBackoff: Duration(time.Second)}
	DefaultBreaker = Breaker{Failures: 5, Cooldown: Duration(10 * time.Second)}
)

//go:embed default.yaml
var defaultYAML []byte

// DefaultFile is the name the embedded default goes by in messages.
const DefaultFile = "embedded default"

// Default returns the embedded default configuration: the seed's four mock
// districts (image slowest, search fastest) and routes over them.
func Default() *Config {
	c, err := Parse(DefaultFile, defaultYAML)
	if err != nil {
		panic("config: embedded default is invalid: " + err.Error())
	}
	return c
}

// DefaultYAML returns the text of the embedded default, for users to start
// their own file from.
func DefaultYAML() []byte { return append([]byte(nil), defaultYAML...) }

// Load reads, decodes and validates the file at path.
func Load(path string) (*Config, error) { return LoadEnv(path, os.LookupEnv) }

// Parse decodes and validates data, naming file in every message. Strings
// may refer to the environment as ${NAME} or ${NAME:-default}.
func Parse(file string, data []byte) (*Config, error) {
	return parse(file, data, os.LookupEnv)
}

// ParseEnv is Parse with the config's ${NAME}s looked up in env.
func ParseEnv(file string, data []byte, env Env) (*Config, error) {
	return parse(file, data, env)
}

// Vars is an Env of fixed values, such as a test's.
func Vars(vars map[string]string) Env {
	return func(name string) (string, bool) {
		v, ok := vars[name]
		return v, ok
	}
}

// Env looks up what a ${NAME} in a config stands for, as os.LookupEnv
// does; a caller passes its own to give a config values the process
// environment does not hold.
type Env func(name string) (value string, ok bool)

// LoadEnv is Load with the config's ${NAME}s looked up in env, or the
// embedded default when path is empty.
func LoadEnv(path string, env Env) (*Config, error) {
	if path == "" {
		return parse(DefaultFile, defaultYAML, env)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return parse(path, data, env)
}

func parse(file string, data []byte, env func(string) (string, bool)) (*Config, error) {
	c := &Config{File: file}
	d := &decoder{file: file, env: env, pos: map[string]position{}}
	if err := d.decodeDocument(data, c); err != nil {
		if es, ok := err.(Errors); ok {
			return nil, d.redact(es)
		}
		return nil, err
	}
	d.provision(c)
	d.validate(c)
	if len(d.errs) > 0 {
		return nil, d.redact(d.errs)
	}
	return c, nil
}

// shareCacheBytes works out the even share of what CacheMaxBytes leaves,
// once the caches with a max_bytes are counted, that each cache without
// one gets (at least 1 KiB); validation refuses a total over
// CacheMaxBytes. The share is kept apart from the sources' own configs:
// it depends on the other sources, and a source whose own config did not
// change must look unchanged to a reload.
func (c *Config) shareCacheBytes() {
	if c.CacheMaxBytes == 0 {
		c.CacheMaxBytes = DefaultCacheBytes
	}
	left, unset := int64(c.CacheMaxBytes), 0
	for _, cache := range c.caches() {
		if cache.MaxBytes > 0 {
			left -= int64(cache.MaxBytes)
		} else {
			unset++
		}
	}
	c.cacheShare = ByteSize(max(left/int64(max(unset, 1)), 1<<10))
}

// caches are the caches the config asks for: its sources' and its
// models'.
func (c *Config) caches() []*Cache {
	var out []*Cache
	for _, s := range c.Sources {
		if s != nil && s.Cache != nil {
			out = append(out, s.Cache)
		}
	}
	for _, m := range c.Models {
		if m != nil && m.Cache != nil {
			out = append(out, m.Cache)
		}
	}
	return out
}

// CacheBytes is the bound of s's cache: its own max_bytes, else its share
// of cache_max_bytes; 0 for a source without a cache.
func (c *Config) CacheBytes(s *Source) ByteSize {
	if s == nil {
		return 0
	}
	return c.cacheBytes(s.Cache)
}

// ModelCacheBytes is the bound of m's cache, as CacheBytes is a source's.
func (c *Config) ModelCacheBytes(m *Model) ByteSize {
	if m == nil {
		return 0
	}
	return c.cacheBytes(m.Cache)
}

func (c *Config) cacheBytes(cache *Cache) ByteSize {
	switch {
	case cache == nil:
		return 0
	case cache.MaxBytes > 0:
		return cache.MaxBytes
	}
	return c.cacheShare
}

func (c *Config) applyDefaults() {
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if c.Admission == (Admission{}) {
		c.Admission = DefaultAdmission
	}
	if c.Dashboard.SurgeMaxUsers == 0 {
		c.Dashboard.SurgeMaxUsers = 1000
	}
	if c.Dashboard.SurgeMaxDuration == 0 {
		c.Dashboard.SurgeMaxDuration = Duration(30 * time.Second)
	}
	if c.Heartbeat == 0 {
		c.Heartbeat = Duration(DefaultHeartbeat)
	}
	c.Server.defaults()
	c.Redis.defaults()
	if c.Admission.RetryAfter == 0 {
		c.Admission.RetryAfter = DefaultAdmission.RetryAfter
	}
	for _, s := range c.Sources {
		if s != nil {
			s.applyDefaults()
		}
	}
	for _, m := range c.Models {
		if m != nil {
			m.applyDefaults()
		}
	}
	c.shareCacheBytes()
	for _, r := range c.Routes {
		if r == nil {
			continue
		}
		if r.Method == "" {
			r.Method = "GET"
		}
		if r.Timeout == 0 {
			r.Timeout = Duration(DefaultRouteTimeout)
		}
		if r.MaxBody == 0 {
			r.MaxBody = DefaultMaxBody
		}
	}
}
