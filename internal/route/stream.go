package route

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/citypopy/highway/fanout"
	"github.com/citypopy/highway/internal/report"
	"github.com/citypopy/highway/internal/sse"
	"github.com/citypopy/highway/policy"
	"github.com/citypopy/highway/source"
)

// Event types of a streamed route.
const (
	EventStart    = "start"    // a source starting: its lane was free and its needs had answered
	EventDelta    = "delta"    // a piece of a streaming source's answer, as it arrives
	EventFailover = "failover" // a lane moving on from a failed source to the next in its failover list, or starting it beside a slow one (a hedge)
	EventSource   = "source"   // one source's result, the moment it lands
	EventReport   = "report"   // the whole report, as the JSON answer has it
)

// stream answers a route as Server-Sent Events: a start event per source
// as it starts, a source's deltas as its answer streams, a source event
// per source as it lands, in the order they happen, then the report. The
// status is 200 once the stream starts; the report says what failed. Once
// it returns nothing more is written, whatever a source still running
// does.
func (rt *Route) stream(w http.ResponseWriter, r *http.Request, req Request, p *pass) *fanout.Report[json.RawMessage] {
	sw := sse.NewWriter(w, rt.writeTimeout)
	defer sw.Close()
	stopHeartbeat := heartbeat(sw, rt.heartbeat)
	// A lane's deltas and failovers are written after its start event:
	// the lane waits (briefly: the loop below writes a start the moment it
	// has it) for the loop to have sent it.
	started := make([]chan struct{}, len(p.tasks))
	for i := range p.traces {
		started[i] = make(chan struct{})
	}
	if p.lanes != nil { // not the read-only pass of a route of bare mocks, which stream nothing
		p.moved = func(i int, from policy.FailoverStep, to string) { // live, so the page shows the switch
			select {
			case <-started[i]:
			case <-r.Context().Done():
				return
			}
			sw.Numbered(EventFailover, failoverEvent(p.tasks[i].Name, from, to))
		}
		p.relay = func(ctx context.Context, i int, a *source.Answer) {
			select {
			case <-started[i]:
			case <-ctx.Done():
				return
			}
			relay(ctx, sw, p.tasks[i].Name, &p.traces[i], a)
		}
	}
	run := fanout.Start(r.Context(), p.tasks, req.options)
	bp := buffers.Get().(*[]byte)
	b := (*bp)[:0]
	for e := range run.Events() {
		kind := EventSource
		if e.Started {
			kind = EventStart
			b = report.AppendStart(b[:0], &e.Result)
		} else {
			i := e.Result.Index
			b = report.AppendSource(b[:0], &rt.shape, &e.Result, p.trace(i), p.usageOf(i))
		}
		if sw.Numbered(kind, b) != nil {
			break // the client has gone; its context stops the sources
		}
		if e.Started && e.Result.Index < len(started) && started[e.Result.Index] != nil {
			close(started[e.Result.Index])
		}
	}
	rep := run.Wait()
	stopHeartbeat()
	b = report.Append(b[:0], &rt.shape, req.mode, rep, p.traces, p.usageOf)
	sw.Numbered(EventReport, b)
	*bp = b
	buffers.Put(bp)
	return rep
}

// relay writes lane's answer a as it arrives, at the client's pace: a
// delta per token, from the first, and where the answer goes on as the
// next source's (a failover mid-stream), the failover events its trace tr
// recorded since, in order, before the next source's tokens. A slow
// client falls behind alone: every reader of a shared answer reads it at
// its own pace. It returns at the answer's end, or once the client has
// gone.
func relay(ctx context.Context, sw *sse.Writer, lane string, tr *policy.Trace, a *source.Answer) {
	told, _ := tr.Failovers() // told live, before the answer began
	emitted := len(told)
	for part := a; part != nil; {
		for text := range part.Tokens(ctx) {
			b, _ := json.Marshal(struct {
				Name string `json:"name"`
				Text string `json:"text"`
			}{part.From(), text})
			if sw.Numbered(EventDelta, b) != nil {
				return
			}
		}
		next, err := part.Next(ctx)
		if err != nil {
			return
		}
		steps, _ := tr.Failovers()
		for k := emitted; k < len(steps); k++ {
			if _, lost := errors.AsType[*policy.HedgeLostError](steps[k].Err); lost {
				continue // a hedge's loser, recorded as it ends: no move
			}
			to := ""
			switch {
			case k+1 < len(steps):
				to = steps[k+1].Name
			case next != nil:
				to = next.From()
			default:
				continue // the lane's last failure: its source event says it
			}
			sw.Numbered(EventFailover, failoverEvent(lane, steps[k], to))
		}
		emitted = len(steps)
		part = next
	}
}

// failoverEvent is the data of a failover event: lane moving on from
// from.Name to to, after a failure, or starting to beside it (a hedge).
func failoverEvent(lane string, from policy.FailoverStep, to string) []byte {
	e := struct {
		Name      string  `json:"name"`
		From      string  `json:"from"`
		To        string  `json:"to"`
		Reason    string  `json:"reason"`
		Error     string  `json:"error"`
		LatencyMS float64 `json:"latency_ms"`
		Hedge     bool    `json:"hedge,omitempty"`
	}{Name: lane, From: from.Name, To: to, LatencyMS: float64(from.Latency.Microseconds()) / 1000, Hedge: from.Hedge}
	if from.Hedge {
		e.Reason, e.Error = "hedge", fmt.Sprintf("no first token after %v: %s starts beside it, and the first to begin answers", from.Latency.Round(time.Millisecond), to)
	} else {
		e.Reason, e.Error = report.Reason(from.Err), from.Err.Error()
	}
	b, _ := json.Marshal(e)
	return b
}

// heartbeat writes a comment every interval until stopped, so that proxies
// do not cut a quiet stream; stop returns once it has.
func heartbeat(sw *sse.Writer, every time.Duration) (stop func()) {
	if every <= 0 {
		return func() {}
	}
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				sw.Comment("heartbeat")
			case <-quit:
				return
			}
		}
	}()
	return func() { close(quit); <-done }
}
