package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// redis are the instruments of the state shared through Redis, registered
// only once a Redis is configured, so that a single Highway shows none.
type redis struct {
	once      sync.Once
	up        prometheus.Gauge
	fallbacks *prometheus.CounterVec
}

func (m *Metrics) redisInstruments() *redis {
	m.redis.once.Do(func() {
		m.redis.up = prometheus.NewGauge(prometheus.GaugeOpts{Name: "highway_redis_up",
			Help: "1 while the shared Redis answers, 0 while the replica serves without it."})
		m.redis.fallbacks = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "highway_redis_fallbacks_total",
			Help: "Operations done without Redis because it did not answer, by feature: rate_limit or cache."}, []string{"feature"})
		for _, f := range []string{"rate_limit", "cache"} {
			m.redis.fallbacks.WithLabelValues(f)
		}
		m.reg.MustRegister(m.redis.up, m.redis.fallbacks)
	})
	return &m.redis
}

// RedisUp records whether the shared Redis answers.
func (m *Metrics) RedisUp(up bool) {
	v := 0.0
	if up {
		v = 1
	}
	m.redisInstruments().up.Set(v)
}

// RedisFallback counts one operation of feature done without Redis.
func (m *Metrics) RedisFallback(feature string) {
	m.redisInstruments().fallbacks.WithLabelValues(feature).Inc()
}
