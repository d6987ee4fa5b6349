package server

import (
	"math"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestDashboardInARealBrowser drives the page at / in Debian's Chromium,
// headless, against a real server: the lanes in both modes, the race, a
// short surge and the health table, read back from the DOM.
func TestDashboardInARealBrowser(t *testing.T) {
	// With client keys on, so that the page's key prompt, and every
	// request after it (the surge's own too), is tried.
	const key = "browser-0123456789abcdef"
	s := newServerEnv(t, `
clients:
  keys: [{name: browser, key: "${BROWSER_KEY}"}]
sources:
  weather: {kind: mock, latency: 20ms, data: {temp: 22}}
  image:   {kind: mock, latency: 90ms, data: {url: /img}}
  chat:    {kind: mock, latency: 50ms, data: {reply: hi}}
  brief:   {kind: mock, latency: 40ms, data: {summary: ok}, needs: [weather]}
routes:
  - {path: /city-report, sources: [weather, image, chat]}
  - {path: /city-brief, sources: [weather, image, brief]}
dashboard: {surge_max_users: 50, surge_max_duration: 5s}
`, map[string]string{"BROWSER_KEY": key}, Options{})
	srv := httptest.NewServer(s)
	defer srv.Close()

	b := newTab(t, 1000, 1000)
	do, attr, text, poll, ctx := b.do, b.attr, b.text, b.poll, b.ctx
	do("load the page", chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(chromedp.CSS(`body[data-ready="1"]`)))
	do("give the key the server asks for", chromedp.WaitVisible(chromedp.CSS(`#key-form`)),
		chromedp.SendKeys(chromedp.CSS(`#key`), key), chromedp.Click(chromedp.CSS(`#key-form button`)))
	poll("the routes, read with the key", `document.querySelectorAll('#route option').length === 2 && document.querySelector('#key-form').hidden`)

	lanes := func(mode string) (total float64, lat []float64) {
		do("run the lanes "+mode,
			chromedp.Click(chromedp.CSS(`input[name=mode][value=`+mode+`]`)),
			chromedp.Click(chromedp.CSS(`#run-lanes`)),
			chromedp.WaitVisible(chromedp.CSS(`#total-`+mode+`[data-ms]`)))
		total, _ = strconv.ParseFloat(attr(`#total-`+mode, "data-ms"), 64)
		lat, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`[...document.querySelectorAll('.lane')].map(l => +l.dataset.latency)`))
		if err != nil {
			t.Fatal(err)
		}
		return total, lat
	}
	seq, seqLat := lanes("sequential")
	con, conLat := lanes("concurrent")
	sum, slowest := 0.0, 0.0
	for _, l := range seqLat {
		sum += l
	}
	for _, l := range conLat {
		slowest = math.Max(slowest, l)
	}
	if len(seqLat) != 3 || math.Abs(seq-sum) > 25 {
		t.Errorf("single lane: total %.1f, lanes %v (sum %.1f): the total should be the sum", seq, seqLat, sum)
	}
	if len(conLat) != 3 || math.Abs(con-slowest) > 25 || con >= seq {
		t.Errorf("highway: total %.1f, lanes %v: the total should be the slowest lane, %.1f", con, conLat, slowest)
	}

	do("run the dependent lanes", chromedp.SetValue(chromedp.CSS(`#route`), "/city-brief"),
		chromedp.Click(chromedp.CSS(`input[name=mode][value=concurrent]`)), chromedp.Click(chromedp.CSS(`#run-lanes`)))
	poll("the brief lane to land", `document.querySelector('#lane-brief')?.dataset.end !== undefined`)
	graph, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]float64](`({weatherEnd: +document.querySelector('#lane-weather').dataset.end,
		briefStart: +document.querySelector('#lane-brief').dataset.start, imageStart: +document.querySelector('#lane-image').dataset.start})`))
	if err != nil || graph["briefStart"] < graph["weatherEnd"] || graph["weatherEnd"] < 15 || graph["imageStart"] > 5 {
		t.Errorf("dependent lanes drawn as %v (%v): brief must start after weather ends, image at once", graph, err)
	}
	do("back to the first route", chromedp.SetValue(chromedp.CSS(`#route`), "/city-report"))

	do("run the race", chromedp.Click(chromedp.CSS(`#tab-race`)), chromedp.Click(chromedp.CSS(`#run-race`)),
		chromedp.WaitVisible(chromedp.CSS(`#race-winner[data-winner]`)))
	if sync, async, winner := text(`#sync-done`), text(`#async-done`), attr(`#race-winner`, "data-winner"); sync != "6" || async != "6" || winner != "Async Highway" {
		t.Errorf("race: sync %s/6, async %s/6, winner %q", sync, async, winner)
	}

	do("start a surge", chromedp.Click(chromedp.CSS(`#tab-surge`)),
		chromedp.SetValue(chromedp.CSS(`#surge-users`), "20"), chromedp.SetValue(chromedp.CSS(`#surge-seconds`), "3"),
		chromedp.Click(chromedp.CSS(`#run-surge`)))
	poll("the surge to end", `document.getElementById('surge-status').textContent.includes('stayed alive')`)
	if n, _ := strconv.Atoi(attr(`#surge-chart`, "data-points")); n < 2 {
		t.Errorf("the surge chart got %d points; status %q", n, text(`#surge-status`))
	}

	do("open the health table", chromedp.Click(chromedp.CSS(`#tab-health`)))
	poll("a row per source", `document.querySelectorAll('#health-rows tr').length === 4`)
	do("back to the lanes", chromedp.Click(chromedp.CSS(`#tab-lanes`)))
	shot := b.shot("dashboard")
	if len(shot) < 10000 {
		t.Errorf("screenshot of %d bytes", len(shot))
	}
}
