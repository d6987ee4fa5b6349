package report

import (
	"cmp"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/citypopy/highway/fanout"
	"github.com/citypopy/highway/policy"
	"github.com/citypopy/highway/source"
)

// Modes of a gather, as the report names them.
const (
	ModeConcurrent = "concurrent"
	ModeSequential = "sequential"
)

// Route is what a report says of its route: the path and, by task index,
// which sources are optional and what each needs. The zero value is a
// route with no optional sources and no needs.
type Route struct {
	Path     string
	Optional []bool
	Needs    [][]string
	// LLM marks, by task index, the sources whose answers carry token
	// usage (or one of whose failovers' do); Prices, those with a price
	// (nil: none). Failovers are the prices of the sources lanes may fail
	// over to, by name: an answer is priced as its server's.
	LLM       []bool
	Prices    []*Price
	Failovers map[string]*Price
}

func (rt *Route) llm(i int) bool { return i < len(rt.LLM) && rt.LLM[i] }

func (rt *Route) price(i int) *Price {
	if i < len(rt.Prices) {
		return rt.Prices[i]
	}
	return nil
}

// spend is what one LLM lane used and cost in one request, every source
// it asked together.
type spend struct {
	usage  Usage
	cost   float64
	ok     bool // some answer or failure said what it used
	priced bool
}

func (s *spend) add(p Part) {
	s.ok, s.priced = true, s.priced || p.Priced
	s.usage.InputTokens += p.Usage.InputTokens
	s.usage.OutputTokens += p.Usage.OutputTokens
	s.usage.Estimated = s.usage.Estimated || p.Usage.Estimated
	s.cost += p.CostUSD
}

// Part is what one source a lane asked used and cost: the one that
// answered, or one it moved on from (a stream cut mid-way, a failover
// hedge's loser) that its provider bills all the same.
type Part struct {
	Source  string
	Usage   Usage
	CostUSD float64 // 0 without a price, or for an answer from a cache or another caller's call
	Priced  bool
}

// Parts are what the result of lane r of rt used and cost this request,
// source by source, as its report entry says: nothing for a lane that is
// not an LLM's, or whose answers and failures said nothing of usage. u is
// the usage of the lane's answer, as its source typed it (nil: none).
func (rt *Route) Parts(r *fanout.Result[json.RawMessage], tr *policy.Trace, u *Usage) []Part {
	if !rt.llm(r.Index) {
		return nil
	}
	var parts []Part
	steps, by := tr.Failovers()
	for _, st := range steps {
		if u, ok := spentBy(st.Err); ok {
			parts = append(parts, rt.part(r, st.Name, u, true))
		}
	}
	if r.Err == nil && u != nil {
		m := tr.Marks()
		parts = append(parts, rt.part(r, cmp.Or(by, r.Name), *u, !m.Has(policy.CacheHit) && !m.Has(policy.Coalesced)))
	}
	return parts
}

// part is what source name used in lane r, at its price (the lane's own,
// or a failover's), billed unless the answer cost this request nothing.
func (rt *Route) part(r *fanout.Result[json.RawMessage], name string, u Usage, billed bool) Part {
	p := Part{Source: name, Usage: u}
	price := rt.Failovers[name]
	if name == r.Name {
		price = rt.price(r.Index)
	}
	if price != nil {
		p.Priced = true
		if billed {
			p.CostUSD = price.Cost(u)
		}
	}
	return p
}

// spentBy is what a failure is estimated to have spent, when its provider
// had accepted the call.
func spentBy(err error) (Usage, bool) {
	if s, ok := errors.AsType[*source.SpentError](err); ok {
		return s.Usage, true
	}
	return Usage{}, false
}

func (rt *Route) spend(r *fanout.Result[json.RawMessage], tr *policy.Trace, u *Usage) (s spend) {
	for _, p := range rt.Parts(r, tr, u) {
		s.add(p)
	}
	return s
}

func (rt *Route) optional(i int) bool { return i < len(rt.Optional) && rt.Optional[i] }

func (rt *Route) needs(i int) []string {
	if i < len(rt.Needs) {
		return rt.Needs[i]
	}
	return nil
}

