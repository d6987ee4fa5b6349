// Package door is Highway's front door: the chat endpoints of OpenAI
// (/v1/chat/completions) and Anthropic (/v1/messages), /v1/models and
// /v1/embeddings, each configured model a lane over the LLM sources it
// uses, so that an app's own SDK, its base URL pointed at Highway, rides
// Highway's lanes unchanged.
package door

import (
	"context"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/citypopy/highway/internal/config"
	"github.com/citypopy/highway/internal/report"
	"github.com/citypopy/highway/internal/shared"
	"github.com/citypopy/highway/internal/upstream"
	"github.com/citypopy/highway/policy"
	"github.com/citypopy/highway/source"
)

// The door's endpoints.
const (
	ChatPath       = "/v1/chat/completions"
	MessagesPath   = "/v1/messages"
	ModelsPath     = "/v1/models"
	EmbeddingsPath = "/v1/embeddings"
)

// Door answers the front door of one config. It is safe for concurrent
// use, and read only once New has returned it.
type Door struct {
	models       map[string]*model
	names        []string // sorted
	writeTimeout time.Duration
	created      int64 // when the config was loaded, for /v1/models
}

// model is one configured model: a lane over its sources.
type model struct {
	name    string
	use     []string
	lane    source.Source // a failover over the sources' stacks, cached or coalesced if asked
	timeout time.Duration
	// by source name: the upstreams, their prices (nil: none), their
	// LLM configs.
	ups    map[string]*upstream.Upstream
	prices map[string]*report.Price
	llms   map[string]*config.LLM
	cache  *policy.Cache[*source.Call, *source.Answer] // nil without one
	// dialects are those its sources speak, each once: a request must
	// fit them all, since any may be the one that answers.
	dialects []source.Dialect
	traffic  *modelTraffic
}

// New builds the door of cfg's models on the upstreams of its sources,
// which the routes share, taking each model from pool when it was built
// as before (nil: each built afresh, its cache never freed); nil when cfg
// has no models. The pool frees what a model holds once no door in use
// has it (Pool.Retain).
//
// With store (nil: none), a model's cache is shared by every replica on
// it, as a source's is: an answer one fetched, another serves, and with
// coalesce a call in flight on one is waited for by the others.
func New(cfg *config.Config, sources map[string]*upstream.Upstream, store *shared.Store, pool *Pool) *Door {
	if len(cfg.Models) == 0 {
		return nil
	}
	d := &Door{models: map[string]*model{}, writeTimeout: cfg.Server.WriteTimeout.Std(), created: time.Now().Unix()}
	for _, name := range slices.Sorted(maps.Keys(cfg.Models)) {
		mc := cfg.Models[name]
		key := keyOfModel(name, mc, int64(cfg.ModelCacheBytes(mc)), sources, store)
		d.models[name] = pool.model(key, func() *model { return newModel(name, mc, cfg, sources, store) })
		d.names = append(d.names, name)
	}
	return d
}

