// Step 4 of the tutorial: the fan-out plugged into net/http as
// /city-report. Every request gets its own goroutine from net/http, and
// its sources their own lanes from fanout.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"log"
	"net/http"
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

func cityReport(w http.ResponseWriter, r *http.Request) {
	// r.Context() ends when the client leaves: the lanes stop with it.
	rep := fanout.Gather(r.Context(), []fanout.Task[string]{
		{Name: "weather", Source: slow(300*time.Millisecond, "22°C")},
		{Name: "image", Source: slow(800*time.Millisecond, "/img/popy.png")},
		{Name: "chat", Source: slow(500*time.Millisecond, "Hello from AI City!")},
	}, fanout.Options{Timeout: 5 * time.Second})
	answer := map[string]string{}
	for _, res := range rep.Results {
		answer[res.Name] = res.Value
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(answer)
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8000", "listen address")
	flag.Parse()
	http.HandleFunc("GET /city-report", cityReport)
	log.Printf("serving http://%s/city-report", *addr)
	log.Fatal(http.ListenAndServe(*addr, nil))
}