// Append appends the JSON report of rep, served for rt in mode, to b.
// traces says, by task index, what the policies around each source did
// (nil, or a missing entry: nothing was recorded), and usage what each
// lane's answer used, as its source typed it (nil, or a nil answer:
// nothing). Each
// source's value must be valid JSON; it is copied as it is.
//
// It writes the document by hand rather than with encoding/json, for its
// numbers: about 0.9 µs and one allocation per report of three sources
// (BenchmarkAppend), against 3.4 µs for encoding/json to marshal the same
// document once it is built as a Document (BenchmarkMarshal), which would
// cost a copy of every source's answer besides.
func Append(b []byte, rt *Route, mode string, rep *fanout.Report[json.RawMessage], traces []policy.Trace, usage func(i int) *Usage) []byte {
	b = append(b, `{"route":`...)
	b = appendString(b, rt.Path)
	b = append(b, `,"mode":`...)
	b = appendString(b, mode)
	b = append(b, `,"lanes":`...)
	b = strconv.AppendInt(b, int64(rep.Lanes), 10)
	b = append(b, `,"complete":`...)
	b = strconv.AppendBool(b, rep.Complete())
	b = append(b, `,"total_ms":`...)
	b = appendMS(b, rep.Total)
	b = append(b, `,"sum_ms":`...)
	b = appendMS(b, rep.Sum)
	b = append(b, `,"slowest":`...)
	if rep.Slowest >= 0 {
		b = appendString(b, rep.Results[rep.Slowest].Name)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"critical_path":[`...)
	for k, i := range rep.CriticalPath {
		if k > 0 {
			b = append(b, ',')
		}
		b = appendString(b, rep.Results[i].Name)
	}
	b = append(b, `],"failed":`...)
	b = strconv.AppendInt(b, int64(rep.Failed()), 10)
	b = append(b, `,"sources":{`...)
	var total spend
	for i := range rep.Results {
		if i > 0 {
			b = append(b, ',')
		}
		tr := traceOf(traces, i)
		sp := rt.spend(&rep.Results[i], tr, usageOf(usage, i))
		b = appendResult(b, rt, &rep.Results[i], tr, sp)
		if sp.ok {
			total.add(Part{Usage: sp.usage, CostUSD: sp.cost, Priced: sp.priced})
		}
	}
	b = append(b, '}')
	if total.ok {
		b = appendUsage(b, total.usage, total.cost, total.priced)
	}
	return append(b, '}')
}

// usageOf is the usage of lane i's answer, or nil.
func usageOf(usage func(int) *Usage, i int) *Usage {
	if usage == nil {
		return nil
	}
	return usage(i)
}

func traceOf(traces []policy.Trace, i int) *policy.Trace {
	if i < len(traces) {
		return &traces[i]
	}
	return nil
}

// marks are the policy marks the report names, in the order written.
var marks = []struct {
	mark policy.Mark
	json string
}{
	{policy.Hedged, `,"hedged":true`},
	{policy.HedgeWon, `,"hedge_won":true`},
	{policy.HedgeAbandoned, `,"hedge_abandoned":true`},
	{policy.Coalesced, `,"coalesced":true`},
	{policy.CacheHit, `,"cached":true`},
	{policy.Shed, `,"shed":true`},
}

func appendResult(b []byte, rt *Route, r *fanout.Result[json.RawMessage], tr *policy.Trace, sp spend) []byte {
	b = appendString(b, r.Name)
	b = append(b, `:{`...)
	return appendFields(b, rt, r, tr, sp)
}

// AppendSource appends one source's result as a JSON object with its name,
// the body of a streamed "source" event; tr is what its policies did, and
// u what its answer used, or nil.
func AppendSource(b []byte, rt *Route, r *fanout.Result[json.RawMessage], tr *policy.Trace, u *Usage) []byte {
	b = append(b, `{"name":`...)
	b = appendString(b, r.Name)
	b = append(b, ',')
	return appendFields(b, rt, r, tr, rt.spend(r, tr, u))
}

// Attempts is how many upstream calls a source made: as its policies
// recorded them on tr, else 1 for a source that was called; 0 for one
// that never was (not started, skipped) or was answered from a cache.
func Attempts(r *fanout.Result[json.RawMessage], tr *policy.Trace) int {
	if is[*fanout.NotStartedError](r.Err) || is[*fanout.SkippedError](r.Err) {
		return 0
	}
	return tr.Attempts()
}

// appendFields writes a result's fields and closes its object.
func appendFields(b []byte, rt *Route, r *fanout.Result[json.RawMessage], tr *policy.Trace, sp spend) []byte {
	skipped, isSkipped := errors.AsType[*fanout.SkippedError](r.Err)
	switch {
	case r.Err == nil:
		b = append(b, `"status":"ok"`...)
	case isSkipped:
		b = append(b, `"status":"skipped","reason":"`+ReasonNeed+`","need":`...)
		b = appendString(b, skipped.Need)
		b = append(b, `,"error":`...)
		b = appendString(b, r.Err.Error())
	default:
		b = append(b, `"status":"error","reason":`...)
		b = appendString(b, Reason(r.Err))
		b = append(b, `,"error":`...)
		b = appendString(b, r.Err.Error())
	}
	b = append(b, `,"latency_ms":`...)
	b = appendMS(b, r.Latency())
	b = append(b, `,"start_ms":`...)
	b = appendMS(b, r.Start)
	b = append(b, `,"end_ms":`...)
	b = appendMS(b, r.End)
	b = append(b, `,"attempts":`...)
	b = strconv.AppendInt(b, int64(Attempts(r, tr)), 10)
	if rt.optional(r.Index) {
		b = append(b, `,"optional":true`...)
	}
	b = appendNames(b, `,"needs":[`, rt.needs(r.Index))
	b = appendNames(b, `,"fallback_for":[`, r.Fallbacks)
	if r.Abandoned {
		b = append(b, `,"abandoned":true`...)
	}
	if got := tr.Marks(); got != 0 {
		for _, m := range marks {
			if got.Has(m.mark) {
				b = append(b, m.json...)
			}
		}
	}
	if steps, by := tr.Failovers(); len(steps) > 0 {
		b = appendFailovers(b, rt, r, steps, by)
	}
	if sp.ok {
		b = appendUsage(b, sp.usage, sp.cost, sp.priced)
	}
	if r.Err == nil {
		b = append(b, `,"data":`...)
		if len(r.Value) == 0 {
			b = append(b, "null"...)
		} else {
			b = append(b, r.Value...)
		}
	}
	return append(b, '}')
}

// appendFailovers writes who answered lane r that failed over, and each
// source it moved on from, with why, how long it took and, for one its
// provider bills all the same, what it spent.
func appendFailovers(b []byte, rt *Route, r *fanout.Result[json.RawMessage], steps []policy.FailoverStep, servedBy string) []byte {
	if servedBy != "" {
		b = append(b, `,"served_by":`...)
		b = appendString(b, servedBy)
	}
	b = append(b, `,"failovers":[`...)
	for k, st := range steps {
		if k > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":`...)
		b = appendString(b, st.Name)
		b = append(b, `,"reason":`...)
		b = appendString(b, Reason(st.Err))
		b = append(b, `,"error":`...)
		b = appendString(b, st.Err.Error())
		b = append(b, `,"latency_ms":`...)
		b = appendMS(b, st.Latency)
		if u, ok := spentBy(st.Err); ok && rt.llm(r.Index) {
			p := rt.part(r, st.Name, u, true)
			b = appendUsage(b, p.Usage, p.CostUSD, p.Priced)
		}
		b = append(b, '}')
	}
	return append(b, ']')
}

// appendNames writes field (which opens a list) with names, unless there
// are none.
func appendNames(b []byte, field string, names []string) []byte {
	if len(names) == 0 {
		return b
	}
	b = append(b, field...)
	for k, n := range names {
		if k > 0 {
			b = append(b, ',')
		}
		b = appendString(b, n)
	}
	return append(b, ']')
}

// AppendStart appends the data of a stream's start event for a source
// that has just started: {"name":…,"start_ms":…}.
func AppendStart(b []byte, r *fanout.Result[json.RawMessage]) []byte {
	b = append(b, `{"name":`...)
	b = appendString(b, r.Name)
	b = append(b, `,"start_ms":`...)
	b = appendMS(b, r.Start)
	return append(b, '}')
}

// appendMS writes d in milliseconds with microsecond precision.
func appendMS(b []byte, d time.Duration) []byte {
	return strconv.AppendFloat(b, math.Round(float64(d)/1e3)/1e3, 'f', -1, 64)
}

const hex = "0123456789abcdef"

// appendString writes s as a JSON string. Invalid UTF-8 becomes U+FFFD, as
// encoding/json does, so that the document stays valid whatever an upstream
// error said.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, `\u202`...)
			b = append(b, hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