func newModel(name string, mc *config.Model, cfg *config.Config, sources map[string]*upstream.Upstream, store *shared.Store) *model {
	m := &model{name: name, use: mc.Use, timeout: mc.Timeout.Std(),
		ups: map[string]*upstream.Upstream{}, prices: map[string]*report.Price{}, llms: map[string]*config.LLM{},
		traffic: &modelTraffic{}}
	for _, src := range mc.Use {
		m.ups[src] = sources[src]
		l := cfg.Sources[src].Spec.(*config.LLM) // validated: a model uses LLM sources
		m.llms[src] = l
		if d := dialectOfKind(l.Provider()); !slices.Contains(m.dialects, d) {
			m.dialects = append(m.dialects, d)
		}
		if l.Price != nil {
			m.prices[src] = &report.Price{InputPerMTok: l.Price.InputPerMTok, OutputPerMTok: l.Price.OutputPerMTok}
		}
	}
	var begins *policy.Latencies
	var budget *policy.Budget
	if h := mc.FailoverHedge; h != nil {
		begins, budget = &policy.Latencies{}, &policy.Budget{Ratio: float64(h.MaxExtra)}
	}
	f := upstream.Chain(mc.Use, mc.FailoverOn, mc.FailoverHedge, m.traffic.watch(mc.Use, sources), begins, budget)
	if mc.Resume {
		f.Resume = m.resume
	}
	m.lane = f
	if mc.Coalesce {
		m.lane = &policy.Coalesce[*source.Call, *source.Answer]{Next: m.lane, Timeout: m.timeout, Key: (*source.Call).Key}
	}
	if c := mc.Cache; c != nil {
		m.cache = &policy.Cache[*source.Call, *source.Answer]{Next: m.lane, TTL: c.TTL.Std(), Key: (*source.Call).Key,
			MaxBytes: int64(cfg.ModelCacheBytes(mc)), Size: (*source.Answer).Size}
		if store != nil {
			m.cache.Shared = store.Cache("model:"+name, sharedConfig(mc, cfg))
			if mc.Coalesce { // share calls in flight across replicas too, for as long as a call may take
				m.cache.FlightWait = m.timeout
			}
		}
		m.lane = m.cache
	}
	return m
}

// resume is the call that asks source next to continue sofar, the
// answer so far to call: the client's chat, with the text so far as the
// start of the reply, for a source that takes a prefill. An answer that
// has no text (a tool call) cannot be continued.
func (m *model) resume(call *source.Call, sofar *source.Answer, next string) (*source.Call, bool) {
	if call.Chat == nil || !*m.llms[next].Prefill {
		return nil, false
	}
	var text strings.Builder
	text.WriteString(call.Chat.Prefix())
	// A Failover asks this once sofar has ended: its tokens are all there,
	// and reading them waits for nothing.
	for t := range sofar.Tokens(context.Background()) {
		text.WriteString(t)
	}
	if text.Len() == 0 {
		return nil, false
	}
	return &source.Call{Chat: call.Chat.Continuing(text.String())}, true
}

// sharedConfig is everything that decides mc's answers, for its shared
// cache's namespace: its own config and that of each source it uses, so
// that a replica whose sources differ never serves another's answers.
func sharedConfig(mc *config.Model, cfg *config.Config) any {
	srcs := map[string]*config.Source{}
	for _, s := range mc.Use {
		srcs[s] = cfg.Sources[s]
	}
	return struct {
		Model   *config.Model
		Sources map[string]*config.Source
	}{mc, srcs}
}

// close frees what m holds beyond its requests: its cache.
func (m *model) close() {
	if m.cache != nil {
		m.cache.Close()
	}
}

// Handles reports whether path is the door's: under /v1/.
func Handles(path string) bool { return strings.HasPrefix(path, config.DoorPrefix) }

// Models are the configured models' names, sorted.
func (d *Door) Models() []string {
	if d == nil {
		return nil
	}
	return d.names
}

func dialectOfKind(kind string) source.Dialect {
	if kind == config.KindAnthropic {
		return source.DialectAnthropic
	}
	return source.DialectOpenAI
}

// fits is nil when chat can be put to every source of m.
func (m *model) fits(chat *source.Chat) error {
	for _, d := range m.dialects {
		if d != chat.Dialect() {
			if err := chat.Fits(d); err != nil {
				return err
			}
		}
	}
	return nil
}

// dialectOf is the dialect of the door at path: Anthropic's at
// /v1/messages, OpenAI's elsewhere.
func dialectOf(path string) source.Dialect {
	if path == MessagesPath || strings.HasPrefix(path, MessagesPath+"/") {
		return source.DialectAnthropic
	}
	return source.DialectOpenAI
}

var jsonType = []string{"application/json"}

func writeJSON(w http.ResponseWriter, status int, b []byte) {
	w.Header()["Content-Type"] = jsonType
	w.WriteHeader(status)
	w.Write(b)
}
