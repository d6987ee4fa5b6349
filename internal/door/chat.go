package door

import (
	"cmp"
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/citypopy/highway/internal/metrics"
	"github.com/citypopy/highway/internal/report"
	"github.com/citypopy/highway/internal/upstream"
	"github.com/citypopy/highway/internal/wire"
	"github.com/citypopy/highway/policy"
	"github.com/citypopy/highway/source"
)

// Request is one door request as the server hands it over, admitted and
// its body read.
type Request struct {
	Body   []byte
	Queued time.Duration // waiting for an admission place
	// Models are the models the client may use; nil: every one.
	Models []string
}

// may reports whether the client may use the model name.
func (r *Request) may(name string) bool { return r.Models == nil || slices.Contains(r.Models, name) }

// Outcome is what one door request came to, for its log line, its
// metrics and its client's budgets. The zero value is a request that
// asked no model.
type Outcome struct {
	Model      string // the model asked, when configured
	Provider   string // the source that answered; "" for none
	Attempts   int    // the sources called
	Stream     bool
	FirstToken time.Duration // until the answer began; 0 if it never did
	Err        error         // what failed the answer, before or after it began
	Parts      []Part        // what each provider that was paid spent
	Marks      policy.Mark
	Steps      []policy.FailoverStep // the sources it moved on from, in order
}

// Part is what one provider spent of a request: the tokens it counted
// and their cost at its price (0 without one, or for an answer served
// from a cache or shared with another request).
type Part = metrics.DoorPart

// Spent is the request's tokens, input and output, and their cost.
func (o *Outcome) Spent() (tokens int, costUSD float64) {
	for _, p := range o.Parts {
		tokens += p.Usage.InputTokens + p.Usage.OutputTokens
		costUSD += p.CostUSD
	}
	return tokens, costUSD
}

// Serve answers r, a request at one of the door's paths, with req's
// body; it returns once nothing more will be written.
func (d *Door) Serve(w http.ResponseWriter, r *http.Request, req Request) Outcome {
	var out Outcome
	var err error
	switch r.URL.Path {
	case ChatPath, MessagesPath:
		if r.Method != http.MethodPost {
			err = notAllowed(r, http.MethodPost)
			break
		}
		err = d.chat(w, r, req, &out)
	case ModelsPath:
		if r.Method != http.MethodGet {
			err = notAllowed(r, http.MethodGet)
			break
		}
		d.list(w, req)
	case EmbeddingsPath:
		if r.Method != http.MethodPost {
			err = notAllowed(r, http.MethodPost)
			break
		}
		err = d.embed(w, r, req, &out)
	default:
		err = &Error{Status: http.StatusNotFound, Code: "unknown_url",
			Msg: "Unknown request URL: " + r.Method + " " + r.URL.Path + "; the door serves POST " + ChatPath + ", POST " + MessagesPath + ", GET " + ModelsPath + " and POST " + EmbeddingsPath}
	}
	if err != nil {
		WriteError(w, r.URL.Path, err)
	}
	return out
}

func notAllowed(r *http.Request, allow string) *Error {
	return &Error{Status: http.StatusMethodNotAllowed, Msg: "method " + r.Method + " not allowed on " + r.URL.Path + "; use " + allow}
}

// chat answers one chat request on its model's lane, whole or as a
// stream; an error returned is one to write, before anything else was.
func (d *Door) chat(w http.ResponseWriter, r *http.Request, req Request, out *Outcome) error {
	if d == nil {
		return &Error{Status: http.StatusNotFound, Code: "model_not_found", Msg: "this Highway serves no models: configure some under models:"}
	}
	chat, err := source.ParseChat(dialectOf(r.URL.Path), req.Body)
	if err != nil {
		return badRequest(err)
	}
	m := d.models[chat.Model()]
	if m == nil || !req.may(m.name) {
		return d.unknownModel(chat.Model(), req)
	}
	out.Model, out.Stream = m.name, chat.Stream()
	m.traffic.requests.Add(1)
	m.traffic.inFlight.Add(1)
	defer m.traffic.inFlight.Add(-1)
	if err := m.fits(chat); err != nil {
		e := badRequest(err)
		e.Msg = "model " + m.name + " cannot take this request, as one of its providers may answer it: " + e.Msg
		return e
	}
	ctx, cancel := context.WithTimeout(r.Context(), m.timeout)
	defer cancel()
	var tr policy.Trace
	ctx = policy.WithTrace(ctx, &tr)
	start := time.Now()
	a, err := m.lane.Fetch(ctx, &source.Call{Chat: chat})
	defer func() { m.account(out, &tr, a) }()
	if err != nil {
		out.Err = err
		return failed(m, &tr, err)
	}
	out.FirstToken = time.Since(start)
	timing := serverTiming{queued: req.Queued, firstToken: out.FirstToken}
	_, by := tr.Failovers()
	d.headers(w, m, &tr, cmp.Or(by, a.From()))
	if !chat.Stream() {
		v, err := a.Value(ctx)
		if err == nil && a.Dialect() != chat.Dialect() {
			v, err = wire.Answer(v, a.Dialect(), chat.Dialect())
		}
		if err != nil {
			out.Err = err
			return failed(m, &tr, err)
		}
		timing.upstream = time.Since(start)
		w.Header().Set("Server-Timing", timing.String(req.Queued+time.Since(start)))
		writeJSON(w, http.StatusOK, v)
		return nil
	}
	w.Header().Set("Trailer", "Server-Timing")
	w.Header().Set("Server-Timing", timing.String(0))
	out.Err = d.relay(ctx, w, chat, a, &tr)
	timing.upstream = time.Since(start)
	w.Header().Set("Server-Timing", timing.String(req.Queued+time.Since(start)))
	return nil
}

