// The seed's mini project, Parallel Fetch Sprint: three slow mock sources
// called concurrently, one merged response with each source's latency and
// the total.
package main

import (
	"context"
	"encoding/json"
	"os"
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

// lane is one source in the merged response.
type lane struct {
	Value     string  `json:"value,omitempty"`
	Error     string  `json:"error,omitempty"`
	LatencyMS float64 `json:"latency_ms"`
}

func main() {
	rep := fanout.Gather(context.Background(), []fanout.Task[string]{
		{Name: "weather", Source: slow(300*time.Millisecond, "22°C")},
		{Name: "image", Source: slow(800*time.Millisecond, "/img/popy.png")},
		{Name: "chat", Source: slow(500*time.Millisecond, "Hello from AI City!")},
	}, fanout.Options{Timeout: 5 * time.Second})
	merged := struct {
		Sources map[string]lane `json:"sources"`
		TotalMS float64         `json:"total_ms"`
	}{Sources: map[string]lane{}, TotalMS: ms(rep.Total)}
	for _, r := range rep.Results {
		l := lane{Value: r.Value, LatencyMS: ms(r.Latency())}
		if r.Err != nil {
			l.Error = r.Err.Error()
		}
		merged.Sources[r.Name] = l
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	enc.Encode(merged)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
