package server

import (
	"encoding/json"
	"maps"
	"slices"
	"sync"

	"golang.org/x/time/rate"

	"github.com/citypopy/highway/internal/admission"
	"github.com/citypopy/highway/internal/clients"
	"github.com/citypopy/highway/internal/config"
	"github.com/citypopy/highway/internal/door"
	"github.com/citypopy/highway/internal/shared"
	"github.com/citypopy/highway/internal/upstream"
)

// Registry is the state that outlives a config, for the life of the
// process: each source's upstream (its breaker, cache, calls in flight,
// observed latencies and health), keyed by its name and its own config;
// each front-door model (its hedges' observations and budget, its cache,
// its traffic), by its name, its config and the upstreams it uses;
// each client key's limiters, by name, key, rate and burst; the admission
// ledger; the Redis store, by its redis section. Every server built on
// one Registry (the first, and each reload's) takes its state from it, so
// a reload builds a new routing table over the same state: a source
// configured as before keeps its open breaker and warm cache whatever
// else changed, with nothing handed over from the server before.
//
// Once a server is built, what it no longer uses is released (a cache
// dropped, a Redis pool closed). The zero value is ready to use; it is
// safe for concurrent use. Close it when the process is done with it.
type Registry struct {
	mu        sync.Mutex
	upstreams map[upstreamKey]*upstream.Upstream
	limiters  map[clients.Key]*rate.Limiter
	stores    map[config.Redis]*shared.Store
	ledger    *admission.Ledger
	models    door.Pool // the front door's models, kept as upstreams are
}

// upstreamKey is what identifies an upstream: what it is built from. That
// is its own config alone, never another source's, so that adding or
// chaining another source keeps this one.
type upstreamKey struct {
	name   string
	config string // the source's config as JSON, which says all of it
	traced bool
	store  *shared.Store
}

func keyOf(name string, sc *config.Source, traced bool, store *shared.Store) upstreamKey {
	b, err := json.Marshal(sc)
	if err != nil { // not expected of a decoded config: such a source is never kept
		return upstreamKey{name: name, config: "unencodable: " + err.Error()}
	}
	return upstreamKey{name, string(b), traced, store}
}

// upstreamFor is the upstream named name with config sc, built by build the
// first time.
func (r *Registry) upstreamFor(name string, sc *config.Source, traced bool, store *shared.Store, build func() *upstream.Upstream) *upstream.Upstream {
	r.mu.Lock()
	defer r.mu.Unlock()
	return kept(&r.upstreams, keyOf(name, sc, traced, store), build)
}

// limiter is the limiter of k, made by make the first time.
func (r *Registry) limiter(k clients.Key, make func() *rate.Limiter) *rate.Limiter {
	r.mu.Lock()
	defer r.mu.Unlock()
	return kept(&r.limiters, k, make)
}

// store is the Redis store of cfg, opened by open the first time; nil
// when cfg has no Redis.
func (r *Registry) store(cfg config.Redis, open func() *shared.Store) *shared.Store {
	if !cfg.On() {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return kept(&r.stores, cfg, open)
}

// kept is m's value for k, made by make (and kept) the first time; r.mu
// is held.
func kept[K comparable, V any](m *map[K]V, k K, make func() V) V {
	if v, ok := (*m)[k]; ok {
		return v
	}
	if *m == nil {
		*m = map[K]V{}
	}
	v := make()
	(*m)[k] = v
	return v
}

// admissionLedger is the places taken and queued, across every server.
func (r *Registry) admissionLedger() *admission.Ledger {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ledger == nil {
		r.ledger = admission.NewLedger()
	}
	return r.ledger
}

// retain releases what s, the server now in use, does not: the upstreams
// and limiters of sources and keys it no longer has, and a Redis store of
// another redis section.
func (r *Registry) retain(s *Server) {
	usedUps := map[*upstream.Upstream]bool{}
	for _, u := range s.upstreams {
		usedUps[u] = true
	}
	usedLims := map[*rate.Limiter]bool{}
	for _, l := range s.clients.Limiters() {
		usedLims[l] = true
	}
	r.mu.Lock()
	var closing []*upstream.Upstream
	for k, u := range r.upstreams {
		if !usedUps[u] {
			delete(r.upstreams, k)
			closing = append(closing, u)
		}
	}
	maps.DeleteFunc(r.limiters, func(_ clients.Key, l *rate.Limiter) bool { return !usedLims[l] })
	var stores []*shared.Store
	for cfg, st := range r.stores {
		if st != s.shared {
			delete(r.stores, cfg)
			stores = append(stores, st)
		}
	}
	r.mu.Unlock()
	r.models.Retain(s.door)
	for _, u := range closing {
		u.Close()
	}
	for _, st := range stores {
		st.Close()
	}
}

// Close releases everything: every upstream's cache and every Redis
// store. The Registry may be used again after, starting afresh.
func (r *Registry) Close() {
	r.mu.Lock()
	ups := slices.Collect(maps.Values(r.upstreams))
	stores := slices.Collect(maps.Values(r.stores))
	r.upstreams, r.limiters, r.stores = nil, nil, nil
	r.mu.Unlock()
	r.models.Close()
	for _, u := range ups {
		u.Close()
	}
	for _, st := range stores {
		st.Close()
	}
}
