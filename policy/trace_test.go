package policy

import (
	"errors"
	"sync"
	"testing"
)

// TestTraceKeepsEveryStepOfConcurrentWriters: Trace is documented as safe
// for concurrent use (a hedge records from two goroutines). A load-copy-
// store lost thousands of steps of two writers; every one must be kept.
func TestTraceKeepsEveryStepOfConcurrentWriters(t *testing.T) {
	var tr Trace
	const writers, each = 4, 5000
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				tr.FailedOver(string(rune('a'+w)), errors.New("x"), 0)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range each {
			tr.ServedBy("z")
		}
	}()
	wg.Wait()
	steps, _ := tr.Failovers()
	if len(steps) != writers*each {
		t.Fatalf("kept %d of %d steps", len(steps), writers*each)
	}
	count := map[string]int{}
	for _, s := range steps {
		count[s.Name]++
	}
	for w := range writers {
		if n := count[string(rune('a'+w))]; n != each {
			t.Errorf("writer %d: %d of %d steps kept", w, n, each)
		}
	}
}
