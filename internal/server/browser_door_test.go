package server

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/openai/openai-go/v3"
)

// The page's Door tab shows what went through the front door as it
// happened: a stream running on its provider's lane while it runs, a
// request that failed over with the reason and the provider that answered
// (the one the SDK's answer names), a hedge marked, and the counts of
// what was sent.
func TestThePageShowsTheDoorsTraffic(t *testing.T) {
	up := mockUpstream(t)
	front := httptest.NewServer(newServer(t, fmt.Sprintf(`
sources:
  down: {kind: openai, base_url: "%[1]s/openai/v1?failure_status=503", model: popy-1}
  slow: {kind: openai, base_url: "%[1]s/openai/v1?first_token=5s", model: popy-1}
  an:   {kind: anthropic, base_url: "%[1]s/anthropic?token_delay=1ms", model: claude-mock}
  long: {kind: anthropic, base_url: "%[1]s/anthropic?token_delay=1s", model: claude-mock}
models:
  steady: {use: [down, an]}
  hedged: {use: [slow, an], failover_hedge: 200ms}
  held:   {use: [long]}
`, up)))
	defer front.Close()
	client := openAIClient(front.URL)
	ask := []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hi there")}

	var steady *http.Response
	if _, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "steady", Messages: ask},
		withResponse(&steady)); err != nil {
		t.Fatal(err)
	}
	var hedged *http.Response
	stream := client.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{Model: "hedged", Messages: ask},
		withResponse(&hedged))
	defer stream.Close() // an SDK stream that ends in an error is the caller's to close
	for stream.Next() {
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}

	// A stream held open while the page looks: its first chunk read, the
	// rest coming a second apart.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, front.URL+"/v1/chat/completions",
		strings.NewReader(`{"model":"held","stream":true,"messages":[{"role":"user","content":"Hi there"}]}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if _, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil {
		t.Fatal(err)
	}

	b := newTab(t, 1000, 1000)
	b.do("load the page", chromedp.Navigate(front.URL+"/"), chromedp.WaitVisible(chromedp.CSS(`body[data-ready="1"]`)))
	b.do("open the door", chromedp.Click(chromedp.CSS(`#tab-door`)))
	held := `#door-models [data-model=held] [data-source=long]`
	b.poll("the held stream running on its lane", `document.querySelector('`+held+`')?.dataset.inFlight === '1'`)
	b.shot("tab-door")
	if cls := b.attr(held, "class"); !strings.Contains(cls, "running") {
		t.Errorf("the held stream's lane is %q, not running", cls)
	}
	for _, stat := range []string{"in_flight", "requests"} {
		if got := b.text(`#door-models [data-model=held] [data-stat=` + stat + `] dd`); got != "1" {
			t.Errorf("the held model shows %s %s, want 1", stat, got)
		}
	}
	// Its lanes in the order the model uses them.
	lanes := eval[[]string](b, `[...document.querySelectorAll('#door-models [data-model=steady] [data-source]')].map(e => e.dataset.source)`)
	if strings.Join(lanes, ",") != "down,an" {
		t.Errorf("steady's lanes shown as %v, want down then an", lanes)
	}

	rows := eval[[]map[string]string](b, `[...document.querySelectorAll('#door-rows tr')].map(tr =>
		Object.fromEntries([...tr.querySelectorAll('td')].map(td => [td.dataset.label, td.textContent])))`)
	if len(rows) != 2 {
		t.Fatalf("the page lists %d requests, want the 2 finished: %v", len(rows), rows)
	}
	// Newest first: the hedged stream, then the one that failed over.
	if r := rows[1]; r["Model"] != "steady" || r["Served by"] != steady.Header.Get("X-Highway-Provider") ||
		r["Path"] != "down (5xx) → an" || !strings.HasPrefix(r["Status"], "200") {
		t.Errorf("the failed-over request shows %v; the SDK was answered by %s", r, steady.Header.Get("X-Highway-Provider"))
	}
	if r := rows[0]; r["Model"] != "hedged (stream)" || r["Served by"] != hedged.Header.Get("X-Highway-Provider") ||
		!strings.Contains(r["Path"], "hedged") || r["First token"] == "–" {
		t.Errorf("the hedged request shows %v; the SDK was answered by %s", r, hedged.Header.Get("X-Highway-Provider"))
	}
	for model, want := range map[string]map[string]string{
		"steady": {"requests": "1", "failed_over": "1", "hedged": "0", "failed": "0"},
		"hedged": {"requests": "1", "failed_over": "0", "hedged": "1", "failed": "0"},
	} {
		for stat, n := range want {
			if got := b.text(`#door-models [data-model=` + model + `] [data-stat=` + stat + `] dd`); got != n {
				t.Errorf("%s shows %s %s, want %s", model, stat, got, n)
			}
		}
	}

	// The client lets the held stream go: its lane empties, and the
	// request is listed.
	cancel()
	b.poll("the held lane empty", `document.querySelector('`+held+`')?.dataset.inFlight === '0'`)
	b.poll("the held request listed", `document.querySelectorAll('#door-rows tr').length === 3`)
	if errs := b.consoleErrors(); len(errs) > 0 {
		t.Errorf("console: %v", errs)
	}
}
