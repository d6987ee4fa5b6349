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
	"time"
)

// Config is a whole Highway configuration, validated and with defaults
// applied once it comes from Load, Parse or Default.
type Config struct {
	// Listen is the address served on, host:port. Default 127.0.0.1:8080.
	Listen string `yaml:"listen"`
	// Sources are the upstreams routes can use, by name.
	Sources map[string]*Source `yaml:"sources"`
	// Routes are the paths served; each fans out to its sources.
	Routes []*Route `yaml:"routes"`

	// File is where the configuration came from, for messages.
	File string `yaml:"-"`
}

// Source kinds.
const (
	KindMock = "mock"
	KindHTTP = "http"
)

// Source is one upstream.
type Source struct {
	// Kind is mock or http.
	Kind string `yaml:"kind"`
	// Timeout bounds each call to this source. Default: none for mock
	// (the route's timeout bounds it), 10s for http.
	Timeout Duration `yaml:"timeout"`

	// Latency, Jitter, FailureRate and Data describe a mock source.
	Latency     Duration        `yaml:"latency"`
	Jitter      Duration        `yaml:"jitter"`
	FailureRate float64         `yaml:"failure_rate"`
	Data        json.RawMessage `yaml:"data"`

	// URL, Method, Headers and MaxBytes describe an http source. URL is
	// fixed here: a request never chooses an upstream host.
	URL      string            `yaml:"url"`
	Method   string            `yaml:"method"`
	Headers  map[string]string `yaml:"headers"`
	MaxBytes int64             `yaml:"max_bytes"`
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
}

// Defaults applied where the configuration is silent.
const (
	DefaultListen       = "127.0.0.1:8080"
	DefaultRouteTimeout = 10 * time.Second
	DefaultHTTPTimeout  = 10 * time.Second
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
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes and validates data, naming file in every message. Strings
// may refer to the environment as ${NAME} or ${NAME:-default}.
func Parse(file string, data []byte) (*Config, error) {
	return parse(file, data, os.LookupEnv)
}

func parse(file string, data []byte, env func(string) (string, bool)) (*Config, error) {
	c := &Config{File: file}
	d := &decoder{file: file, env: env, pos: map[string]position{}}
	if err := d.decodeDocument(data, c); err != nil {
		return nil, err
	}
	c.applyDefaults()
	d.validate(c)
	if len(d.errs) > 0 {
		return nil, d.errs
	}
	return c, nil
}

func (c *Config) applyDefaults() {
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	for _, s := range c.Sources {
		if s == nil {
			continue
		}
		if s.Kind == KindHTTP {
			if s.Method == "" {
				s.Method = "GET"
			}
			if s.Timeout == 0 {
				s.Timeout = Duration(DefaultHTTPTimeout)
			}
		}
	}
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
	}
}
