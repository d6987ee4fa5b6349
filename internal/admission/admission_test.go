package admission

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/citypopy/highway/internal/config"
)

// TestAdmissionLosesNoWakeUp forces the interleaving that lost one: the
// only place is given back after an arrival found it taken and before it
// joined the queue. The arrival must get that place at once, not sleep
// until queue_timeout and be shed with a place free.
func TestAdmissionLosesNoWakeUp(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		shed := prometheus.NewCounter(prometheus.CounterOpts{Name: "shed"})
		a := New(config.Admission{MaxInflight: 1, Queue: 1, QueueTimeout: config.Duration(time.Second)}, shed, NewLedger())
		if !a.Admit(t.Context()) {
			t.Fatal("the first request was not admitted")
		}
		a.queueing = func() { a.queueing = nil; a.Release() }
		start := time.Now()
		if !a.Admit(t.Context()) {
			t.Fatalf("shed after %v with the place free", time.Since(start))
		}
		if waited := time.Since(start); waited != 0 {
			t.Errorf("admitted after %v, want at once", waited)
		}
		if a.InFlight() != 1 || a.queued.Load() != 0 {
			t.Errorf("inflight %d queued %d, want 1 and 0", a.InFlight(), a.queued.Load())
		}
	})
}
