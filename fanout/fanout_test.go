package fanout_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/citypopy/highway/fanout"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// sleeper answers v after d, or the context's error if that comes first.
func sleeper(d time.Duration, v string) fanout.Func[string] {
	return func(ctx context.Context, needs map[string]string) (string, error) {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			return v, nil
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
}

// city is the seed's four districts: image slowest, search fastest.
func city() []fanout.Task[string] {
	return []fanout.Task[string]{
		{Name: "weather", Source: sleeper(300*time.Millisecond, "22°C")},
		{Name: "image", Source: sleeper(800*time.Millisecond, "/img/popy.png")},
		{Name: "chat", Source: sleeper(500*time.Millisecond, "Hello")},
		{Name: "search", Source: sleeper(200*time.Millisecond, "3 hits")},
	}
}

func TestGatherTakesTheSlowestNotTheSum(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rep := fanout.Gather(t.Context(), city(), fanout.Options{})
		if rep.Total != 800*time.Millisecond || rep.Sum != 1800*time.Millisecond {
			t.Fatalf("total %v sum %v, want 800ms and 1.8s", rep.Total, rep.Sum)
		}
		if got := rep.Results[rep.Slowest].Name; got != "image" {
			t.Errorf("slowest = %s, want image", got)
		}
		if !rep.Complete() || rep.Lanes != 4 {
			t.Errorf("complete %v lanes %d", rep.Complete(), rep.Lanes)
		}
		for _, r := range rep.Results {
			if r.Start != 0 || r.Value == "" {
				t.Errorf("%s: start %v value %q", r.Name, r.Start, r.Value)
			}
		}
	})
}

func TestLanesBoundHowManyRunAtOnce(t *testing.T) {
	cases := []struct {
		lanes       int
		total       time.Duration
		path        []string
		starts      []time.Duration
		maxInFlight int32
	}{
		{lanes: 1, total: 1800 * time.Millisecond, path: []string{"weather", "image", "chat", "search"}, starts: []time.Duration{0, 300, 1100, 1600}, maxInFlight: 1},
		{lanes: 2, total: 1000 * time.Millisecond, path: []string{"weather", "chat", "search"}, starts: []time.Duration{0, 0, 300, 800}, maxInFlight: 2},
		{lanes: 0, total: 800 * time.Millisecond, path: []string{"image"}, starts: []time.Duration{0, 0, 0, 0}, maxInFlight: 4},
		{lanes: 9, total: 800 * time.Millisecond, path: []string{"image"}, starts: []time.Duration{0, 0, 0, 0}, maxInFlight: 4},
	}
	for _, c := range cases {
		synctest.Test(t, func(t *testing.T) {
			var now, peak atomic.Int32
			tasks := city()
			for i := range tasks {
				inner := tasks[i].Source
				tasks[i].Source = fanout.Func[string](func(ctx context.Context, needs map[string]string) (string, error) {
					n := now.Add(1)
					for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
					}
					defer now.Add(-1)
					return inner.Fetch(ctx, needs)
				})
			}
			rep := fanout.Gather(t.Context(), tasks, fanout.Options{Lanes: c.lanes})
			if rep.Total != c.total || rep.Sum != 1800*time.Millisecond {
				t.Errorf("lanes %d: total %v sum %v, want %v and 1.8s", c.lanes, rep.Total, rep.Sum, c.total)
			}
			for i, r := range rep.Results {
				if r.Start != c.starts[i]*time.Millisecond {
					t.Errorf("lanes %d: %s started at %v, want %v", c.lanes, r.Name, r.Start, c.starts[i]*time.Millisecond)
				}
			}
			var path []string
			for _, i := range rep.CriticalPath {
				path = append(path, rep.Results[i].Name)
			}
			// With two lanes, image and chat both end at 800ms: search may
			// take the lane either freed.
			tie := c.lanes == 2 && slices.Equal(path, []string{"image", "search"})
			if !slices.Equal(path, c.path) && !tie {
				t.Errorf("lanes %d: critical path %v, want %v", c.lanes, path, c.path)
			}
			for _, i := range rep.CriticalPath {
				if rep.Results[i].Latency() > rep.Results[rep.Slowest].Latency() {
					t.Errorf("lanes %d: slowest is %s, but %s on the critical path is slower", c.lanes, rep.Results[rep.Slowest].Name, rep.Results[i].Name)
				}
			}
			if peak.Load() != c.maxInFlight {
				t.Errorf("lanes %d: %d in flight at once, want %d", c.lanes, peak.Load(), c.maxInFlight)
			}
		})
	}
}

