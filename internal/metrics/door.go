package metrics

import (
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/citypopy/highway/internal/report"
)

// door are the front door's instruments, registered with its first
// request, so that a config without models shows none. Every label comes
// from the config (the model asked, the source that answered, the client
// key's name), never from what a client sent.
type door struct {
	once       sync.Once
	requests   *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	firstToken *prometheus.HistogramVec
	speed      *prometheus.HistogramVec
	tokens     *prometheus.CounterVec
	cost       *prometheus.CounterVec
}

// DoorPart is what one provider spent of a door request.
type DoorPart struct {
	Source  string
	Model   string // the provider's model
	Usage   report.Usage
	CostUSD float64
}

// Door records one request to the front door: for model ("" for none
// known), answered by provider ("" for none) for client ("" for no key),
// with status after took, its first token after firstToken (0: none), and
// what each provider spent.
func (m *Metrics) Door(model, provider, client string, status int, took, firstToken time.Duration, parts []DoorPart) {
	d := &m.door
	d.once.Do(func() {
		d.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "highway_door_requests_total",
			Help: "Front door requests, by model asked, provider (source) that answered, client and status code."},
			[]string{"model", "provider", "client", "code"})
		d.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "highway_door_duration_seconds",
			Help: "Time to answer a front door request, streams to their end, by model.", Buckets: buckets}, []string{"model"})
		d.firstToken = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "highway_door_first_token_seconds",
			Help: "Time until a front door answer began (its first text or tool call), failovers and hedges included, by model and provider.", Buckets: buckets},
			[]string{"model", "provider"})
		d.speed = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "highway_door_output_tokens_per_second",
			Help:    "Output tokens per second of a front door answer after its first token, by model and provider.",
			Buckets: []float64{5, 10, 20, 40, 80, 160, 320, 640}}, []string{"model", "provider"})
		d.tokens = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "highway_door_tokens_total",
			Help: "Tokens of front door answers as providers counted them, by model, provider (source), client and direction; failed attempts that spent included."},
			[]string{"model", "provider", "client", "direction"})
		d.cost = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "highway_door_cost_usd_total",
			Help: "What front door answers cost in US dollars at their providers' prices, by model, provider (source) and client; a hedge's loser and a cut stream included, cached answers free."},
			[]string{"model", "provider", "client"})
		m.reg.MustRegister(d.requests, d.duration, d.firstToken, d.speed, d.tokens, d.cost)
	})
	model, provider, client = orNone(model), orNone(provider), orNone(client)
	d.requests.WithLabelValues(model, provider, client, strconv.Itoa(status)).Inc()
	d.duration.WithLabelValues(model).Observe(took.Seconds())
	if firstToken > 0 {
		d.firstToken.WithLabelValues(model, provider).Observe(firstToken.Seconds())
	}
	for _, p := range parts {
		d.tokens.WithLabelValues(model, p.Source, client, "input").Add(float64(p.Usage.InputTokens))
		d.tokens.WithLabelValues(model, p.Source, client, "output").Add(float64(p.Usage.OutputTokens))
		if p.CostUSD > 0 {
			d.cost.WithLabelValues(model, p.Source, client).Add(p.CostUSD)
		}
		if p.Source == provider && firstToken > 0 && took > firstToken && p.Usage.OutputTokens > 1 {
			d.speed.WithLabelValues(model, provider).Observe(float64(p.Usage.OutputTokens) / (took - firstToken).Seconds())
		}
	}
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
