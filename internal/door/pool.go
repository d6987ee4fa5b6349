package door

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/citypopy/highway/internal/config"
	"github.com/citypopy/highway/internal/shared"
	"github.com/citypopy/highway/internal/upstream"
)

// Pool keeps models across the doors of successive configs, as a
// process-lifetime registry keeps upstreams: a model configured as
// before, on the very upstreams it used (each kept because its own config
// did not change), is the same model, so that a reload keeps what it has
// learned and holds (the first tokens its hedges wait on, their budget,
// its cache, its traffic on the live page). The zero value is ready to
// use; it is safe for concurrent use.
type Pool struct {
	mu     sync.Mutex
	models map[modelKey]*model
}

// modelKey is what a model is built from: its name and config, its cache
// bound, the upstreams it uses by identity, and the Redis its cache
// shares.
type modelKey struct {
	name, config string
	cacheBytes   int64
	upstreams    string
	store        *shared.Store
}

func keyOfModel(name string, mc *config.Model, cacheBytes int64, sources map[string]*upstream.Upstream, store *shared.Store) modelKey {
	b, err := json.Marshal(mc)
	if err != nil { // not expected of a decoded config: such a model is never kept
		b = []byte("unencodable: " + err.Error())
	}
	var ups strings.Builder
	for _, src := range mc.Use {
		fmt.Fprintf(&ups, "%s=%p;", src, sources[src])
	}
	return modelKey{name, string(b), cacheBytes, ups.String(), store}
}

// model is the model of key, built by build the first time; with a nil
// p, always built.
func (p *Pool) model(key modelKey, build func() *model) *model {
	if p == nil {
		return build()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if m, ok := p.models[key]; ok {
		return m
	}
	if p.models == nil {
		p.models = map[modelKey]*model{}
	}
	m := build()
	p.models[key] = m
	return m
}

// Retain frees the models d, the door now in use (nil: none), does not
// use: their caches.
func (p *Pool) Retain(d *Door) {
	used := map[*model]bool{}
	if d != nil {
		for _, m := range d.models {
			used[m] = true
		}
	}
	p.mu.Lock()
	var gone []*model
	for k, m := range p.models {
		if !used[m] {
			delete(p.models, k)
			gone = append(gone, m)
		}
	}
	p.mu.Unlock()
	for _, m := range gone {
		m.close()
	}
}

// Close frees every model's cache. The Pool may be used again after,
// starting afresh.
func (p *Pool) Close() { p.Retain(nil) }
