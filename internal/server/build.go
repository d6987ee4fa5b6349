package server

import (
	"fmt"
	"net/http"

	"github.com/citypopy/highway/internal/config"
	"github.com/citypopy/highway/source"
)

// buildSources makes one source per configured source, shared by every
// route that names it.
func buildSources(cfg *config.Config) (map[string]source.Source, error) {
	out := make(map[string]source.Source, len(cfg.Sources))
	for name, sc := range cfg.Sources {
		switch sc.Kind {
		case config.KindMock:
			out[name] = &source.Mock{
				Latency:     sc.Latency.Std(),
				Jitter:      sc.Jitter.Std(),
				FailureRate: sc.FailureRate,
				Data:        sc.Data,
			}
		case config.KindHTTP:
			h := &source.HTTP{Method: sc.Method, URL: sc.URL, MaxBytes: sc.MaxBytes}
			if len(sc.Headers) > 0 {
				h.Header = make(http.Header, len(sc.Headers))
				for k, v := range sc.Headers {
					h.Header.Set(k, v)
				}
			}
			out[name] = h
		default:
			return nil, fmt.Errorf("build source %s: unknown kind %q", name, sc.Kind)
		}
	}
	return out, nil
}
