package source_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/citypopy/highway/source"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestMockAnswersItsDataAfterItsLatency(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		m := &source.Mock{Latency: 300 * time.Millisecond, Data: []byte(`{"temp":"22°C"}`)}
		start := time.Now()
		v, err := whole(t.Context(), m, nil)
		if err != nil || string(v) != `{"temp":"22°C"}` || time.Since(start) != 300*time.Millisecond {
			t.Fatalf("v %s err %v after %v", v, err, time.Since(start))
		}
	})
}

func TestMockJitterStaysWithinItsBounds(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		m := &source.Mock{Latency: 100 * time.Millisecond, Jitter: 30 * time.Millisecond}
		seen := map[bool]bool{}
		for range 200 {
			start := time.Now()
			if _, err := whole(t.Context(), m, nil); err != nil {
				t.Fatal(err)
			}
			d := time.Since(start)
			if d < 70*time.Millisecond || d > 130*time.Millisecond {
				t.Fatalf("latency %v outside 100ms±30ms", d)
			}
			seen[d < 100*time.Millisecond] = true
		}
		if len(seen) != 2 {
			t.Errorf("jitter never went both ways: %v", seen)
		}
	})
}

func TestMockFailureRate(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		rate     float64
		min, max int
	}{{0, 0, 0}, {1, 1000, 1000}, {0.3, 200, 400}} {
		m := &source.Mock{FailureRate: c.rate}
		fails := 0
		for range 1000 {
			_, err := whole(t.Context(), m, nil)
			var mf *source.MockFailure
			if err != nil && !errors.As(err, &mf) {
				t.Fatalf("unexpected error %v", err)
			}
			if err != nil {
				fails++
			}
		}
		if fails < c.min || fails > c.max {
			t.Errorf("rate %g: %d of 1000 failed, want %d..%d", c.rate, fails, c.min, c.max)
		}
	}
}

func TestMockHonoursCancellation(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := whole(ctx, &source.Mock{Latency: time.Hour}, nil)
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != 50*time.Millisecond {
			t.Errorf("err %v after %v", err, time.Since(start))
		}
	})
}

func TestZeroMockAnswersNull(t *testing.T) {
	t.Parallel()
	v, err := whole(t.Context(), &source.Mock{}, nil)
	if err != nil || string(v) != "null" {
		t.Errorf("%s %v", v, err)
	}
}

func TestMockHeavyTail(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		m := &source.Mock{Latency: 50 * time.Millisecond, TailRate: 0.01, TailLatency: time.Second}
		slow := 0
		for range 10000 {
			start := time.Now()
			whole(t.Context(), m, nil)
			switch time.Since(start) {
			case time.Second:
				slow++
			case 50 * time.Millisecond:
			default:
				t.Fatalf("latency %v", time.Since(start))
			}
		}
		if slow < 60 || slow > 140 {
			t.Errorf("%d of 10000 calls in the tail, want about 100", slow)
		}
	})
}
