package server

import (
	"log/slog"

	"github.com/citypopy/highway/internal/config"
	"github.com/citypopy/highway/internal/metrics"
	"github.com/citypopy/highway/internal/shared"
)

// openShared is the Redis store of cfg: prev when it was opened with the
// same redis section (a reload keeps its pool and what it knows of
// Redis's health), a new one otherwise, nil when there is no Redis.
func openShared(cfg config.Redis, prev *shared.Store, logger *slog.Logger, m *metrics.Metrics) *shared.Store {
	if !cfg.On() {
		return nil
	}
	if prev != nil && prev.Config() == cfg {
		return prev
	}
	return shared.Open(cfg, shared.Options{Logger: logger, Up: m.RedisUp, Fallback: m.RedisFallback})
}
