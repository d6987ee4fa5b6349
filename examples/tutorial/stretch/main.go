// The mini project's stretch goal: the same three sources on one lane
// (sequential) and on the highway (concurrent), timed side by side.
package main

import (
	"context"
	"fmt"
	"time"

	"github.com/citypopy/highway/fanout"
)

func slow(d time.Duration, v string) fanout.Func[string] {
	return func(ctx context.Context, _ map[string]string) (string, error) {
		select {
		case <-time.After(d):
			return v, nil
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
}

func main() {
	tasks := []fanout.Task[string]{
		{Name: "weather", Source: slow(300*time.Millisecond, "22°C")},
		{Name: "image", Source: slow(800*time.Millisecond, "/img/popy.png")},
		{Name: "chat", Source: slow(500*time.Millisecond, "Hello from AI City!")},
	}
	single := fanout.Gather(context.Background(), tasks, fanout.Options{Lanes: 1}) // one lane: the traffic jam
	highway := fanout.Gather(context.Background(), tasks, fanout.Options{})        // a lane each
	fmt.Printf("%-8s %12s %12s\n", "", "sequential", "concurrent")
	for i, r := range single.Results {
		fmt.Printf("%-8s %10dms %10dms\n", r.Name, r.Latency().Milliseconds(), highway.Results[i].Latency().Milliseconds())
	}
	fmt.Printf("%-8s %10dms %10dms\n", "total", single.Total.Milliseconds(), highway.Total.Milliseconds())
	fmt.Printf("the highway was %.1fx faster\n", float64(single.Total)/float64(highway.Total))
}
