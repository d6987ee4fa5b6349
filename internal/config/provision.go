package config

import (
	"fmt"
	"regexp"
)

// provision works out what a decoded config leaves to be derived before
// it is validated, and validation changes nothing after it: defaults,
// each cache's share, the keys file read and plain keys hashed, the Redis
// CA read, each parameter's type, compiled pattern and where its sources
// put it. What cannot be derived (a pattern that does not compile, a
// keys file that cannot be read) is an error at its place, as
// validation's are.
func (d *decoder) provision(c *Config) {
	c.applyDefaults()
	d.provisionClients(&c.Clients)
	d.readCA(&c.Redis)
	for i, r := range c.Routes {
		if r != nil {
			d.provisionParams(fmt.Sprintf("routes[%d]", i), r, c.Sources)
		}
	}
}

// provisionParams gives each of r's parameters its type (string by
// default) and compiled pattern, marks whether it is secret, and marks
// those its sources put into an upstream URL's path or outside a JSON
// body's quotes, for CheckParam.
func (d *decoder) provisionParams(p string, r *Route, sources map[string]*Source) {
	for name, prm := range r.Params {
		if prm == nil {
			continue
		}
		if prm.Type == "" {
			prm.Type = "string"
		}
		if prm.Pattern != "" {
			re, err := regexp.Compile(`^(?:` + prm.Pattern + `)$`)
			if err != nil {
				d.failAt(p+".params."+name+".pattern", "invalid regular expression: %v", err)
			}
			prm.re = re
		}
		if prm.Default != nil {
			prm.secret = d.redactText(*prm.Default) != *prm.Default
		}
	}
	for _, src := range r.Sources {
		s := sources[src]
		if s == nil {
			continue
		}
		for _, name := range pathParams(s) {
			if prm := r.Params[name]; prm != nil {
				prm.inPath = true
			}
		}
		for _, name := range unquotedParams(s) {
			if prm := r.Params[name]; prm != nil && prm.Type != "string" {
				prm.unquoted = true
			}
		}
	}
}
