package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/citypopy/highway/internal/template"
)

var sourceName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// Reserved paths are Highway's own (the dashboard and the operational
// endpoints); a route may not take them.
var reserved = []string{"/", "/healthz", "/readyz", "/metrics"}

// ReservedPrefix starts the paths of Highway's own endpoints.
const ReservedPrefix = "/highway/"

// DoorPrefix starts the paths of the front door, the provider APIs
// Highway speaks (/v1/chat/completions, /v1/messages, ...): a route may
// not take them.
const DoorPrefix = "/v1/"

func (d *decoder) validate(c *Config) {
	if _, port, err := net.SplitHostPort(c.Listen); err != nil {
		d.failAt("listen", "want host:port, got %q", c.Listen)
	} else if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		d.failAt("listen", "invalid port %q", port)
	}
	if len(c.Sources) == 0 {
		d.failAt("sources", "no sources: declare at least one")
	}
	for _, name := range slices.Sorted(maps.Keys(c.Sources)) {
		d.validateSource(name, c.Sources[name])
	}
	d.validateNeeds(c.Sources)
	d.validateFailover(c.Sources)
	d.validateModels(c.Models, c.Sources)
	d.validateCacheBytes(c)
	d.validateAdmission(c.Admission)
	d.validateClients(&c.Clients, c.Models)
	d.validateRedis(&c.Redis)
	if c.Heartbeat < 0 {
		d.failAt("heartbeat", "must not be negative")
	}
	for _, f := range []struct {
		field string
		v     Duration
	}{
		{"server.read_header_timeout", c.Server.ReadHeaderTimeout}, {"server.read_timeout", c.Server.ReadTimeout},
		{"server.idle_timeout", c.Server.IdleTimeout}, {"server.write_timeout", c.Server.WriteTimeout},
		{"server.body_timeout", c.Server.BodyTimeout},
	} {
		if f.v < 0 {
			d.failAt(f.field, "must not be negative")
		}
	}
	if c.Server.MaxHeaderBytes < 0 {
		d.failAt("server.max_header_bytes", "must not be negative")
	}
	if c.Server.MaxBody < 0 {
		d.failAt("server.max_body", "must not be negative")
	}
	paths := map[string]int{}
	for i, r := range c.Routes {
		p := fmt.Sprintf("routes[%d]", i)
		if r == nil {
			d.failAt(p, "empty route")
			continue
		}
		if j, dup := paths[r.Path]; dup && r.Path != "" {
			d.failAt(p+".path", "path %s is already served by routes[%d]", r.Path, j)
		}
		paths[r.Path] = i
		d.validateRoute(p, r, c.Sources)
		d.validateRouteNeeds(p, r, c.Sources)
		d.validateParams(p, r, c.Sources)
	}
	for _, name := range slices.Sorted(maps.Keys(c.Sources)) {
		if s := c.Sources[name]; s != nil {
			d.validateTemplates("sources."+name, s)
		}
	}
}

// reservedParams are the query parameters every route takes already.
var reservedParams = []string{"mode", "lanes", "stream"}

