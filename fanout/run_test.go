package fanout_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/citypopy/highway/fanout"
)

// A gather refills its lanes when a task ends, not when its reader comes
// back: with one lane, the second task starts as the first ends, though
// nobody calls Wait for a long while.
func TestAGatherRunsWithoutItsReader(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		run := fanout.Start(t.Context(), []fanout.Task[string]{
			{Name: "first", Source: sleeper(10*time.Millisecond, "a")},
			{Name: "second", Source: sleeper(10*time.Millisecond, "b")},
		}, fanout.Options{Lanes: 1})
		time.Sleep(100 * time.Millisecond)
		rep := run.Wait()
		if s := rep.Results[1].Start; s != 10*time.Millisecond || rep.Total != 20*time.Millisecond {
			t.Errorf("second started at %v, total %v; want 10ms and 20ms", s, rep.Total)
		}
		var order []string
		for r := range run.Results() { // after Wait, Results still yields all of them
			order = append(order, r.Name)
		}
		if len(order) != 2 || order[0] != "first" {
			t.Errorf("results after Wait: %v", order)
		}
	})
}

// context.Cause, in the source and in anything derived from its context,
// tells the source's own timeout from the gather's deadline and from the
// caller leaving.
func TestContextCauseSaysWhyASourceWasStopped(t *testing.T) {
	leaving := errors.New("client left")
	cases := []struct {
		name    string
		timeout time.Duration // the task's
		opt     fanout.Options
		cancel  bool // the caller cancels at 30ms
		is      func(error) bool
	}{
		{"own timeout", 10 * time.Millisecond, fanout.Options{Timeout: 20 * time.Millisecond}, false, isType[*fanout.TimeoutError]},
		{"gather deadline", 50 * time.Millisecond, fanout.Options{Timeout: 20 * time.Millisecond}, false, isType[*fanout.DeadlineError]},
		{"caller leaving", 50 * time.Millisecond, fanout.Options{}, true, func(err error) bool { return err == leaving }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx, cancel := context.WithCancelCause(t.Context())
				defer cancel(nil)
				if c.cancel {
					time.AfterFunc(30*time.Millisecond, func() { cancel(leaving) })
				}
				var seen, derived error
				src := fanout.Func[string](func(ctx context.Context, _ map[string]string) (string, error) {
					child, stop := context.WithCancel(ctx) // as net/http does per call
					defer stop()
					<-child.Done()
					seen, derived = context.Cause(ctx), context.Cause(child)
					return "", child.Err()
				})
				rep := fanout.Gather(ctx, []fanout.Task[string]{{Name: "s", Source: src, Timeout: c.timeout}}, c.opt)
				if !c.is(seen) || !c.is(derived) || !c.is(rep.Results[0].Err) {
					t.Errorf("cause %v, derived %v, result %v", seen, derived, rep.Results[0].Err)
				}
			})
		})
	}
}

func isType[E error](err error) bool {
	_, ok := errors.AsType[E](err)
	return ok
}

// Nobody needs to call Wait: once its last task ends, a gather releases
// the context its tasks ran under, and leaves nothing running.
func TestAGatherEndsWithoutWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var seen context.Context
		fanout.Start(t.Context(), []fanout.Task[string]{
			{Name: "a", Source: fanout.Func[string](func(ctx context.Context, _ map[string]string) (string, error) {
				seen = ctx
				return "a", nil
			})},
			{Name: "b", Source: sleeper(10*time.Millisecond, "b")},
		}, fanout.Options{})
		time.Sleep(20 * time.Millisecond)
		synctest.Wait()
		if seen == nil || seen.Err() != context.Canceled {
			t.Errorf("the tasks' context after the gather ended: %v", seen)
		}
	})
}

// Events says when each task really starts: with one lane, each after the
// last has landed; a task that needs another, after it; a task skipped
// for a failed need lands without a start.
func TestEventsSayWhenEachTaskStarts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		broken := fanout.Func[string](func(ctx context.Context, _ map[string]string) (string, error) {
			time.Sleep(5 * time.Millisecond)
			return "", errors.New("down")
		})
		run := fanout.Start(t.Context(), []fanout.Task[string]{
			{Name: "weather", Source: sleeper(10*time.Millisecond, "sun")},
			{Name: "search", Source: sleeper(20*time.Millisecond, "3 hits")},
			{Name: "brief", Source: sleeper(10*time.Millisecond, "ok"), Needs: []string{"weather"}},
			{Name: "broken", Source: broken},
			{Name: "after-broken", Source: sleeper(time.Millisecond, "never"), Needs: []string{"broken"}},
		}, fanout.Options{Lanes: 1})
		var got []string
		starts := map[string]time.Duration{}
		for e := range run.Events() {
			if e.Started {
				got = append(got, "start "+e.Result.Name)
				starts[e.Result.Name] = e.Result.Start
			} else {
				got = append(got, "land "+e.Result.Name)
				if s, ok := starts[e.Result.Name]; ok && s != e.Result.Start {
					t.Errorf("%s: started at %v by its event, %v by its result", e.Result.Name, s, e.Result.Start)
				}
			}
		}
		want := []string{"start weather", "land weather", "start search", "land search", "start brief", "land brief",
			"start broken", "land broken", "land after-broken"}
		if len(got) != len(want) {
			t.Fatalf("events %v, want %v", got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("events %v, want %v", got, want)
			}
		}
		if starts["search"] != 10*time.Millisecond || starts["brief"] != 30*time.Millisecond {
			t.Errorf("starts %v: one lane, each when the last landed", starts)
		}
	})
}

// A task that ignores its context lands at its timeout and is marked
// Abandoned later, when its grace runs out: reading its result as it
// lands must not race with that mark (go test -race).
func TestReadingAResultRacesNotWithItsAbandonment(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		deaf := fanout.Func[string](func(ctx context.Context, _ map[string]string) (string, error) {
			time.Sleep(time.Second) // deaf to ctx, on purpose
			return "late", nil
		})
		run := fanout.Start(t.Context(), []fanout.Task[string]{{Name: "deaf", Source: deaf, Timeout: 10 * time.Millisecond}}, fanout.Options{})
		for r := range run.Results() {
			time.Sleep(50 * time.Millisecond) // past the grace: the mark is written now
			if r.Name != "deaf" || r.Err == nil {
				t.Errorf("result %+v", r)
			}
		}
		if rep := run.Wait(); !rep.Results[0].Abandoned {
			t.Error("the deaf task was not marked abandoned")
		}
		time.Sleep(time.Second) // let the deaf goroutine end inside the bubble
	})
}
