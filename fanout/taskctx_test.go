package fanout

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

type ctxKey struct{}

func TestTaskContextBehavesLikeAContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		parent := context.WithValue(t.Context(), ctxKey{}, "request-id")
		var seen context.Context
		var derivedErr, cause error
		tasks := []Task[string]{{Name: "slow", Timeout: 100 * time.Millisecond, Source: Func[string](func(ctx context.Context) (string, error) {
			seen = ctx
			child, cancel := context.WithCancel(ctx) // as net/http does per call
			defer cancel()
			<-child.Done()
			derivedErr, cause = child.Err(), Cause(child)
			return "", ctx.Err()
		})}}
		rep := Gather(parent, tasks, Options{})
		var te *TimeoutError
		if !errors.As(rep.Results[0].Err, &te) || !errors.As(cause, &te) || !errors.Is(derivedErr, context.DeadlineExceeded) {
			t.Errorf("result %v, derived %v with cause %v", rep.Results[0].Err, derivedErr, cause)
		}
		if seen.Value(ctxKey{}) != "request-id" || TraceFrom(seen) == nil {
			t.Error("the caller's values or the trace are not visible to the source")
		}
		if d, ok := seen.Deadline(); !ok || d.Sub(time.Now()) > 0 {
			t.Errorf("deadline %v %v", d, ok)
		}
		if context.Cause(seen) == nil || seen.Err() == nil {
			t.Error("an ended task context must say so to context.Cause too")
		}
	})
}

func TestTaskContextAfterFuncStops(t *testing.T) {
	tc := newTaskContext(context.Background(), time.Time{}, nil)
	ran := 0
	stop := tc.AfterFunc(func() { ran++ })
	keep := tc.AfterFunc(func() { ran += 10 })
	if !stop() || stop() {
		t.Error("stop should succeed once")
	}
	tc.cancel(errors.New("done"))
	tc.cancel(errors.New("twice"))
	if ran != 10 || keep() || Cause(tc).Error() != "done" || tc.Err() != context.Canceled {
		t.Errorf("ran %d cause %v err %v", ran, Cause(tc), tc.Err())
	}
	late := make(chan struct{})
	tc.AfterFunc(func() { close(late) })
	<-late // registered after the end: runs at once
}
