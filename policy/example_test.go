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
	flaky := fanout.Func[string](func(ctx context.Context) (string, error) {
		if calls++; calls < 3 {
			return "", reset{}
		}
		return "sunny", nil
	})
	weather := &policy.Retry[string]{Next: flaky, Attempts: 3, Backoff: time.Millisecond}
	v, err := weather.Fetch(context.Background())
	fmt.Println(v, err, "after", calls, "calls")
	// Output: sunny <nil> after 3 calls
}

// A breaker stops calling a source that keeps failing and fails fast
// instead, until its cooldown has passed.
func ExampleBreaker() {
	calls := 0
	down := fanout.Func[string](func(ctx context.Context) (string, error) {
		calls++
		return "", errors.New("upstream answered 503")
	})
	weather := policy.NewBreaker[string]("weather", down, 2, time.Minute)
	for range 3 {
		_, err := weather.Fetch(context.Background())
		fmt.Println(err)
	}
	fmt.Println(calls, "calls reached the upstream")
	// Output:
	// upstream answered 503
	// upstream answered 503
	// circuit breaker open: weather kept failing; failing fast for up to 1m0s before probing again
	// 2 calls reached the upstream
}