func TestFailingAndPanickingSourcesDoNotSinkTheOthers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		boom := errors.New("upstream on fire")
		tasks := []fanout.Task[string]{
			{Name: "ok", Source: sleeper(100*time.Millisecond, "fine")},
			{Name: "fails", Source: fanout.Func[string](func(context.Context, map[string]string) (string, error) { return "", boom })},
			{Name: "panics", Source: fanout.Func[string](func(context.Context, map[string]string) (string, error) { panic("truck overturned") })},
			{Name: "nil", Source: nil},
		}
		rep := fanout.Gather(t.Context(), tasks, fanout.Options{})
		if rep.Failed() != 3 || rep.Complete() || rep.Results[0].Value != "fine" {
			t.Fatalf("failed %d, ok value %q", rep.Failed(), rep.Results[0].Value)
		}
		if !errors.Is(rep.Results[1].Err, boom) {
			t.Errorf("fails: %v", rep.Results[1].Err)
		}
		var pe *fanout.PanicError
		if !errors.As(rep.Results[2].Err, &pe) || pe.Value != "truck overturned" || len(pe.Stack) == 0 {
			t.Errorf("panics: %v", rep.Results[2].Err)
		}
		if !errors.As(rep.Results[3].Err, &pe) {
			t.Errorf("nil source: %v", rep.Results[3].Err)
		}
		if rep.DeadlineExceeded || rep.Canceled {
			t.Errorf("flags set on plain failures: %+v", rep)
		}
	})
}

func TestTaskTimeoutCutsOffOnlyThatSource(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tasks := city()
		tasks[1].Timeout = 500 * time.Millisecond // image would take 800ms
		rep := fanout.Gather(t.Context(), tasks, fanout.Options{})
		img := rep.Results[1]
		var te *fanout.TimeoutError
		if !errors.As(img.Err, &te) || img.Err.Error() != "timeout after 500ms" || !errors.Is(img.Err, context.DeadlineExceeded) {
			t.Fatalf("image err = %v", img.Err)
		}
		if img.End != 500*time.Millisecond || rep.Total != 500*time.Millisecond {
			t.Errorf("image end %v, total %v; want 500ms", img.End, rep.Total)
		}
		if rep.Failed() != 1 || rep.DeadlineExceeded {
			t.Errorf("failed %d deadline %v", rep.Failed(), rep.DeadlineExceeded)
		}
		if got := rep.Results[rep.Slowest].Name; got != "chat" && got != "image" {
			t.Errorf("slowest %s", got)
		}
	})
}

// stubborn is the seed's time.sleep() pitfall: a source that never looks
// at its context.
func stubborn(d time.Duration) fanout.Func[string] {
	return func(context.Context, map[string]string) (string, error) {
		time.Sleep(d)
		return "late", nil
	}
}

// outwait lets an abandoned stubborn source finish inside the bubble, which
// does not advance its clock once the test body has returned.
func outwait() {
	time.Sleep(2 * time.Hour)
	synctest.Wait()
}

func TestSourceIgnoringItsContextCannotHoldTheReport(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tasks := []fanout.Task[string]{
			{Name: "weather", Source: sleeper(300*time.Millisecond, "22°C")},
			{Name: "stubborn", Source: stubborn(time.Hour)},
		}
		start := time.Now()
		rep := fanout.Gather(t.Context(), tasks, fanout.Options{Timeout: time.Second})
		if waited := time.Since(start); waited > time.Second+fanout.DefaultGrace {
			t.Errorf("Gather returned after %v, want by the 1s deadline plus grace", waited)
		}
		s := rep.Results[1]
		var de *fanout.DeadlineError
		if !errors.As(s.Err, &de) || s.End != time.Second || !s.Abandoned {
			t.Errorf("stubborn: err %v end %v abandoned %v", s.Err, s.End, s.Abandoned)
		}
		if !rep.DeadlineExceeded || rep.Results[0].Err != nil || rep.Total != time.Second {
			t.Errorf("deadline %v weather %v total %v", rep.DeadlineExceeded, rep.Results[0].Err, rep.Total)
		}
		outwait()
	})
}

