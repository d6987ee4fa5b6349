package upstream

import (
	"github.com/citypopy/highway/internal/config"
)

// BuildAll builds every source of cfg with o, for a config whose state is
// its own (a demonstration, a test): a server keeps its upstreams in its
// registry instead. When one cannot be built, those built are closed.
func BuildAll(cfg *config.Config, o Options) (map[string]*Upstream, error) {
	out := make(map[string]*Upstream, len(cfg.Sources))
	for name, sc := range cfg.Sources {
		u, err := Build(name, sc, cfg.CacheBytes(sc), o)
		if err != nil {
			for _, built := range out {
				built.Close()
			}
			return nil, err
		}
		out[name] = u
	}
	return out, nil
}
