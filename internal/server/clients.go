package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/citypopy/highway/internal/config"
	"github.com/citypopy/highway/internal/metrics"
	"github.com/citypopy/highway/internal/shared"
)

// clients checks callers' API keys and rate limits. A nil *clients lets
// everyone in.
type clients struct {
	keys         []client
	unauthorized prometheus.Counter
	shared       *shared.Store      // nil: each replica limits on its own
	byName       map[string]*client // the clients with a budget, to spend from after each answer
}

type client struct {
	name    string
	hash    [sha256.Size]byte
	limit   *rate.Limiter // nil: no limit; the replica's own, or the fallback of a shared one
	limited prometheus.Counter
	tokens  *budget // nil: no tokens_per_minute
	cost    *budget // nil: no cost_per_day
}

// newClients makes the key checks of c. A key whose name, hash, rate and
// burst are as reg first saw them keeps its limiter and what it has used
// of it, across reloads. With store, rates are shared by every replica
// through Redis.
func newClients(c config.Clients, m *metrics.Metrics, reg *Registry, store *shared.Store) *clients {
	if !c.On() {
		return nil
	}
	cs := &clients{keys: make([]client, len(c.Keys)), shared: store}
	for i, k := range c.Keys {
		cl := &cs.keys[i]
		cl.name, cl.hash = k.Name, k.Hash
		if k.Rate > 0 {
			r, b := rate.Limit(k.Rate), k.Burst
			cl.limit = reg.limiter(cl.limiterKey(r, b), func() *rate.Limiter { return rate.NewLimiter(r, b) })
		}
		cl.limited = m.Refused(cl.name, "rate_limited")
		if k.TokensPerMinute > 0 {
			cl.tokens = newBudget(reg, cl, "tokens", float64(k.TokensPerMinute), time.Minute, 1,
				fmt.Sprintf("token budget (%d tokens a minute)", k.TokensPerMinute), m.Refused(cl.name, "token_budget"))
		}
		if k.CostPerDay > 0 {
			cl.cost = newBudget(reg, cl, "cost", k.CostPerDay, 24*time.Hour, 1e9,
				fmt.Sprintf("cost budget ($%g a day)", k.CostPerDay), m.Refused(cl.name, "cost_budget"))
		}
		for _, b := range []*budget{cl.tokens, cl.cost} {
			if b != nil {
				b.shared = store
			}
		}
		if cs.byName == nil && (cl.tokens != nil || cl.cost != nil) {
			cs.byName = map[string]*client{}
		}
		if cl.tokens != nil || cl.cost != nil {
			cs.byName[cl.name] = cl
		}
	}
	cs.unauthorized = m.Refused("(none)", "unauthorized")
	return cs
}

// limiterKey is what must be unchanged for a key to keep its limiter:
// of its requests, or of its tokens or cost budget (kind).
type limiterKey struct {
	kind  string
	name  string
	hash  [sha256.Size]byte
	rate  rate.Limit
	burst int
}

func (cl *client) limiterKey(r rate.Limit, b int) limiterKey {
	return limiterKey{"requests", cl.name, cl.hash, r, b}
}

// limiters indexes cs's limiters, for the registry to keep those in use;
// nil cs has none.
func (cs *clients) limiters() map[limiterKey]*rate.Limiter {
	if cs == nil {
		return nil
	}
	m := make(map[limiterKey]*rate.Limiter, len(cs.keys))
	for i := range cs.keys {
		cl := &cs.keys[i]
		if cl.limit != nil {
			m[cl.limiterKey(cl.limit.Limit(), cl.limit.Burst())] = cl.limit
		}
		for kind, b := range map[string]*budget{"tokens": cl.tokens, "cost": cl.cost} {
			if b != nil {
				m[limiterKey{kind, cl.name, cl.hash, b.lim.Limit(), b.lim.Burst()}] = b.lim
			}
		}
	}
	return m
}

// admit finds the caller by the key it presents (Authorization: Bearer
// KEY, or X-API-Key: KEY) and takes one request from its rate; the error
// is a 401 or a 429 with Retry-After. A nil *clients admits everyone.
func (cs *clients) admit(r *http.Request) (name string, err error) {
	if cs == nil {
		return "", nil
	}
	found, err := cs.find(r)
	if err != nil {
		cs.unauthorized.Inc()
		return "", err
	}
	for _, b := range []*budget{found.tokens, found.cost} {
		if err := b.check(r.Context(), found.name, time.Now()); err != nil {
			return found.name, err
		}
	}
	if found.limit == nil {
		return found.name, nil
	}
	wait, err := cs.take(r.Context(), found)
	if err != nil {
		return found.name, err
	}
	if wait > 0 {
		found.limited.Inc()
		secs := max(1, int((wait+time.Second-1)/time.Second))
		return found.name, &requestError{status: http.StatusTooManyRequests, retryAfter: strconv.Itoa(secs),
			msg: "rate limit of client " + found.name + " reached; retry after " + strconv.Itoa(secs) + "s"}
	}
	return found.name, nil
}

// take takes one request from cl's rate, shared through Redis when there
// is one, and says how long to wait when it is spent. While Redis does not
// answer, the replica's own limiter stands in (on_error: open) or the
// request is refused with 503 (on_error: closed).
func (cs *clients) take(ctx context.Context, cl *client) (wait time.Duration, err error) {
	if cs.shared != nil {
		allowed, wait, err := cs.shared.Allow(ctx, cl.name, float64(cl.limit.Limit()), cl.limit.Burst())
		switch {
		case err == nil && allowed:
			return 0, nil
		case err == nil:
			return max(wait, time.Nanosecond), nil
		case cs.shared.FailClosed():
			return 0, &requestError{status: http.StatusServiceUnavailable, retryAfter: "1",
				msg: "client rate limits are kept in Redis, which does not answer; retry after 1s"}
		}
	}
	res := cl.limit.Reserve()
	if wait := res.Delay(); wait > 0 {
		res.Cancel()
		return wait, nil
	}
	return 0, nil
}

// find is the client whose key r presents, or a 401.
func (cs *clients) find(r *http.Request) (*client, error) {
	key := presentedKey(r)
	if key == "" {
		return nil, &requestError{status: http.StatusUnauthorized,
			msg: "an API key is needed: send Authorization: Bearer KEY or X-API-Key: KEY"}
	}
	sum := sha256.Sum256([]byte(key))
	var found *client
	// Every key is compared, in constant time, so the time taken does not
	// say how close a guess came or which key it matched.
	for i := range cs.keys {
		if subtle.ConstantTimeCompare(sum[:], cs.keys[i].hash[:]) == 1 {
			found = &cs.keys[i]
		}
	}
	if found == nil {
		return nil, &requestError{status: http.StatusUnauthorized, msg: "the API key is not valid"}
	}
	return found, nil
}

// known reports whether r may be told what the server serves: it presents
// a valid key, or no keys are asked for. It takes nothing from the rate.
func (cs *clients) known(r *http.Request) bool {
	if cs == nil {
		return true
	}
	_, err := cs.find(r)
	return err == nil
}

func presentedKey(r *http.Request) string {
	if auth := r.Header.Get("Authorization"); len(auth) > 7 && strings.EqualFold(auth[:7], "bearer ") {
		return strings.TrimSpace(auth[7:])
	}
	return r.Header.Get("X-API-Key")
}
