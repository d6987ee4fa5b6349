package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Ratio is a fraction from 0 to 1, written as a number (0.05) or a
// percentage ("5%").
type Ratio float64

// UnmarshalText parses 0.05 or 5%.
func (r *Ratio) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	scale := 1.0
	if p, ok := strings.CutSuffix(s, "%"); ok {
		s, scale = strings.TrimSpace(p), 100
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || !(v/scale >= 0 && v/scale <= 1) { // written so that NaN fails too
		return fmt.Errorf("want a fraction from 0 to 1 or a percentage such as 5%%, got %q", b)
	}
	*r = Ratio(v / scale)
	return nil
}

// MarshalText writes the ratio as a number.
func (r Ratio) MarshalText() ([]byte, error) {
	return strconv.AppendFloat(nil, float64(r), 'g', -1, 64), nil
}

// HedgeDelay is when a hedge is sent: a fixed duration ("60ms") or a
// percentile of the source's observed latency ("p95").
type HedgeDelay struct {
	Fixed      time.Duration
	Percentile float64
}

// UnmarshalText parses 60ms or p95.
func (h *HedgeDelay) UnmarshalText(b []byte) error {
	s := string(b)
	if p, ok := strings.CutPrefix(s, "p"); ok {
		v, err := strconv.ParseFloat(p, 64)
		if err != nil || !(v > 0 && v < 100) { // NaN too: strconv reads "NaN"
			return fmt.Errorf("want a percentile from p1 to p99.9, got %q", s)
		}
		*h = HedgeDelay{Percentile: v}
		return nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return fmt.Errorf("want a positive duration (60ms) or a percentile of observed latency (p95), got %q", s)
	}
	*h = HedgeDelay{Fixed: d}
	return nil
}

// MarshalText writes the delay the way UnmarshalText reads it.
func (h HedgeDelay) MarshalText() ([]byte, error) {
	if h.Percentile > 0 {
		return []byte("p" + strconv.FormatFloat(h.Percentile, 'g', -1, 64)), nil
	}
	return []byte(h.Fixed.String()), nil
}

// Retry configures retries of a source's failed calls.
type Retry struct {
	// Attempts is the most calls made, the first included; 1 means no retry.
	Attempts int `yaml:"attempts"`
	// Backoff is the ceiling of the first wait (a random wait up to it),
	// doubling for each retry up to max_backoff. Default 50ms.
	Backoff Duration `yaml:"backoff"`
	// MaxBackoff caps the ceiling of a wait. Default 1s.
	MaxBackoff Duration `yaml:"max_backoff"`
}

// Hedge configures hedged requests. A scalar stands for its Delay alone
// (hedge: 60ms).
type Hedge struct {
	// Delay is when the hedge is sent.
	Delay HedgeDelay `yaml:"delay"`
	// MaxExtra caps hedges as a fraction of calls. Default 5%.
	MaxExtra Ratio `yaml:"max_extra"`
}

// Breaker configures a circuit breaker.
type Breaker struct {
	// Failures in a row that open it; 0 turns the breaker off.
	Failures int `yaml:"failures"`
	// Cooldown is how long it stays open before a probe.
	Cooldown Duration `yaml:"cooldown"`
}

// Cache configures a source's answer cache.
type Cache struct {
	// TTL is how long an answer is kept. Required.
	TTL Duration `yaml:"ttl"`
	// MaxBytes bounds the answers this source's cache holds. Default: an
	// even share of what cache_max_bytes leaves to the sources that set
	// none.
	MaxBytes ByteSize `yaml:"max_bytes"`
}

// Tail gives a mock source a heavy tail: Rate of calls take Latency.
type Tail struct {
	// Rate is the fraction of calls in the tail.
	Rate Ratio `yaml:"rate"`
	// Latency is how long a call in the tail takes.
	Latency Duration `yaml:"latency"`
}

// Admission bounds the requests the server works on at once, so a surge is
// shed with 503 at the door instead of slowing every request down.
type Admission struct {
	// MaxInflight is how many requests run at once. Default 2048.
	MaxInflight int `yaml:"max_inflight"`
	// Queue is how many more may wait for a free place, for at most
	// queue_timeout; past either, 503 with Retry-After. Default 512.
	Queue int `yaml:"queue"`
	// QueueTimeout is how long a request may wait in the queue. Default
	// 20ms.
	QueueTimeout Duration `yaml:"queue_timeout"`
	// RetryAfter is the wait a shed request is told to take, rounded up to
	// whole seconds. Default 2s.
	RetryAfter Duration `yaml:"retry_after"`
}

// ByteSize is a number of bytes, written as a number (1048576) or with a
// binary unit: 512KiB, 16MiB, 1GiB.
type ByteSize int64

// UnmarshalText parses 16MiB or 1048576.
func (b *ByteSize) UnmarshalText(text []byte) error {
	s := strings.TrimSpace(string(text))
	scale := int64(1)
	for _, u := range []struct {
		suffix string
		scale  int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"B", 1}} {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			s, scale = strings.TrimSpace(n), u.scale
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > (1<<50)/scale {
		return fmt.Errorf("want a size in bytes such as 1048576, 512KiB, 16MiB or 1GiB, got %q", text)
	}
	*b = ByteSize(n * scale)
	return nil
}

// MarshalText writes the size in bytes.
func (b ByteSize) MarshalText() ([]byte, error) { return strconv.AppendInt(nil, int64(b), 10), nil }
