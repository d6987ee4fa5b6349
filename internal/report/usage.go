package report

import (
	"math"
	"strconv"

	"github.com/citypopy/highway/source"
)

// Usage is an LLM answer's tokens, the same for every provider, as its
// source typed them.
type Usage = source.Usage

// Price is what an LLM source's tokens cost, in US dollars per million.
type Price struct {
	InputPerMTok, OutputPerMTok float64
}

// Cost is what u costs at p, in US dollars.
func (p *Price) Cost(u Usage) float64 {
	return (float64(u.InputTokens)*p.InputPerMTok + float64(u.OutputTokens)*p.OutputPerMTok) / 1e6
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
