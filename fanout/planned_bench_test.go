package fanout_test

import (
	"context"
	"testing"
	"time"

	"github.com/citypopy/highway/fanout"
)

// mock answers v after d, as a Planned source or, through Fetch, as any
// source does.
type mock struct {
	d time.Duration
	v string
}

func (m mock) Plan() (string, time.Duration, error) { return m.v, m.d, nil }

func (m mock) Fetch(ctx context.Context, _ map[string]string) (string, error) {
	t := time.NewTimer(m.d)
	defer t.Stop()
	select {
	case <-t.C:
		return m.v, nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// fetched hides that a mock is Planned, so the gather runs it as a
// goroutine.
type fetched struct{ m mock }

func (f fetched) Fetch(ctx context.Context, needs map[string]string) (string, error) {
	return f.m.Fetch(ctx, needs)
}

// BenchmarkGatherOfMocks is what keeps fanout.Planned public: the same
// three mocks gathered as planned sources and as goroutines. It runs many
// gathers at once, as a server does, so that the time is CPU, not waiting.
func BenchmarkGatherOfMocks(b *testing.B) {
	ms := []mock{{time.Millisecond, "22°C"}, {3 * time.Millisecond, "/img"}, {2 * time.Millisecond, "hello"}}
	for _, c := range []struct {
		name string
		src  func(mock) fanout.Source[string]
	}{
		{"planned", func(m mock) fanout.Source[string] { return m }},
		{"goroutines", func(m mock) fanout.Source[string] { return fetched{m} }},
	} {
		tasks := []fanout.Task[string]{
			{Name: "weather", Source: c.src(ms[0])},
			{Name: "image", Source: c.src(ms[1])},
			{Name: "chat", Source: c.src(ms[2])},
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetParallelism(1000)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if rep := fanout.Gather(context.Background(), tasks, fanout.Options{Timeout: time.Second}); !rep.Complete() {
						b.Error(rep.Results)
					}
				}
			})
		})
	}
}
