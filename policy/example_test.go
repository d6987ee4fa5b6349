package policy_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/citypopy/highway/fanout"
	"github.com/citypopy/highway/policy"
)

// reset is a failure worth another attempt: it says so with Retryable.
type reset struct{}

func (reset) Error() string   { return "connection reset" }
func (reset) Retryable() bool { return true }

// Retry calls a flaky source again after a retryable failure, with a
// jittered backoff that never outlasts the caller's deadline.
func ExampleRetry() {
	calls := 0
	flaky := policy.Func[string, string](func(ctx context.Context, city string) (string, error) {
		if calls++; calls < 3 {
			return "", reset{}
		}
		return "sunny", nil
	})
	weather := &policy.Retry[string, string]{Next: flaky, Attempts: 3, Backoff: time.Millisecond}
	v, err := weather.Fetch(context.Background(), "Citypopy")
	fmt.Println(v, err, "after", calls, "calls")
	// Output: sunny <nil> after 3 calls
}

// A breaker stops calling a source that keeps failing and fails fast
// instead, until its cooldown has passed.
func ExampleBreaker() {
	calls := 0
	down := policy.Func[string, string](func(ctx context.Context, city string) (string, error) {
		calls++
		return "", errors.New("upstream answered 503")
	})
	weather := policy.NewBreaker[string, string]("weather", down, 2, time.Minute)
	for range 3 {
		_, err := weather.Fetch(context.Background(), "Citypopy")
		fmt.Println(err)
	}
	fmt.Println(calls, "calls reached the upstream")
	// Output:
	// upstream answered 503
	// upstream answered 503
	// circuit breaker open: weather kept failing; failing fast for up to 1m0s before probing again
	// 2 calls reached the upstream
}

// A source that panics under a hedge or a coalesced call, whose policies
// run it on goroutines of their own, fails its call with a
// *fanout.PanicError; the gather, the other sources and the process carry
// on.
func Example_panickingSource() {
	type needs = map[string]string
	broken := policy.Func[needs, string](func(ctx context.Context, _ needs) (string, error) {
		time.Sleep(5 * time.Millisecond) // long enough for the hedge to go out
		var m map[string]int
		m["district"]++ // a nil map: the kind of bug that takes gateways down
		return "never", nil
	})
	rep := fanout.Gather(context.Background(), []fanout.Task[string]{
		{Name: "hedged", Source: &policy.Hedge[needs, string]{Next: broken, Delay: time.Millisecond}},
		{Name: "coalesced", Source: &policy.Coalesce[needs, string]{Next: broken}},
		{Name: "weather", Source: policy.Func[needs, string](func(context.Context, needs) (string, error) { return "22°C", nil })},
	}, fanout.Options{})
	for _, r := range rep.Results {
		_, panicked := errors.AsType[*fanout.PanicError](r.Err)
		fmt.Println(r.Name, r.Value, "panicked:", panicked)
	}
	// Output:
	// hedged  panicked: true
	// coalesced  panicked: true
	// weather 22°C panicked: false
}

// tier is a SharedCache in this process's memory, standing for one that
// other processes see too (Highway's is in Redis).
type tier struct{ m map[string]string }

func (t tier) Get(_ context.Context, key string) (string, time.Duration, bool) {
	v, ok := t.m[key]
	return v, time.Minute, ok
}

func (t tier) Set(_ context.Context, key, v string, _ time.Duration) { t.m[key] = v }

// Two replicas' caches with one shared tier: what one fetched, the other
// serves without calling the upstream.
func ExampleSharedCache() {
	calls := 0
	upstream := policy.Func[string, string](func(ctx context.Context, city string) (string, error) {
		calls++
		return "sunny in " + city, nil
	})
	shared := tier{m: map[string]string{}}
	byCity := func(city string) string { return city }
	a := &policy.Cache[string, string]{Next: upstream, TTL: time.Minute, Key: byCity, Shared: shared}
	b := &policy.Cache[string, string]{Next: upstream, TTL: time.Minute, Key: byCity, Shared: shared}
	defer a.Close()
	defer b.Close()
	a.Fetch(context.Background(), "Citypopy")
	tr := &policy.Trace{}
	v, _ := b.Fetch(policy.WithTrace(context.Background(), tr), "Citypopy")
	fmt.Println(v, "| upstream calls:", calls, "| cache hit:", tr.Marks().Has(policy.CacheHit))
	// Output: sunny in Citypopy | upstream calls: 1 | cache hit: true
}
