// Step 3 of the tutorial: many slow sources at once with fanout.Gather,
// the Go foreman that sends each to its own lane.
package main

import (
	"context"
	"fmt"
	"time"

	"github.com/citypopy/highway/fanout"
)

// slow is a source that answers v after d, unless its caller gives up.
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
	rep := fanout.Gather(context.Background(), []fanout.Task[string]{
		{Name: "weather", Source: slow(300*time.Millisecond, "22°C")},
		{Name: "image", Source: slow(800*time.Millisecond, "/img/popy.png")},
		{Name: "chat", Source: slow(500*time.Millisecond, "Hello from AI City!")},
	}, fanout.Options{Timeout: 5 * time.Second})
	for _, r := range rep.Results {
		fmt.Printf("%-8s %-22q %4dms\n", r.Name, r.Value, r.Latency().Milliseconds())
	}
	fmt.Printf("all three in %dms, the slowest lane (%s); one lane would take %dms\n",
		rep.Total.Milliseconds(), rep.Results[rep.Slowest].Name, rep.Sum.Milliseconds())
}