var paramName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,31}$`)

func (d *decoder) validateParams(p string, r *Route, sources map[string]*Source) {
	for _, name := range slices.Sorted(maps.Keys(r.Params)) {
		pp := p + ".params." + name
		prm := r.Params[name]
		switch {
		case !paramName.MatchString(name):
			d.failAt(pp, "invalid parameter name %q: lower-case letters, digits and _", name)
		case slices.Contains(reservedParams, name):
			d.failAt(pp, "%q is a parameter every route takes already", name)
		}
		if prm == nil {
			continue
		}
		if !slices.Contains([]string{"string", "int", "float", "bool"}, prm.Type) {
			d.failAt(pp+".type", "unknown type %q (string, int, float or bool)", prm.Type)
			continue
		}
		if prm.Pattern != "" && prm.re == nil {
			continue // provision said why
		}
		if prm.Default != nil {
			if err := CheckParam(prm, *prm.Default); err != nil {
				d.failAt(pp+".default", "%v", err)
			}
		}
	}
	// Every parameter a route's sources refer to must be declared, and one
	// outside a JSON body's quotes must not be a string.
	for _, src := range r.Sources {
		s := sources[src]
		if s == nil {
			continue
		}
		for _, name := range unquotedParams(s) {
			if prm := r.Params[name]; prm != nil && prm.Type == "string" {
				d.failAt("sources."+src+".body", "{{.params.%s}} stands outside JSON quotes, so it must be a number or a boolean, but %s declares %s a string: quote it (\"{{.params.%s}}\") or give it type int, float or bool",
					name, p, name, name)
			}
		}
		for _, ref := range templateRefs(s) {
			if ref.param != "" && r.Params[ref.param] == nil {
				d.failAt(p+".params", "source %s refers to {{.params.%s}} in %s; declare it here", src, ref.param, ref.field)
			}
		}
	}
}

// CheckParam says whether value is valid for prm. It runs on every
// request, so prm's pattern is compiled once, by provision.
func CheckParam(prm *Param, value string) error {
	var err error
	switch prm.Type {
	case "int":
		_, err = strconv.ParseInt(value, 10, 64)
	case "float":
		var f float64
		f, err = strconv.ParseFloat(value, 64)
		if err == nil && (math.IsNaN(f) || math.IsInf(f, 0)) {
			err = errors.New("not finite")
		}
	case "bool":
		_, err = strconv.ParseBool(value)
	}
	if err != nil {
		return fmt.Errorf("want %s, got %q", map[string]string{"int": "an integer", "float": "a number", "bool": "true or false"}[prm.Type], value)
	}
	if prm.re != nil && !prm.re.MatchString(value) {
		return fmt.Errorf("%q does not match %s", value, prm.Pattern)
	}
	if prm.unquoted && (!json.Valid([]byte(value)) || prm.Type == "bool" && value != "true" && value != "false") {
		return fmt.Errorf("%q is not a JSON %s, and it stands in a JSON body as one", value, prm.Type)
	}
	if prm.inPath && (value == "." || value == "..") {
		return fmt.Errorf("%q would be a dot segment of an upstream URL's path, which moves it to another resource", value)
	}
	return nil
}

// unquotedParams are the parameters s renders into its JSON body outside
// a string's quotes, where each must be a JSON value of its own.
func unquotedParams(s *Source) []string {
	t, err := template.Parse("body", s.templateFields()["body"], template.JSON)
	if err != nil {
		return nil
	}
	var names []string
	for _, r := range t.UnquotedRefs() {
		if len(r) == 2 && r[0] == "params" {
			names = append(names, r[1])
		}
	}
	return names
}

// pathParams are the parameters s renders into its URL's path, where a
// value of . or .. would climb the upstream's paths.
func pathParams(s *Source) []string {
	base, rest := template.SplitBase(s.templateFields()["url"])
	path, _, _ := strings.Cut(rest, "?")
	t, err := template.Parse("url path", path, template.None)
	if base == "" || err != nil {
		return nil
	}
	var names []string
	for _, r := range t.Refs() {
		if len(r) == 2 && r[0] == "params" {
			names = append(names, r[1])
		}
	}
	return names
}

type templateRef struct {
	field, param string // param is "" for a reference to something else
}

func templateRefs(s *Source) []templateRef {
	var refs []templateRef
	fields := s.templateFields()
	for _, field := range slices.Sorted(maps.Keys(fields)) {
		t, err := template.Parse(field, fields[field], template.None)
		if err != nil {
			continue // reported by validateTemplates
		}
		for _, r := range t.Refs() {
			ref := templateRef{field: field}
			if len(r) == 2 && r[0] == "params" {
				ref.param = r[1]
			}
			refs = append(refs, ref)
		}
	}
	return refs
}

// validateTemplates checks that a source's templates parse, refer only to
// .params.NAME and to needs' answers, and leave the URL's scheme and host
// fixed.
func (d *decoder) validateTemplates(p string, s *Source) {
	fields := s.templateFields()
	for _, field := range slices.Sorted(maps.Keys(fields)) {
		t, err := template.Parse(field, fields[field], template.None)
		if err != nil {
			d.failAt(p+"."+field, "invalid template: %v", err)
			continue
		}
		for _, r := range t.Refs() {
			switch {
			case r[0] == "params" && len(r) != 2:
				d.failAt(p+"."+field, "template refers to .%s; a parameter is {{.params.NAME}}", strings.Join(r, "."))
			case r[0] != "params" && !slices.Contains(s.Needs, r[0]):
				d.failAt(p+"."+field, "template refers to .%s, but %s is not among this source's needs; add it to needs",
					strings.Join(r, "."), r[0])
			}
		}
	}
	if base, _ := template.SplitBase(fields["url"]); strings.Contains(base, "{{") {
		d.failAt(p+".url", "the scheme and host must be fixed: a request never chooses the upstream host")
	}
}

func (d *decoder) validateSource(name string, s *Source) {
	p := "sources." + name
	if !sourceName.MatchString(name) {
		d.failAt(p, "invalid source name %q: use letters, digits, _ . - (at most 64)", name)
	}
	if s == nil {
		d.failAt(p, "empty source: it needs at least a kind")
		return
	}
	if s.Timeout < 0 {
		d.failAt(p+".timeout", "must not be negative")
	}
	d.validatePolicies(p, s)
	switch {
	case s.Kind == "":
		d.failAt(p, "missing kind (mock, http, openai or anthropic)")
	case s.Spec == nil:
		d.failAt(p+".kind", "unknown kind %q (known kinds: anthropic, http, mock, openai)", s.Kind)
	default:
		for _, f := range s.unused {
			d.failAt(f, "not used by kind %s", s.Kind)
		}
		s.Spec.validate(d, p, s)
	}
}

func (d *decoder) validateURL(p, raw string) {
	if raw == "" {
		d.failAt(p, "missing: the source needs an http:// or https:// address")
		return
	}
	u, err := url.Parse(raw)
	if err != nil {
		d.failAt(p, "invalid URL: %v", err)
		return
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		d.failAt(p, "want an http:// or https:// URL, got scheme %q", u.Scheme)
	} else if u.Host == "" {
		d.failAt(p, "URL %q has no host", raw)
	}
}

func (d *decoder) validateRoute(p string, r *Route, sources map[string]*Source) {
	switch {
	case !strings.HasPrefix(r.Path, "/"):
		d.failAt(p+".path", "want a path starting with /, got %q", r.Path)
	case strings.ContainsAny(r.Path, "?#* \t"):
		d.failAt(p+".path", "path %q must not contain ?, #, * or spaces", r.Path)
	case strings.HasPrefix(r.Path, ReservedPrefix) || slices.Contains(reserved, r.Path):
		d.failAt(p+".path", "path %s is reserved for Highway itself (%s and %s...)", r.Path, strings.Join(reserved, ", "), ReservedPrefix)
	case strings.HasPrefix(r.Path+"/", DoorPrefix):
		d.failAt(p+".path", "path %s is the front door's (%s...: the OpenAI and Anthropic APIs); configure models: instead", r.Path, DoorPrefix)
	}
	if r.Method != "GET" && r.Method != "POST" {
		d.failAt(p+".method", "unsupported method %q (GET or POST)", r.Method)
	}
	if r.Timeout < 0 {
		d.failAt(p+".timeout", "must not be negative")
	}
	if r.Lanes < 0 {
		d.failAt(p+".lanes", "must not be negative")
	}
	if r.MaxBody < 0 {
		d.failAt(p+".max_body", "must not be negative")
	}
	for _, name := range r.Sources {
		if s := sources[name]; s != nil && s.ForwardsBody() && r.Method != "POST" {
			d.failAt(p+".method", "source %s forwards the request body, so the route must be POST", name)
		}
		if l, ok := sources[name].llm(); ok && l.User == "" {
			d.failAt("sources."+name+".user", "missing: the prompt to send, which %s needs to use it (a model's source may go without)", p)
		}
	}
	if len(r.Sources) == 0 {
		d.failAt(p+".sources", "no sources: a route fans out to at least one")
	}
	for i, name := range r.Optional {
		if !slices.Contains(r.Sources, name) {
			d.failAt(fmt.Sprintf("%s.optional[%d]", p, i), "%q is not one of this route's sources (%s)", name, strings.Join(r.Sources, ", "))
		}
	}
	seen := map[string]bool{}
	for i, name := range r.Sources {
		sp := fmt.Sprintf("%s.sources[%d]", p, i)
		switch {
		case sources[name] == nil:
			d.failAt(sp, "%s", noSource(name, sources))
		case seen[name]:
			d.failAt(sp, "source %q listed twice", name)
		}
		seen[name] = true
	}
}

// validHeaderName reports whether k is an RFC 9110 token.
func validHeaderName(k string) bool {
	if k == "" {
		return false
	}
	for _, c := range []byte(k) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

func (d *decoder) validatePolicies(p string, s *Source) {
	idempotent := s.Idempotent == nil || *s.Idempotent
	if r := s.Retry; r != nil {
		if r.Attempts < 1 {
			d.failAt(p+".retry.attempts", "want at least 1 (1 means no retry), got %d", r.Attempts)
		} else if r.Attempts > 1 && !idempotent {
			d.failAt(p+".retry", "retries repeat calls, which this source does not allow: set idempotent: true if repeating a call is safe")
		}
		if r.Backoff < 0 || r.MaxBackoff < 0 {
			d.failAt(p+".retry", "backoffs must not be negative")
		}
	}
	if h := s.FailoverHedge; h != nil {
		if h.Delay == (HedgeDelay{}) {
			d.failAt(p+".failover_hedge.delay", "missing: a duration (800ms) or a percentile of the times to first token (p95)")
		}
		if len(s.Failover) == 0 {
			d.failAt(p+".failover_hedge", "failover_hedge without a failover list: it starts the next source in that list")
		}
	}
	if h := s.Hedge; h != nil {
		if h.Delay == (HedgeDelay{}) {
			d.failAt(p+".hedge.delay", "missing: a duration (60ms) or a percentile of observed latency (p95)")
		}
		if !idempotent {
			d.failAt(p+".hedge", "hedges repeat calls, which this source does not allow: set idempotent: true if repeating a call is safe")
		}
	}
	if b := s.Breaker; b != nil && b.Failures < 0 {
		d.failAt(p+".breaker.failures", "must not be negative (0 turns the breaker off)")
	}
	if s.Concurrency < 0 {
		d.failAt(p+".concurrency", "must not be negative (0 means no cap)")
	}
	if c := s.Cache; c != nil && c.TTL <= 0 {
		d.failAt(p+".cache.ttl", "want a positive duration, such as 30s")
	}
}

// validateCacheBytes refuses caches that add up to more than
// cache_max_bytes.
func (d *decoder) validateCacheBytes(c *Config) {
	var total int64
	for _, cache := range c.caches() {
		total += int64(c.cacheBytes(cache))
	}
	if total > int64(c.CacheMaxBytes) {
		d.failAt("cache_max_bytes", "the sources' and models' caches add up to %d bytes, over cache_max_bytes (%d): lower their cache.max_bytes or raise it", total, c.CacheMaxBytes)
	}
}

func (d *decoder) validateAdmission(a Admission) {
	if a.MaxInflight < 1 {
		d.failAt("admission.max_inflight", "want at least 1, got %d", a.MaxInflight)
	}
	if a.Queue < 0 {
		d.failAt("admission.queue", "must not be negative")
	}
	if a.QueueTimeout < 0 {
		d.failAt("admission.queue_timeout", "must not be negative")
	}
	if a.RetryAfter < 0 {
		d.failAt("admission.retry_after", "must not be negative")
	}
}