// headers say who answered (by): the source, its model, the attempts.
func (d *Door) headers(w http.ResponseWriter, m *model, tr *policy.Trace, by string) {
	h := w.Header()
	h.Set("X-Highway-Provider", by)
	if up := m.ups[by]; up != nil {
		h.Set("X-Highway-Provider-Model", up.Model)
	}
	h.Set("X-Highway-Attempts", strconv.Itoa(max(1, tr.Attempts())))
	if tr.Marks().Has(policy.CacheHit) {
		h.Set("X-Highway-Cache", "hit")
	}
	h.Set("Cache-Control", "no-store")
}

// relay writes a's stream to the client in its dialect, as the provider
// sends it (what came together in one write), and on into each provider the answer goes
// on from (a resumed stream), telling where it switched. A stream that
// fails once committed ends with an error event in the client's dialect,
// never as a success. It returns what failed the stream, if anything.
func (d *Door) relay(ctx context.Context, w http.ResponseWriter, chat *source.Chat, a *source.Answer, tr *policy.Trace) error {
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	ew := newEventWriter(w, d.writeTimeout)
	st := wire.NewStream(a.Dialect(), chat.Dialect(), chat.Model(), chat.IncludeUsage())
	fail := func(typ string, err error) error {
		ew.write(st.Fail(typ, err.Error()))
		return err
	}
	part := a
	for {
		for batch := range part.EventBatches(ctx) {
			for _, e := range batch {
				events, err := st.Translate(e)
				for _, ev := range events {
					ew.add(ev)
				}
				if err != nil {
					return fail("api_error", err)
				}
			}
			if ew.flush() != nil {
				return ew.err // the client has gone: its context stops the provider
			}
		}
		next, err := part.Next(ctx)
		if err != nil {
			return fail(streamErrorType(err), err)
		}
		if next == nil {
			break
		}
		steps, _ := tr.Failovers()
		from, reason := part.From(), "failed"
		var cut wire.Usage
		if len(steps) > 0 {
			last := steps[len(steps)-1]
			from, reason = last.Name, upstream.Failure(last.Err)
			if s, ok := errors.AsType[*source.SpentError](last.Err); ok {
				cut = wire.Usage{InputTokens: s.Usage.InputTokens, OutputTokens: s.Usage.OutputTokens}
			}
		}
		st.Resume(next.Dialect(), cut)
		ew.write(st.Switched(from, next.From(), reason))
		part = next
	}
	if _, err := part.Value(ctx); err != nil {
		return fail(streamErrorType(err), err)
	}
	if !st.Done() {
		return fail("api_error", errors.New("the provider's stream ended before its end"))
	}
	return nil
}

// streamErrorType is the error type of a stream failed by err.
func streamErrorType(err error) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return "timeout_error"
	}
	if s, ok := errors.AsType[*source.StreamError](err); ok && (s.Kind == source.StreamStall || s.Kind == source.StreamFirstToken) {
		return "timeout_error"
	}
	return "api_error"
}

// account fills out with what the request's providers did and spent:
// each failed attempt that had been accepted (a stream cut part-way, a
// hedge's loser) at its own price, and the answer at the price of the
// provider that gave it.
func (m *model) account(out *Outcome, tr *policy.Trace, a *source.Answer) {
	steps, by := tr.Failovers()
	out.Attempts, out.Marks, out.Steps = max(1, tr.Attempts()), tr.Marks(), steps
	for _, st := range steps {
		if s, ok := errors.AsType[*source.SpentError](st.Err); ok {
			out.Parts = append(out.Parts, m.part(st.Name, s.Usage, true))
		}
	}
	if a == nil {
		return
	}
	by = cmp.Or(by, a.From()) // "" when it never failed over
	out.Provider = by
	if u, ok := a.Usage(); ok {
		billed := !out.Marks.Has(policy.CacheHit) && !out.Marks.Has(policy.Coalesced)
		out.Parts = append(out.Parts, m.part(by, u, billed))
	}
}

func (m *model) part(src string, u source.Usage, billed bool) Part {
	p := Part{Source: src, Usage: u}
	if up := m.ups[src]; up != nil {
		p.Model = up.Model
	}
	if price := m.prices[src]; price != nil && billed {
		p.CostUSD = price.Cost(report.Usage(u))
	}
	return p
}
