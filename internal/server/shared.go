package server

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/citypopy/highway/internal/config"
	"github.com/citypopy/highway/internal/metrics"
	"github.com/citypopy/highway/internal/shared"
)

// openShared is the Redis store of cfg, from reg: the one opened with the
// same redis section before (a reload keeps its pool and what it knows of
// Redis's health), a new one otherwise, nil when there is no Redis.
func openShared(cfg config.Redis, reg *Registry, logger *slog.Logger, m *metrics.Metrics) *shared.Store {
	return reg.store(cfg, func() *shared.Store {
		return shared.Open(cfg, shared.Options{Logger: logger, Up: m.RedisUp, Fallback: m.RedisFallback})
	})
}

// SharedWith says where the server shares client rate limits and caches
// with other replicas, and whether that Redis answers now; "" when it
// shares nothing.
func (s *Server) SharedWith(ctx context.Context) string {
	if s.shared == nil {
		return ""
	}
	cfg := s.shared.Config()
	if err := s.shared.Check(ctx); err != nil {
		return fmt.Sprintf("redis %s does not answer yet (%v): serving without it (on_error: %s) until it does", cfg.Addr, err, cfg.OnError)
	}
	return fmt.Sprintf("sharing client rate limits and caches through redis %s", cfg.Addr)
}
