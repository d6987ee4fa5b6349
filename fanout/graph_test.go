package fanout_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/citypopy/highway/fanout"
)

const ms = time.Millisecond

// echo answers, after d, its name and the inputs it was given, so a test
// can see what each task read of its needs.
func echo(name string, d time.Duration) fanout.Func[string] {
	return func(ctx context.Context, needs map[string]string) (string, error) {
		keys := make([]string, 0, len(needs))
		for k, v := range needs {
			keys = append(keys, k+"="+v)
		}
		slices.Sort(keys)
		v, err := sleeper(d, name)(ctx, nil)
		if len(keys) > 0 {
			v += "(" + strings.Join(keys, ",") + ")"
		}
		return v, err
	}
}

func failing(d time.Duration) fanout.Func[string] {
	return func(ctx context.Context, needs map[string]string) (string, error) {
		if _, err := sleeper(d, "")(ctx, nil); err != nil {
			return "", err
		}
		return "", errors.New("upstream down")
	}
}

func names(rep *fanout.Report[string], idx []int) []string {
	var out []string
	for _, i := range idx {
		out = append(out, rep.Results[i].Name)
	}
	return out
}

// byName returns the results by task name.
func byName(rep *fanout.Report[string]) map[string]*fanout.Result[string] {
	m := map[string]*fanout.Result[string]{}
	for i := range rep.Results {
		m[rep.Results[i].Name] = &rep.Results[i]
	}
	return m
}

func TestDependentStartsWhenItsLastNeedEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tasks := []fanout.Task[string]{
			{Name: "chat", Source: echo("chat", 500*ms), Needs: []string{"weather", "search"}},
			{Name: "weather", Source: echo("weather", 300*ms)},
			{Name: "search", Source: echo("search", 200*ms)},
			{Name: "image", Source: echo("image", 700*ms)},
		}
		rep := fanout.Gather(t.Context(), tasks, fanout.Options{})
		r := byName(rep)
		if r["chat"].Start != 300*ms || r["chat"].End != 800*ms {
			t.Errorf("chat ran %v-%v, want 300ms-800ms: right after weather, its last need", r["chat"].Start, r["chat"].End)
		}
		for _, n := range []string{"weather", "search", "image"} {
			if r[n].Start != 0 {
				t.Errorf("%s started at %v; independent lanes start at once", n, r[n].Start)
			}
		}
		if r["chat"].Value != "chat(search=search,weather=weather)" {
			t.Errorf("chat read %q of its needs", r["chat"].Value)
		}
		if rep.Total != 800*ms || !slices.Equal(names(rep, rep.CriticalPath), []string{"weather", "chat"}) {
			t.Errorf("total %v critical path %v, want 800ms [weather chat]", rep.Total, names(rep, rep.CriticalPath))
		}
	})
}

func TestCriticalPathOfChainAndDiamond(t *testing.T) {
	cases := []struct {
		name  string
		tasks []fanout.Task[string]
		total time.Duration
		path  []string
	}{
		{"chain", []fanout.Task[string]{
			{Name: "a", Source: echo("a", 100*ms)},
			{Name: "b", Source: echo("b", 50*ms), Needs: []string{"a"}},
			{Name: "c", Source: echo("c", 10*ms), Needs: []string{"b"}},
			{Name: "side", Source: echo("side", 120*ms)},
		}, 160 * ms, []string{"a", "b", "c"}},
		{"diamond, left arm slower", []fanout.Task[string]{
			{Name: "top", Source: echo("top", 10*ms)},
			{Name: "left", Source: echo("left", 90*ms), Needs: []string{"top"}},
			{Name: "right", Source: echo("right", 40*ms), Needs: []string{"top"}},
			{Name: "bottom", Source: echo("bottom", 20*ms), Needs: []string{"left", "right"}},
		}, 120 * ms, []string{"top", "left", "bottom"}},
		{"diamond, right arm slower", []fanout.Task[string]{
			{Name: "top", Source: echo("top", 10*ms)},
			{Name: "left", Source: echo("left", 30*ms), Needs: []string{"top"}},
			{Name: "right", Source: echo("right", 70*ms), Needs: []string{"top"}},
			{Name: "bottom", Source: echo("bottom", 20*ms), Needs: []string{"left", "right"}},
		}, 100 * ms, []string{"top", "right", "bottom"}},
		{"independent lane slowest", []fanout.Task[string]{
			{Name: "a", Source: echo("a", 10*ms)},
			{Name: "b", Source: echo("b", 10*ms), Needs: []string{"a"}},
			{Name: "slow", Source: echo("slow", 300*ms)},
		}, 300 * ms, []string{"slow"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rep := fanout.Gather(t.Context(), c.tasks, fanout.Options{})
				if got := names(rep, rep.CriticalPath); rep.Total != c.total || !slices.Equal(got, c.path) {
					t.Errorf("total %v path %v, want %v %v", rep.Total, got, c.total, c.path)
				}
				for _, r := range rep.Results {
					for _, need := range c.tasks[r.Index].Needs {
						if n := byName(rep)[need]; r.Start < n.End {
							t.Errorf("%s started at %v, before its need %s ended at %v", r.Name, r.Start, need, n.End)
						}
					}
				}
			})
		})
	}
}