func TestStubbornSourceFreesItsLaneAtItsTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tasks := []fanout.Task[string]{
			{Name: "stubborn", Source: stubborn(time.Hour), Timeout: 200 * time.Millisecond},
			{Name: "weather", Source: sleeper(300*time.Millisecond, "22°C")},
		}
		rep := fanout.Gather(t.Context(), tasks, fanout.Options{Lanes: 1})
		if w := rep.Results[1]; w.Start != 200*time.Millisecond || w.Err != nil {
			t.Errorf("weather started at %v (err %v), want right after the stubborn source's 200ms timeout", w.Start, w.Err)
		}
		if rep.Total != 500*time.Millisecond || !rep.Results[0].Abandoned {
			t.Errorf("total %v abandoned %v", rep.Total, rep.Results[0].Abandoned)
		}
		outwait()
	})
}

func TestDeadlineInSingleLaneLeavesLaterSourcesNotStarted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tasks := city()
		rep := fanout.Gather(t.Context(), tasks, fanout.Options{Lanes: 1, Timeout: 700 * time.Millisecond})
		var de *fanout.DeadlineError
		var ns *fanout.NotStartedError
		switch {
		case rep.Results[0].Err != nil:
			t.Errorf("weather: %v", rep.Results[0].Err)
		case !errors.As(rep.Results[1].Err, &de) || errors.As(rep.Results[1].Err, &ns):
			t.Errorf("image: %v", rep.Results[1].Err)
		case !errors.As(rep.Results[2].Err, &ns):
			t.Errorf("chat: %v", rep.Results[2].Err)
		case rep.Results[3].Start != 700*time.Millisecond || rep.Results[3].Latency() != 0:
			t.Errorf("search: start %v latency %v", rep.Results[3].Start, rep.Results[3].Latency())
		case !rep.DeadlineExceeded || rep.Total != 700*time.Millisecond:
			t.Errorf("deadline %v total %v", rep.DeadlineExceeded, rep.Total)
		}
		if got := rep.Results[2].Err.Error(); got != "not started: deadline of 700ms exceeded" {
			t.Errorf("chat error text %q", got)
		}
	})
}

func TestCancellingTheContextStopsEverySource(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(100*time.Millisecond, cancel)
		start := time.Now()
		rep := fanout.Gather(ctx, city(), fanout.Options{})
		if waited := time.Since(start); waited != 100*time.Millisecond {
			t.Errorf("returned after %v, want 100ms", waited)
		}
		if !rep.Canceled || rep.DeadlineExceeded || rep.Failed() != 4 {
			t.Fatalf("canceled %v deadline %v failed %d", rep.Canceled, rep.DeadlineExceeded, rep.Failed())
		}
		for _, r := range rep.Results {
			if !errors.Is(r.Err, context.Canceled) || r.Abandoned {
				t.Errorf("%s: %v abandoned %v", r.Name, r.Err, r.Abandoned)
			}
		}
	})
}

func TestResultsArriveInCompletionOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		run := fanout.Start(t.Context(), city(), fanout.Options{})
		var order []string
		var ends []time.Duration
		for r := range run.Results() {
			order = append(order, r.Name)
			ends = append(ends, r.End)
		}
		rep := run.Wait()
		want := []string{"search", "weather", "chat", "image"}
		for i := range want {
			if order[i] != want[i] || (i > 0 && ends[i] < ends[i-1]) {
				t.Fatalf("order %v ends %v, want %v", order, ends, want)
			}
		}
		if rep != run.Wait() || rep.Total != 800*time.Millisecond {
			t.Errorf("second Wait gave a different report or total %v", rep.Total)
		}
	})
}

func TestBreakingOutOfResultsThenWaitCollectsTheRest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		run := fanout.Start(t.Context(), city(), fanout.Options{})
		for r := range run.Results() {
			if r.Name != "search" {
				t.Fatalf("first = %s", r.Name)
			}
			break
		}
		if rep := run.Wait(); !rep.Complete() || rep.Total != 800*time.Millisecond {
			t.Errorf("complete %v total %v", rep.Complete(), rep.Total)
		}
	})
}

func TestEmptyGather(t *testing.T) {
	rep := fanout.Gather[string](t.Context(), nil, fanout.Options{Lanes: 3})
	if rep.Slowest != -1 || rep.Total != 0 || !rep.Complete() {
		t.Errorf("%+v", rep)
	}
}

