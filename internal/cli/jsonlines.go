package cli

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
)

// jsonLines is serve's stderr under -log json: each line written to it
// (highway: serving ... on ..., a reload, the shutdown) becomes a record
// of the request log's logger, so that a log pipeline reads every line
// of the process as JSON. A line that says something failed or was
// refused is a warning; the rest are information.
type jsonLines struct {
	logger *slog.Logger
	mu     sync.Mutex
	buf    []byte
}

// Write takes p, a piece of the log, and writes each whole line it completes.
func (j *jsonLines) Write(p []byte) (int, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.buf = append(j.buf, p...)
	for {
		i := bytes.IndexByte(j.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		msg, _ := strings.CutPrefix(string(j.buf[:i]), "highway: ")
		j.buf = j.buf[i+1:]
		level := slog.LevelInfo
		if strings.Contains(msg, "refused") || strings.Contains(msg, "failed") || strings.Contains(msg, "error") || strings.Contains(msg, "invalid") {
			level = slog.LevelWarn
		}
		j.logger.Log(context.Background(), level, msg)
	}
}