func TestSingleLaneRunsTheGraphInATopologicalOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tasks := []fanout.Task[string]{
			{Name: "chat", Source: echo("chat", 50*ms), Needs: []string{"search"}},
			{Name: "weather", Source: echo("weather", 30*ms)},
			{Name: "search", Source: echo("search", 20*ms)},
		}
		rep := fanout.Gather(t.Context(), tasks, fanout.Options{Lanes: 1})
		var order []string
		for _, i := range rep.CriticalPath {
			order = append(order, rep.Results[i].Name)
		}
		if !slices.Equal(order, []string{"weather", "search", "chat"}) || rep.Total != 100*ms {
			t.Errorf("single lane ran %v in %v, want [weather search chat] in 100ms", order, rep.Total)
		}
		two := fanout.Gather(t.Context(), tasks, fanout.Options{Lanes: 2})
		if r := byName(two); r["chat"].Start != 20*ms || two.Total != 70*ms {
			t.Errorf("two lanes: chat started %v, total %v; want 20ms and 70ms", r["chat"].Start, two.Total)
		}
	})
}

func TestFailedNeedSkipsItsDependentsUnlessTheyHaveAFallback(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		called := false
		tasks := []fanout.Task[string]{
			{Name: "search", Source: failing(40 * ms)},
			{Name: "weather", Source: echo("weather", 10*ms)},
			{Name: "chat", Needs: []string{"search", "weather"}, Source: fanout.Func[string](func(context.Context, map[string]string) (string, error) {
				called = true
				return "", nil
			})},
			{Name: "image", Source: echo("image", 10*ms), Needs: []string{"chat"}},
			{Name: "brief", Source: echo("brief", 10*ms), Needs: []string{"search", "weather"},
				Fallbacks: map[string]string{"search": "no hits"}},
		}
		rep := fanout.Gather(t.Context(), tasks, fanout.Options{})
		r := byName(rep)
		if called {
			t.Error("chat was called though search failed")
		}
		var skip *fanout.SkippedError
		if !errors.As(r["chat"].Err, &skip) || skip.Need != "search" || r["chat"].Start != 40*ms || r["chat"].Latency() != 0 {
			t.Errorf("chat: %v at %v for %v; want skipped for search at 40ms, instantly", r["chat"].Err, r["chat"].Start, r["chat"].Latency())
		}
		if !errors.As(r["image"].Err, &skip) || skip.Need != "chat" || r["image"].Err.Error() != "skipped: need chat was skipped" {
			t.Errorf("image: %v, want skipped because chat was", r["image"].Err)
		}
		if r["brief"].Err != nil || r["brief"].Value != "brief(search=no hits,weather=weather)" || !slices.Equal(r["brief"].Fallbacks, []string{"search"}) {
			t.Errorf("brief: %q %v fallbacks %v, want it run with the search fallback", r["brief"].Value, r["brief"].Err, r["brief"].Fallbacks)
		}
		if !strings.Contains(r["chat"].Err.Error(), "skipped: need search failed: upstream down") {
			t.Errorf("chat's reason: %v", r["chat"].Err)
		}
	})
}

