package server

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"time"

	"github.com/citypopy/highway/fanout"
	"github.com/citypopy/highway/policy"
	"github.com/citypopy/highway/source"
)

// observed records what routes see of a source, outermost in its stack:
// calls, failures and recent latencies, for the health page.
type observed struct {
	next     source.Source
	calls    atomic.Int64
	failures atomic.Int64
	recent   policy.Latencies
}

func (o *observed) Fetch(ctx context.Context) (json.RawMessage, error) {
	start := time.Now()
	v, err := o.next.Fetch(ctx)
	o.calls.Add(1)
	if err != nil {
		if ctx.Err() == nil { // a client leaving is not the source's failure
			o.failures.Add(1)
		}
	} else {
		o.recent.Observe(time.Since(start))
	}
	return v, err
}

// plannedObserved is observed for a source that is fanout.Planned (a
// bare mock): it stays Planned, so the gather still delivers its answer on
// its own timer with no goroutine, and records the call when it is planned.
type plannedObserved struct {
	*observed
	plan fanout.Planned[json.RawMessage]
}

func (o *plannedObserved) Plan() (json.RawMessage, error, time.Duration) {
	v, err, after := o.plan.Plan()
	o.calls.Add(1)
	if err != nil {
		o.failures.Add(1)
	} else {
		o.recent.Observe(after)
	}
	return v, err, after
}
