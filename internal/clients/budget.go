package clients

import (
	"context"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/citypopy/highway/internal/shared"
)

// budget is a client's token or cost budget: a bucket refilled evenly over
// its period. What an answer used is known only once it is given, so it is
// spent afterwards and may take the bucket into debt; while the bucket is
// empty the client's requests are refused with 429.
type budget struct {
	what    string  // "token budget (1000 tokens a minute)", for the error
	unit    float64 // bucket units per token, or per dollar
	lim     *rate.Limiter
	refused prometheus.Counter
	// With a Redis, the budget is kept there under key, shared by every
	// replica; lim stands in while Redis does not answer (on_error: open).
	shared   *shared.Store
	key      string
	capacity float64 // units
	period   time.Duration
}

// newBudget is a budget of perPeriod (tokens, or dollars at unit units
// each) per period, on reg's limiter for it: across reloads, it keeps
// what it has used.
func newBudget(limiter func(Key, func() *rate.Limiter) *rate.Limiter, cl *client, kind string, perPeriod float64, period time.Duration, unit float64,
	what string, refused prometheus.Counter) *budget {
	units := perPeriod * unit
	r, burst := rate.Limit(units/period.Seconds()), int(min(units, math.MaxInt32))
	lim := limiter(Key{kind, cl.name, cl.hash, r, burst}, func() *rate.Limiter { return rate.NewLimiter(r, burst) })
	return &budget{what: what, unit: unit, lim: lim, refused: refused, key: cl.name + ":" + kind, capacity: units, period: period}
}

// check is a 429 while the budget is spent (503 when it is kept in a
// Redis that does not answer and on_error is closed); nil on a nil budget.
func (b *budget) check(ctx context.Context, client string, now time.Time) error {
	if b == nil {
		return nil
	}
	var wait time.Duration
	if b.shared != nil {
		left, w, err := b.shared.Budget(ctx, b.key, b.capacity, b.period, 0)
		switch {
		case err == nil && left:
			return nil
		case err == nil:
			wait = w
		case b.shared.FailClosed():
			return &Refusal{Status: http.StatusServiceUnavailable, RetryAfter: "1",
				Msg: "client budgets are kept in Redis, which does not answer; retry after 1s"}
		}
	}
	if wait == 0 {
		left := b.lim.TokensAt(now)
		if left >= 1 {
			return nil
		}
		wait = time.Duration((1 - left) / float64(b.lim.Limit()) * float64(time.Second))
	}
	b.refused.Inc()
	secs := max(1, int((wait+time.Second-1)/time.Second))
	return &Refusal{Status: http.StatusTooManyRequests, RetryAfter: strconv.Itoa(secs),
		Msg: "the " + b.what + " of client " + client + " ran out; retry after " + strconv.Itoa(secs) + "s"}
}

// spend takes v (tokens, or dollars) from the budget, into debt if need
// be; nothing on a nil budget.
func (b *budget) spend(ctx context.Context, now time.Time, v float64) {
	if b == nil {
		return
	}
	if b.shared != nil {
		if _, _, err := b.shared.Budget(ctx, b.key, b.capacity, b.period, math.Ceil(v*b.unit)); err == nil {
			return
		}
	}
	for n := int(math.Ceil(v * b.unit)); n > 0; {
		k := min(n, b.lim.Burst())
		b.lim.ReserveN(now, k)
		n -= k
	}
}

// Spend takes what a request of the named client used from its budgets.
func (cs *Clients) Spend(ctx context.Context, name string, tokens int, costUSD float64) {
	if cs == nil || cs.byName == nil {
		return
	}
	cl := cs.byName[name]
	if cl == nil {
		return
	}
	now := time.Now()
	cl.tokens.spend(ctx, now, float64(tokens))
	cl.cost.spend(ctx, now, costUSD)
}
