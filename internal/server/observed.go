package server

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"time"

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
