package cli

import (
	"context"
	"errors"
	"syscall"
	"testing"
)

// TestTerminatedKnowsSIGTERMByItsValue: a serve stopped by SIGTERM
// drains after its delay; one stopped by Ctrl-C, or by any cause whose
// words merely look like SIGTERM's, does not.
func TestTerminatedKnowsSIGTERMByItsValue(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cause error
		want  bool
	}{
		{"SIGTERM", &signalled{Signal: syscall.SIGTERM}, true},
		{"Ctrl-C", &signalled{Signal: syscall.SIGINT}, false},
		{"same words, no signal", errors.New(syscall.SIGTERM.String() + " signal received"), false},
		{"cancelled", context.Canceled, false},
	} {
		ctx, cancel := context.WithCancelCause(t.Context())
		cancel(tc.cause)
		if got := terminated(ctx); got != tc.want {
			t.Errorf("%s: terminated %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestNotifyContextStopsTwiceAndEnds: stop ends the context and may be
// called again (serve calls it from the shutdown hook and on return).
func TestNotifyContextStopsTwiceAndEnds(t *testing.T) {
	ctx, stop := notifyContext(t.Context(), syscall.SIGUSR2)
	stop()
	stop()
	<-ctx.Done()
	var s *signalled
	if errors.As(context.Cause(ctx), &s) {
		t.Errorf("cause %v after stop, want no signal", context.Cause(ctx))
	}
}
