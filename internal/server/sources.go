package server

import (
	"fmt"

	"github.com/citypopy/highway/internal/config"
	"github.com/citypopy/highway/internal/shared"
	"github.com/citypopy/highway/internal/upstream"
)

// buildSources makes one upstream per configured source, shared by every
// route that names it, or takes it from reg: a source configured exactly
// as when reg first built it keeps its upstream (an open breaker stays
// open, a warm cache stays warm). With store, caches have a second tier
// in Redis.
func buildSources(cfg *config.Config, tr *tracing, store *shared.Store, reg *Registry) (map[string]*upstream.Upstream, error) {
	o := upstream.Options{Store: store}
	if tr != nil {
		o.Transport, o.Tracer = tr.transport, tr.tracer
	}
	out := make(map[string]*upstream.Upstream, len(cfg.Sources))
	for name, sc := range cfg.Sources {
		if sc.Spec == nil {
			return nil, fmt.Errorf("build source %s: unknown kind %q", name, sc.Kind)
		}
		// What an upstream is built from is its own config only (and the
		// process's tracing and Redis), which is what reg keys it by.
		out[name] = reg.upstreamFor(name, sc, tr != nil, store, func() *upstream.Upstream {
			u, _ := upstream.Build(name, sc, cfg.CacheBytes(sc), o) // its kind was checked above
			return u
		})
	}
	return out, nil
}
