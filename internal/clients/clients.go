// Package clients checks the callers of a gateway: their API keys (by
// hash, in constant time), their request rates and their token and cost
// budgets, each kept by the replica or shared through Redis.
package clients

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

// Clients checks callers' API keys and rate limits. A nil *Clients lets
// everyone in.
type Clients struct {
	keys         []client
	unauthorized prometheus.Counter
	shared       *shared.Store       // nil: each replica limits on its own
	byName       map[string]*client  // the clients with a budget, to spend from after each answer
	models       map[string][]string // by client name: the models it may use, for those limited to some
}

type client struct {
	name    string
	hash    [sha256.Size]byte
	limit   *rate.Limiter // nil: no limit; the replica's own, or the fallback of a shared one
	limited prometheus.Counter
	tokens  *budget // nil: no tokens_per_minute
	cost    *budget // nil: no cost_per_day
}

// New makes the key checks of c, or nil when c asks for none. Each
// limiter is limiter's for its Key, which makes it the first time: a
// caller that keeps them (a process-lifetime registry) gives a key whose
// name, hash, rate and burst are unchanged its limiter, and what it has
// used of it, across reloads. With store, rates are shared by every
// replica through Redis.
func New(c config.Clients, m *metrics.Metrics, limiter func(Key, func() *rate.Limiter) *rate.Limiter, store *shared.Store) *Clients {
	if !c.On() {
		return nil
	}
	cs := &Clients{keys: make([]client, len(c.Keys)), shared: store}
	for i, k := range c.Keys {
		cl := &cs.keys[i]
		cl.name, cl.hash = k.Name, k.Hash
		if k.Rate > 0 {
			r, b := rate.Limit(k.Rate), k.Burst
			cl.limit = limiter(cl.Key(r, b), func() *rate.Limiter { return rate.NewLimiter(r, b) })
		}
		cl.limited = m.Refused(cl.name, "rate_limited")
		if k.TokensPerMinute > 0 {
			cl.tokens = newBudget(limiter, cl, "tokens", float64(k.TokensPerMinute), time.Minute, 1,
				fmt.Sprintf("token budget (%d tokens a minute)", k.TokensPerMinute), m.Refused(cl.name, "token_budget"))
		}
		if k.CostPerDay > 0 {
			cl.cost = newBudget(limiter, cl, "cost", k.CostPerDay, 24*time.Hour, 1e9,
				fmt.Sprintf("cost budget ($%g a day)", k.CostPerDay), m.Refused(cl.name, "cost_budget"))
		}
		for _, b := range []*budget{cl.tokens, cl.cost} {
			if b != nil {
				b.shared = store
			}
		}
		if len(k.Models) > 0 {
			if cs.models == nil {
				cs.models = map[string][]string{}
			}
			cs.models[cl.name] = k.Models
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

// Key is what must be unchanged for a client key to keep its limiter:
// of its requests, or of its tokens or cost budget (kind).
type Key struct {
	kind  string
	name  string
	hash  [sha256.Size]byte
	rate  rate.Limit
	burst int
}

// Key is what identifies cl's request limiter at rate r and burst b.
func (cl *client) Key(r rate.Limit, b int) Key {
	return Key{"requests", cl.name, cl.hash, r, b}
}

// Limiters indexes cs's limiters by Key, for a registry to keep those
// in use; nil cs has none.
func (cs *Clients) Limiters() map[Key]*rate.Limiter {
	if cs == nil {
		return nil
	}
	m := make(map[Key]*rate.Limiter, len(cs.keys))
	for i := range cs.keys {
		cl := &cs.keys[i]
		if cl.limit != nil {
			m[cl.Key(cl.limit.Limit(), cl.limit.Burst())] = cl.limit
		}
		for kind, b := range map[string]*budget{"tokens": cl.tokens, "cost": cl.cost} {
			if b != nil {
				m[Key{kind, cl.name, cl.hash, b.lim.Limit(), b.lim.Burst()}] = b.lim
			}
		}
	}
	return m
}

// Models are the front door's models the client name may use; nil: all
// of them (and for a nil *Clients, or no name).
func (cs *Clients) Models(name string) []string {
	if cs == nil {
		return nil
	}
	return cs.models[name]
}

// Admit finds the caller by the key it presents (Authorization: Bearer
// KEY, or X-API-Key: KEY) and takes one request from its rate; the error
// is a 401 or a 429 with Retry-After. A nil *Clients admits everyone.
func (cs *Clients) Admit(r *http.Request) (name string, err error) {
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
		return found.name, &Refusal{Status: http.StatusTooManyRequests, RetryAfter: strconv.Itoa(secs),
			Msg: "rate limit of client " + found.name + " reached; retry after " + strconv.Itoa(secs) + "s"}
	}
	return found.name, nil
}

// take takes one request from cl's rate, shared through Redis when there
// is one, and says how long to wait when it is spent. While Redis does not
// answer, the replica's own limiter stands in (on_error: open) or the
// request is refused with 503 (on_error: closed).
func (cs *Clients) take(ctx context.Context, cl *client) (wait time.Duration, err error) {
	if cs.shared != nil {
		allowed, wait, err := cs.shared.Allow(ctx, cl.name, float64(cl.limit.Limit()), cl.limit.Burst())
		switch {
		case err == nil && allowed:
			return 0, nil
		case err == nil:
			return max(wait, time.Nanosecond), nil
		case cs.shared.FailClosed():
			return 0, &Refusal{Status: http.StatusServiceUnavailable, RetryAfter: "1",
				Msg: "client rate limits are kept in Redis, which does not answer; retry after 1s"}
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
func (cs *Clients) find(r *http.Request) (*client, error) {
	key := presentedKey(r)
	if key == "" {
		return nil, &Refusal{Status: http.StatusUnauthorized,
			Msg: "an API key is needed: send Authorization: Bearer KEY or X-API-Key: KEY"}
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
		return nil, &Refusal{Status: http.StatusUnauthorized, Msg: "the API key is not valid"}
	}
	return found, nil
}

// Known reports whether r may be told what the server serves: it presents
// a valid key, or no keys are asked for. It takes nothing from the rate.
func (cs *Clients) Known(r *http.Request) bool {
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

// Refusal is a caller refused: a 401 for a missing or unknown key, a 429
// for a spent rate or budget (with the seconds to wait), a 503 when the
// limits live in a Redis that does not answer and on_error is closed.
type Refusal struct {
	Status     int
	RetryAfter string // seconds; "" for none
	Msg        string
}

// Error is the message the caller is told.
func (e *Refusal) Error() string { return e.Msg }