func TestAlreadyCancelledContextStartsNothing(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	var calls atomic.Int32
	tasks := []fanout.Task[string]{{Name: "x", Source: fanout.Func[string](func(context.Context, map[string]string) (string, error) {
		calls.Add(1)
		return "", nil
	})}}
	rep := fanout.Gather(ctx, tasks, fanout.Options{})
	var ns *fanout.NotStartedError
	if calls.Load() != 0 || !errors.As(rep.Results[0].Err, &ns) || !rep.Canceled {
		t.Errorf("calls %d err %v canceled %v", calls.Load(), rep.Results[0].Err, rep.Canceled)
	}
}

// planned is a Planned source: its answer is known up front.
type planned struct {
	after  time.Duration
	v      string
	err    error
	panics bool
	calls  atomic.Int32
}

func (p *planned) Plan() (string, time.Duration, error) {
	p.calls.Add(1)
	if p.panics {
		panic("planned badly")
	}
	return p.v, p.after, p.err
}

func (p *planned) Fetch(context.Context, map[string]string) (string, error) {
	panic("a gather must not call Fetch on a Planned source")
}

func TestPlannedSourcesLandOnTheGathersOwnTimer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		boom := errors.New("mock failure")
		tasks := []fanout.Task[string]{
			{Name: "weather", Source: &planned{after: 300 * time.Millisecond, v: "22°C"}},
			{Name: "image", Source: &planned{after: 800 * time.Millisecond, v: "/img"}},
			{Name: "chat", Source: sleeper(500*time.Millisecond, "hello")}, // mixed with a goroutine source
			{Name: "now", Source: &planned{v: "at once"}},
			{Name: "fails", Source: &planned{after: 100 * time.Millisecond, err: boom}},
			{Name: "slow", Source: &planned{after: time.Hour, v: "never"}, Timeout: 200 * time.Millisecond},
			{Name: "panics", Source: &planned{panics: true}},
		}
		run := fanout.Start(t.Context(), tasks, fanout.Options{})
		var order []string
		for r := range run.Results() {
			order = append(order, r.Name)
		}
		rep := run.Wait()
		if got := fmt.Sprint(order); got != "[now panics fails slow weather chat image]" {
			t.Errorf("completion order %s", got)
		}
		want := map[string]time.Duration{"weather": 300, "image": 800, "chat": 500, "now": 0, "fails": 100, "slow": 200, "panics": 0}
		for _, r := range rep.Results {
			if r.End != want[r.Name]*time.Millisecond || r.Abandoned {
				t.Errorf("%s: end %v abandoned %v", r.Name, r.End, r.Abandoned)
			}
		}
		var te *fanout.TimeoutError
		var pe *fanout.PanicError
		if !errors.Is(rep.Results[4].Err, boom) || !errors.As(rep.Results[5].Err, &te) || !errors.As(rep.Results[6].Err, &pe) {
			t.Errorf("errors: %v / %v / %v", rep.Results[4].Err, rep.Results[5].Err, rep.Results[6].Err)
		}
		if rep.Total != 800*time.Millisecond || rep.Results[rep.Slowest].Name != "image" {
			t.Errorf("total %v slowest %s", rep.Total, rep.Results[rep.Slowest].Name)
		}
	})
}

func TestPlannedSourcesInASingleLaneAndUnderCancellation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tasks := func() []fanout.Task[string] {
			return []fanout.Task[string]{
				{Name: "a", Source: &planned{after: 300 * time.Millisecond, v: "a"}},
				{Name: "b", Source: &planned{after: 500 * time.Millisecond, v: "b"}},
			}
		}
		rep := fanout.Gather(t.Context(), tasks(), fanout.Options{Lanes: 1})
		if rep.Total != 800*time.Millisecond || rep.Results[1].Start != 300*time.Millisecond {
			t.Errorf("single lane: total %v, b started at %v", rep.Total, rep.Results[1].Start)
		}
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(100*time.Millisecond, cancel)
		rep = fanout.Gather(ctx, tasks(), fanout.Options{})
		if !rep.Canceled || rep.Total != 100*time.Millisecond || !errors.Is(rep.Results[0].Err, context.Canceled) {
			t.Errorf("cancelled: %+v", rep)
		}
	})
}
