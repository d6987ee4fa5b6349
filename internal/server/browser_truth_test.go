package server

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/citypopy/highway/internal/config"
	"github.com/citypopy/highway/internal/dashboard"
)

// TestDashboardNumbersAreTrue checks what the page shows on the default
// city against what happened: a single lane moves one lane at a time; the
// slowest lane ends at the end of its track; the race's ratio is the
// highway's real one, its time what six parallel requests from Go take;
// no tab scrolls sideways on a 390 px phone; and the console stays clean,
// with no request to any other host.
func TestDashboardNumbersAreTrue(t *testing.T) {
	llm := fakeProviders(t) // the default city's chat lane talks to it
	cfg, err := config.LoadEnv("", config.Vars(map[string]string{"HIGHWAY_MOCK_ADDR": strings.TrimPrefix(llm.URL, "http://")}))
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	srv := httptest.NewServer(s)
	defer srv.Close()
	b := newTab(t, 1000, 1000)
	b.do("load the page", chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(chromedp.CSS(`body[data-ready="1"]`)))

	// The single lane: never more than one lane running at once, each
	// starting after the last ended.
	eval[bool](b, `window.maxRunning = 0; setInterval(() => { window.maxRunning = Math.max(window.maxRunning, document.querySelectorAll('.lane.running').length) }, 5); true`)
	b.do("run the single lane", chromedp.Click(chromedp.CSS(`input[name=mode][value=sequential]`)), chromedp.Click(chromedp.CSS(`#run-lanes`)),
		chromedp.WaitVisible(chromedp.CSS(`#total-sequential[data-ms]`)))
	if n := eval[int](b, `window.maxRunning`); n != 1 {
		t.Errorf("%d lanes ran at once in the single lane", n)
	}
	spans := eval[[][2]float64](b, `[...document.querySelectorAll('.lane')].map(l => [+l.dataset.start, +l.dataset.end])`)
	sort.Slice(spans, func(i, j int) bool { return spans[i][0] < spans[j][0] })
	for i := 1; i < len(spans); i++ {
		if spans[i][0] < spans[i-1][1]-1 {
			t.Errorf("single lane drawn overlapping: %v", spans)
		}
	}
	if focused := eval[string](b, `document.activeElement.id`); focused != "run-lanes" {
		t.Errorf("focus after the run is on %q, want the Run button", focused)
	}

	// The highway: the slowest lane's car ends where its track ends.
	b.do("run the highway", chromedp.Click(chromedp.CSS(`input[name=mode][value=concurrent]`)), chromedp.Click(chromedp.CSS(`#run-lanes`)),
		chromedp.WaitVisible(chromedp.CSS(`#total-concurrent[data-ms]`)))
	time.Sleep(100 * time.Millisecond) // a few animation frames: the end must stay put
	b.shot("tab-lanes")
	gap := eval[float64](b, `(() => { const l = document.querySelector('.lane.slowest');
		return l.querySelector('.track').getBoundingClientRect().right - l.querySelector('.car').getBoundingClientRect().right })()`)
	if gap < -1 || gap > 1.5 {
		t.Errorf("the slowest lane ends %.1f px before the end of its track", gap)
	}

	// Both runs stacked on one time axis: the highway's bar ends where its
	// total falls on the single lane's scale.
	cmp := eval[map[string]float64](b, `(() => {
		const g = (m) => document.querySelector('#compare .group[data-mode=' + m + ']');
		const end = (m) => Math.max(...[...g(m).querySelectorAll('.car')].map(c => c.getBoundingClientRect().right));
		const track = g('sequential').querySelector('.track').getBoundingClientRect();
		return {seq: +g('sequential').dataset.total, con: +g('concurrent').dataset.total,
			seqEnd: (end('sequential') - track.left) / track.width, conEnd: (end('concurrent') - track.left) / track.width};
	})()`)
	if want := cmp["con"] / cmp["seq"]; cmp["seqEnd"] < 0.98 || cmp["conEnd"] < want-0.02 || cmp["conEnd"] > want+0.02 {
		t.Errorf("one time axis: the single lane ends at %.2f, the highway at %.2f of the track; want 1 and %.2f", cmp["seqEnd"], cmp["conEnd"], want)
	}

	// The Go snippet's keywords explain themselves to the keyboard.
	b.do("focus the select keyword", chromedp.Focus(chromedp.CSS(`#code .kw[data-kw=select]`)))
	if tip := b.text(`#code-tip`); !strings.Contains(tip, "ctx.Done()") {
		t.Errorf("focusing select says %q", tip)
	}

	// What is await: the deaf district is cut off at its deadline while
	// the others land, and marked abandoned; the polite one just stops.
	for _, c := range []struct{ context, abandoned string }{{"ignored", "1"}, {"honoured", "0"}} {
		b.do("run the await demonstration, context "+c.context, chromedp.Click(chromedp.CSS(`#await summary`)),
			chromedp.Click(chromedp.CSS(`input[name=await-context][value=`+c.context+`]`)), chromedp.Click(chromedp.CSS(`#run-await`)))
		b.poll("the chat district to be judged", `document.querySelector('#await-chat')?.dataset.abandoned !== undefined`)
		got := eval[map[string]string](b, `({abandoned: document.querySelector('#await-chat').dataset.abandoned,
			weather: document.querySelector('#await-weather').className, end: document.querySelector('#await-chat .ms').textContent})`)
		if got["abandoned"] != c.abandoned || got["weather"] != "lane ok" {
			t.Errorf("await, context %s: %v", c.context, got)
		}
		b.do("close it", chromedp.Click(chromedp.CSS(`#await summary`)))
	}

	// A bad lane count is refused with a message, not run as something else.
	b.do("ask for abc lanes", chromedp.Click(chromedp.CSS(`input[name=mode][value=lanes]`)),
		chromedp.SetValue(chromedp.CSS(`#lane-count`), "abc"), chromedp.Click(chromedp.CSS(`#run-lanes`)))
	if st := b.text(`#lanes-status`); !strings.Contains(st, "whole number") {
		t.Errorf("lanes=abc: status %q", st)
	}

	// The race against six parallel requests from Go.
	b.do("run the race", chromedp.Click(chromedp.CSS(`#tab-race`)), chromedp.SetValue(chromedp.CSS(`#race-route`), "/city-report"),
		chromedp.Click(chromedp.CSS(`#run-race`)))
	b.poll("the race to end", `document.getElementById('race-winner').dataset.winner !== undefined`)
	ratio, _ := strconv.ParseFloat(b.attr(`#race-winner`, "data-ratio"), 64)
	async, _ := strconv.ParseFloat(b.attr(`#async-time`, "data-ms"), 64)
	if winner := b.attr(`#race-winner`, "data-winner"); winner != "Async Highway" || ratio < 8 {
		t.Errorf("race: %s by %.1fx, want the highway by 8x or more (%s)", winner, ratio, b.text(`#race-winner`))
	}
	direct := sixAtOnce(t, srv.URL+"/city-report?mode=concurrent")
	t.Logf("race on the page: %s; six parallel requests from Go: %v", b.text(`#race-winner`), direct)
	b.shot("tab-race")
	if d := async - float64(direct.Milliseconds()); d > 150+0.25*float64(direct.Milliseconds()) || d < -100 {
		t.Errorf("the page's highway took %.0f ms, six parallel requests from Go %v", async, direct)
	}

	// The seed's 1,000 users, from the page, on the default city.
	before := requestsServed(t, srv.URL)
	b.do("start the 1,000-user surge", chromedp.Click(chromedp.CSS(`#tab-surge`)), chromedp.SetValue(chromedp.CSS(`#surge-route`), "/city-report"),
		chromedp.SetValue(chromedp.CSS(`#surge-users`), "1000"), chromedp.SetValue(chromedp.CSS(`#surge-seconds`), "3"),
		chromedp.Click(chromedp.CSS(`#run-surge`)))
	b.poll("the surge to end", `document.getElementById('surge-chart').dataset.final === "1"`)
	served := requestsServed(t, srv.URL) - before
	chart := eval[map[string]string](b, `({...document.getElementById('surge-chart').dataset, inflight: document.getElementById('surge-inflight').textContent})`)
	requests, _ := strconv.Atoi(chart["requests"])
	t.Logf("surge of 1,000 users from the page: %s; the server answered %d", b.text(`#surge-status`), served)
	b.shot("tab-surge")
	b.do("open the health", chromedp.Click(chromedp.CSS(`#tab-health`)))
	b.poll("a row per source", `document.querySelectorAll('#health-rows tr').length === `+strconv.Itoa(len(s.upstreams)))
	b.shot("tab-health")
	cells := eval[map[string]string](b, `({imageP50: document.querySelector('tr[data-source=image] td[data-label=p50]').textContent,
		searchP50: document.querySelector('tr[data-source=search] td[data-label=p50]').textContent,
		imageErrors: document.querySelector('tr[data-source=image] td[data-label="Recent errors"]').textContent})`)
	var health struct {
		Sources []struct {
			Name  string   `json:"name"`
			P50MS *float64 `json:"p50_ms"`
		} `json:"sources"`
	}
	resp, err := http.Get(srv.URL + dashboard.SourcesPath)
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&health)
	resp.Body.Close()
	for _, src := range health.Sources {
		if src.Name == "image" && (src.P50MS == nil || !strings.HasPrefix(cells["imageP50"], strconv.FormatFloat(*src.P50MS, 'f', 1, 64))) {
			t.Errorf("health shows image's p50 as %q, the server says %v", cells["imageP50"], src.P50MS)
		}
	}
	if !strings.Contains(cells["searchP50"], "of 20 calls") || !strings.Contains(cells["imageErrors"], "0% of the last 100") {
		t.Errorf("health cells: %v", cells)
	}
	if last, _ := strconv.ParseFloat(chart["lastElapsed"], 64); last < 2.9 || chart["inflight"] != "0" {
		t.Errorf("surge chart: %v; want it drawn to the end of the 3 seconds, and nothing in flight after", chart)
	}
	// The page's count is the users' answers; the server also counted
	// those cut off when the surge ended, at most one per user.
	if served == 0 || served < requests || served > requests+1000 {
		t.Errorf("the page counted %d answers, the server %d", requests, served)
	}

	// A 390 px phone: no tab scrolls sideways.
	b.do("become a phone", chromedp.EmulateViewport(390, 844))
	for _, tab := range []string{"lanes", "race", "surge", "health"} {
		b.do("open "+tab, chromedp.Click(chromedp.CSS(`#tab-`+tab)))
		if over := eval[int](b, `document.documentElement.scrollWidth - document.documentElement.clientWidth`); over > 0 {
			t.Errorf("tab %s scrolls sideways by %d px at 390 px", tab, over)
		}
		if tab == "surge" {
			b.do("run a short surge on the phone", chromedp.SetValue(chromedp.CSS(`#surge-users`), "10"),
				chromedp.SetValue(chromedp.CSS(`#surge-seconds`), "1"), chromedp.Click(chromedp.CSS(`#run-surge`)))
			b.poll("the phone's surge to end", `document.getElementById('surge-chart').dataset.final === "1"`)
			b.shot("phone-surge")
			if h := eval[float64](b, `document.querySelector('#surge-chart text').getBoundingClientRect().height`); h < 9 {
				t.Errorf("the surge chart's labels are %.1f px tall on a phone", h)
			}
		}
	}

	hosts := eval[[]string](b, `[...performance.getEntriesByType('resource'), ...performance.getEntriesByType('navigation')].map(e => e.name)`)
	for _, h := range hosts {
		if !strings.HasPrefix(h, srv.URL+"/") {
			t.Errorf("the page asked another host: %s", h)
		}
	}
	if errs := b.consoleErrors(); len(errs) > 0 {
		t.Errorf("console errors:\n%s", strings.Join(errs, "\n"))
	}
}

// sixAtOnce is how long six parallel GETs of url take, from Go.
func sixAtOnce(t *testing.T, url string) time.Duration {
	t.Helper()
	var wg sync.WaitGroup
	start := time.Now()
	for range 6 {
		wg.Go(func() {
			resp, err := http.Get(url)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
		})
	}
	wg.Wait()
	return time.Since(start)
}

// requestsServed is the server's count of answered route requests, from
// /metrics.
func requestsServed(t *testing.T, base string) int {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	n := 0.0
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, "highway_requests_total{") && strings.Contains(line, `route="/city-report"`) {
			f := strings.Fields(line)
			v, _ := strconv.ParseFloat(f[len(f)-1], 64)
			n += v
		}
	}
	return int(n)
}
