package shared

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
)

// gcra is the generic cell rate algorithm as a token bucket of burst
// requests refilled one per interval, kept as one number per key: the
// theoretical arrival time (TAT) of the next request, in microseconds of
// Redis's own clock, so that replicas' clocks do not matter. A request is
// allowed when TAT - now <= burst*interval - interval, i.e. while the
// bucket is not empty; each allowed request pushes TAT one interval on.
// It answers {1, 0} when allowed and {0, µs to wait} when not. TAT is
// written with %.0f: Lua's own number format keeps 14 digits, and a
// timestamp in µs has 16.
var gcra = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local next = tat + interval
local wait = next - tolerance - now
if wait > 0 then return {0, wait} end
redis.call('SET', KEYS[1], string.format('%.0f', next), 'PX', math.ceil((next - now) / 1000) + 1)
return {1, 0}
`)

// Allow takes one request from the rate shared by every replica under key:
// rate requests a second, burst at once. When the rate is spent, allowed
// is false and wait is how long until the next request would be. A
// non-nil error means Redis could not say, and the caller decides (see
// FailClosed).
func (s *Store) Allow(ctx context.Context, key string, rate float64, burst int) (allowed bool, wait time.Duration, err error) {
	interval := int64(float64(time.Second/time.Microsecond) / rate)
	tolerance := interval * int64(max(burst, 1))
	var res []int64
	err = s.do(ctx, func(ctx context.Context) error {
		var err error
		res, err = gcra.Run(ctx, s.rdb, []string{s.cfg.Prefix + "rate:{" + key + "}"}, interval, tolerance).Int64Slice()
		return err
	})
	if err != nil {
		s.fellBack("rate_limit")
		return false, 0, err
	}
	return res[0] == 1, time.Duration(res[1]) * time.Microsecond, nil
}

// budgetScript keeps a budget the way gcra keeps a rate, in units that an
// answer spends after the fact: ARGV[3] units are added to the key's TAT
// unconditionally (the budget may go into debt); with 0 units it only
// checks that at least one unit is left. Same answer shape as gcra.
var budgetScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local units = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
if units > 0 then
  tat = tat + units * interval
  redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX', math.ceil((tat - now) / 1000) + 1)
  return {1, 0}
end
local wait = tat + interval - tolerance - now
if wait > 0 then return {0, math.ceil(wait)} end
return {1, 0}
`)

// Budget checks (units 0) or spends a budget of capacity units refilled
// evenly over period, shared by every replica under key: left is false,
// with how long to wait, while it is spent. A non-nil error means Redis
// could not say.
func (s *Store) Budget(ctx context.Context, key string, capacity float64, period time.Duration, units float64) (left bool, wait time.Duration, err error) {
	interval := float64(period/time.Microsecond) / capacity
	var res []int64
	err = s.do(ctx, func(ctx context.Context) error {
		var err error
		res, err = budgetScript.Run(ctx, s.rdb, []string{s.cfg.Prefix + "budget:{" + key + "}"},
			interval, float64(period/time.Microsecond), units).Int64Slice()
		return err
	})
	if err != nil {
		s.fellBack("rate_limit")
		return false, 0, err
	}
	return res[0] == 1, time.Duration(res[1]) * time.Microsecond, nil
}