func TestGraphsThatCannotRunAreRefused(t *testing.T) {
	src := echo("x", ms)
	cases := []struct {
		name  string
		tasks []fanout.Task[string]
		want  string
	}{
		{"cycle", []fanout.Task[string]{
			{Name: "a", Source: src, Needs: []string{"b"}},
			{Name: "b", Source: src, Needs: []string{"c"}},
			{Name: "c", Source: src, Needs: []string{"a"}},
		}, "cycle: a → b → c → a"},
		{"self", []fanout.Task[string]{{Name: "a", Source: src, Needs: []string{"a"}}}, "cycle: a → a"},
		{"unknown need", []fanout.Task[string]{{Name: "a", Source: src, Needs: []string{"zz"}}}, `task "a" needs "zz", which is not a task`},
		{"twice", []fanout.Task[string]{{Name: "a", Source: src}, {Name: "a", Source: src, Needs: []string{"a"}}}, `task name "a" is given twice`},
		{"fallback for no need", []fanout.Task[string]{{Name: "a", Source: src}, {Name: "b", Source: src, Needs: []string{"a"}, Fallbacks: map[string]string{"c": ""}}},
			`task "b" has a fallback for "c", which it does not need`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := fanout.Check(c.tasks)
			if err == nil || err.Error() != c.want {
				t.Fatalf("Check: %v, want %q", err, c.want)
			}
			rep := fanout.Gather(context.Background(), c.tasks, fanout.Options{})
			for _, r := range rep.Results {
				if r.Err == nil || r.Err.Error() != c.want || r.Start != 0 || r.End != 0 {
					t.Errorf("%s: %v at %v-%v, want refused with %q before starting", r.Name, r.Err, r.Start, r.End, c.want)
				}
			}
		})
	}
}

func TestCancellingInTheMiddleOfAGraphLeavesNothingRunning(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		tasks := []fanout.Task[string]{
			{Name: "search", Source: echo("search", 100*ms)},
			{Name: "chat", Source: echo("chat", time.Hour), Needs: []string{"search"}},
			{Name: "after", Source: echo("after", ms), Needs: []string{"chat"}},
		}
		time.AfterFunc(150*ms, cancel)
		rep := fanout.Gather(ctx, tasks, fanout.Options{})
		r := byName(rep)
		var ns *fanout.NotStartedError
		if r["search"].Err != nil || !errors.Is(r["chat"].Err, context.Canceled) || !errors.As(r["after"].Err, &ns) {
			t.Errorf("search %v, chat %v, after %v", r["search"].Err, r["chat"].Err, r["after"].Err)
		}
		if !rep.Canceled || rep.Total != 150*ms {
			t.Errorf("canceled %v total %v", rep.Canceled, rep.Total)
		}
		synctest.Wait() // no goroutine of the gather is left: synctest would say
	})
}

func TestPlannedSourcesInAGraph(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tasks := []fanout.Task[string]{
			{Name: "weather", Source: &planned{after: 30 * ms, v: "sun"}},
			{Name: "chat", Source: echo("chat", 20*ms), Needs: []string{"weather"}},
			{Name: "mock", Source: &planned{after: 5 * ms, v: "m"}, Needs: []string{"chat"}},
		}
		run := fanout.Start(t.Context(), tasks, fanout.Options{})
		var order []string
		for r := range run.Results() {
			order = append(order, fmt.Sprintf("%s@%v", r.Name, r.End))
		}
		rep := run.Wait()
		if !slices.Equal(order, []string{"weather@30ms", "chat@50ms", "mock@55ms"}) || rep.Results[1].Value != "chat(weather=sun)" {
			t.Errorf("streamed %v, chat %q", order, rep.Results[1].Value)
		}
	})
}

// BenchmarkGatherFlatVsGraph measures what running four instant sources as
// a graph costs over running them flat: the scheduling alone.
func BenchmarkGatherFlatVsGraph(b *testing.B) {
	instant := fanout.Func[string](func(context.Context, map[string]string) (string, error) { return "v", nil })
	flat := []fanout.Task[string]{{Name: "weather", Source: instant}, {Name: "search", Source: instant},
		{Name: "brief", Source: instant}, {Name: "image", Source: instant}}
	graph := slices.Clone(flat)
	graph[2].Needs = []string{"weather", "search"}
	for _, c := range []struct {
		name  string
		tasks []fanout.Task[string]
	}{{"flat", flat}, {"graph", graph}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				fanout.Gather(context.Background(), c.tasks, fanout.Options{})
			}
		})
	}
}
