package report

import (
	"encoding/json"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/citypopy/highway/fanout"
)

// Modes of a gather, as the report names them.
const (
	ModeConcurrent = "concurrent"
	ModeSequential = "sequential"
)

// Append appends the JSON report of rep, served for route in mode, to b;
// optional says which sources (by index) the route marks optional. Each
// source's value must be valid JSON; it is copied as it is.
func Append(b []byte, route, mode string, optional []bool, rep *fanout.Report[json.RawMessage]) []byte {
	b = append(b, `{"route":`...)
	b = appendString(b, route)
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
	for i := range rep.Results {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendResult(b, &rep.Results[i], i < len(optional) && optional[i])
	}
	return append(b, "}}"...)
}

// marks are the policy marks the report names, in the order written.
var marks = []struct {
	mark fanout.Mark
	json string
}{
	{fanout.Hedged, `,"hedged":true`},
	{fanout.HedgeWon, `,"hedge_won":true`},
	{fanout.Coalesced, `,"coalesced":true`},
	{fanout.CacheHit, `,"cached":true`},
}

func appendResult(b []byte, r *fanout.Result[json.RawMessage], optional bool) []byte {
	b = appendString(b, r.Name)
	b = append(b, `:{`...)
	return appendFields(b, r, optional)
}

// AppendSource appends one source's result as a JSON object with its name,
// the body of a streamed "source" event.
func AppendSource(b []byte, r *fanout.Result[json.RawMessage], optional bool) []byte {
	b = append(b, `{"name":`...)
	b = appendString(b, r.Name)
	b = append(b, ',')
	return appendFields(b, r, optional)
}

// appendFields writes a result's fields and closes its object.
func appendFields(b []byte, r *fanout.Result[json.RawMessage], optional bool) []byte {
	if r.Err == nil {
		b = append(b, `"status":"ok"`...)
	} else {
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
	b = strconv.AppendInt(b, int64(r.Attempts), 10)
	if optional {
		b = append(b, `,"optional":true`...)
	}
	if r.Abandoned {
		b = append(b, `,"abandoned":true`...)
	}
	if r.Marks != 0 {
		for _, m := range marks {
			if r.Marks.Has(m.mark) {
				b = append(b, m.json...)
			}
		}
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
