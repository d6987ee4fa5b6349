package fanout_test

import (
	"context"
	"fmt"
	"time"

	"github.com/citypopy/highway/fanout"
)

// slow pretends to be a slow AI service that honours cancellation.
func slow(d time.Duration, v string) fanout.Func[string] {
	return func(ctx context.Context, needs map[string]string) (string, error) {
		select {
		case <-time.After(d):
			return v, nil
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
}

// The seed's mini project: three slow sources at once, one merged report,
// the total that of the slowest source rather than the sum.
func ExampleGather() {
	tasks := []fanout.Task[string]{
		{Name: "weather", Source: slow(30*time.Millisecond, "22°C")},
		{Name: "image", Source: slow(120*time.Millisecond, "/img/popy.png")},
		{Name: "chat", Source: slow(60*time.Millisecond, "Hello from AI City!"), Timeout: time.Second},
	}
	rep := fanout.Gather(context.Background(), tasks, fanout.Options{Timeout: 5 * time.Second})
	for _, r := range rep.Results {
		fmt.Printf("%-7s %s\n", r.Name, r.Value)
	}
	fmt.Println("slowest:", rep.Results[rep.Slowest].Name)
	fmt.Println("faster than one lane:", rep.Total < rep.Sum)
	// Output:
	// weather 22°C
	// image   /img/popy.png
	// chat    Hello from AI City!
	// slowest: image
	// faster than one lane: true
}

// Results yields each source the moment it lands, fastest first, which is
// what streaming is built on.
func ExampleRun_Results() {
	run := fanout.Start(context.Background(), []fanout.Task[string]{
		{Name: "image", Source: slow(200*time.Millisecond, "/img/popy.png")},
		{Name: "weather", Source: slow(20*time.Millisecond, "22°C")},
		{Name: "chat", Source: slow(100*time.Millisecond, "Hello")},
	}, fanout.Options{})
	for r := range run.Results() {
		fmt.Println(r.Name, "landed")
	}
	fmt.Println("complete:", run.Wait().Complete())
	// Output:
	// weather landed
	// chat landed
	// image landed
	// complete: true
}

// A single lane (Lanes: 1) runs the same sources one after another: the
// seed's traffic jam, for comparison.
func ExampleOptions_singleLane() {
	tasks := []fanout.Task[string]{
		{Name: "weather", Source: slow(20*time.Millisecond, "22°C")},
		{Name: "chat", Source: slow(20*time.Millisecond, "Hello")},
	}
	rep := fanout.Gather(context.Background(), tasks, fanout.Options{Lanes: 1})
	fmt.Println("chat waited for weather:", rep.Results[1].Start >= rep.Results[0].End)
	// Output:
	// chat waited for weather: true
}

// A small graph: chat needs the search hits and the weather, so it starts
// the moment the later of the two lands, while image runs beside them all.
func ExampleTask_needs() {
	chat := fanout.Func[string](func(ctx context.Context, needs map[string]string) (string, error) {
		return slow(40*time.Millisecond, "summary of "+needs["search"]+" in "+needs["weather"])(ctx, nil)
	})
	tasks := []fanout.Task[string]{
		{Name: "weather", Source: slow(30*time.Millisecond, "22°C")},
		{Name: "search", Source: slow(10*time.Millisecond, "3 hits")},
		{Name: "chat", Source: chat, Needs: []string{"weather", "search"}},
		{Name: "image", Source: slow(20*time.Millisecond, "/img/popy.png")},
	}
	rep := fanout.Gather(context.Background(), tasks, fanout.Options{})
	fmt.Println(rep.Results[2].Value)
	fmt.Println("chat started after weather ended:", rep.Results[2].Start >= rep.Results[0].End)
	var path []string
	for _, i := range rep.CriticalPath {
		path = append(path, rep.Results[i].Name)
	}
	fmt.Println("critical path:", path)
	// Output:
	// summary of 3 hits in 22°C
	// chat started after weather ended: true
	// critical path: [weather chat]
}
