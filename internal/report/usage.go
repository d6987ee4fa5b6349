package report

import (
	"encoding/json"
	"math"
	"strconv"
)

// Usage is an LLM answer's tokens, the same for every provider.
type Usage struct {
	InputTokens  int  `json:"input_tokens"`
	OutputTokens int  `json:"output_tokens"`
	Estimated    bool `json:"estimated,omitempty"` // counted from what arrived: the provider gave none
}

// Price is what an LLM source's tokens cost, in US dollars per million.
type Price struct {
	InputPerMTok, OutputPerMTok float64
}

// Cost is what u costs at p, in US dollars.
func (p *Price) Cost(u Usage) float64 {
	return (float64(u.InputTokens)*p.InputPerMTok + float64(u.OutputTokens)*p.OutputPerMTok) / 1e6
}

// UsageOf reads the usage in an LLM source's answer ({"usage": ...}):
// OpenAI's prompt_tokens and completion_tokens, or input_tokens and
// output_tokens (Anthropic's, and Highway's estimate); ok is false when
// the answer has none.
func UsageOf(data json.RawMessage) (Usage, bool) {
	var a struct {
		Usage *struct {
			Prompt     *int `json:"prompt_tokens"`
			Completion *int `json:"completion_tokens"`
			Input      *int `json:"input_tokens"`
			Output     *int `json:"output_tokens"`
			Estimated  bool `json:"estimated"`
		} `json:"usage"`
	}
	if json.Unmarshal(data, &a) != nil || a.Usage == nil {
		return Usage{}, false
	}
	u := Usage{Estimated: a.Usage.Estimated}
	for _, f := range []struct {
		dst      *int
		one, two *int
	}{{&u.InputTokens, a.Usage.Input, a.Usage.Prompt}, {&u.OutputTokens, a.Usage.Output, a.Usage.Completion}} {
		switch {
		case f.one != nil:
			*f.dst = *f.one
		case f.two != nil:
			*f.dst = *f.two
		}
	}
	return u, true
}

// appendUsage writes ,"usage":{...} and, with a price, ,"cost_usd":N.
func appendUsage(b []byte, u Usage, cost float64, priced bool) []byte {
	b = append(b, `,"usage":{"input_tokens":`...)
	b = strconv.AppendInt(b, int64(u.InputTokens), 10)
	b = append(b, `,"output_tokens":`...)
	b = strconv.AppendInt(b, int64(u.OutputTokens), 10)
	if u.Estimated {
		b = append(b, `,"estimated":true`...)
	}
	b = append(b, '}')
	if priced {
		b = append(b, `,"cost_usd":`...)
		b = strconv.AppendFloat(b, math.Round(cost*1e12)/1e12, 'f', -1, 64) // to a millionth of a micro-dollar
	}
	return b
}
