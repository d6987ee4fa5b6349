package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/citypopy/highway/internal/report"
)

// llm are the token and cost counters, registered with the first LLM
// lane's answer, so that a city without one shows none. Every label comes
// from the config (route, source, the configured model, client name).
type llm struct {
	once   sync.Once
	tokens *prometheus.CounterVec
	cost   *prometheus.CounterVec
}

// LLMSpend counts one LLM answer's tokens and, when priced, its cost, by
// route, source, model and client ("" for no key).
func (m *Metrics) LLMSpend(route, source, model, client string, u report.Usage, costUSD float64) {
	m.llm.once.Do(func() {
		m.llm.tokens = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "highway_llm_tokens_total",
			Help: "Tokens of LLM answers, by route, source, configured model, client and direction (input or output); estimated counts included."},
			[]string{"route", "source", "model", "client", "direction"})
		m.llm.cost = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "highway_llm_cost_usd_total",
			Help: "What LLM answers cost in US dollars at their sources' prices, by route, source, configured model and client; cached and coalesced answers cost nothing."},
			[]string{"route", "source", "model", "client"})
		m.reg.MustRegister(m.llm.tokens, m.llm.cost)
	})
	if client == "" {
		client = "(none)"
	}
	m.llm.tokens.WithLabelValues(route, source, model, client, "input").Add(float64(u.InputTokens))
	m.llm.tokens.WithLabelValues(route, source, model, client, "output").Add(float64(u.OutputTokens))
	if costUSD > 0 {
		m.llm.cost.WithLabelValues(route, source, model, client).Add(costUSD)
	}
}
