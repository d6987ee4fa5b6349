// Step 2 of the tutorial: a slow source that honours its context, beside
// one that does not (time.Sleep ignores cancellation: the Go version of
// the seed's pitfall).
package main

import (
	"context"
	"fmt"
	"time"
)

// Weather is what the weather district answers.
type Weather struct {
	City, Temp string
}

// fetchWeather pretends to be a slow AI service. It waits politely: the
// moment its caller gives up (ctx is done), so does it.
func fetchWeather(ctx context.Context) (Weather, error) {
	select {
	case <-time.After(300 * time.Millisecond): // pretend it's slow
		return Weather{City: "Citypopy", Temp: "22°C"}, nil
	case <-ctx.Done():
		return Weather{}, ctx.Err()
	}
}

// fetchWeatherDeaf is the pitfall: time.Sleep cannot be interrupted, so it
// holds its lane for the whole 300ms even after its caller has gone.
func fetchWeatherDeaf(ctx context.Context) (Weather, error) {
	time.Sleep(300 * time.Millisecond)
	return Weather{City: "Citypopy", Temp: "22°C"}, nil
}

func main() {
	w, err := fetchWeather(context.Background())
	fmt.Printf("weather: %+v, err %v\n", w, err)

	for _, f := range []struct {
		name  string
		fetch func(context.Context) (Weather, error)
	}{{"polite", fetchWeather}, {"deaf", fetchWeatherDeaf}} {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond) // the caller waits 100ms at most
		start := time.Now()
		_, err := f.fetch(ctx)
		cancel()
		fmt.Printf("%-6s gave its lane back after %3dms (err: %v)\n", f.name, time.Since(start).Milliseconds(), err)
	}
}
