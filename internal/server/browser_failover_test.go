package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// The page shows a lane moving on: a provider slow to its first token
// raced by the next (a failover hedge), and a stream cut mid-way. The
// chat box holds the answering provider's reply and nothing of the
// abandoned stream's: the same reply a direct client gets.
func TestThePageShowsALaneFailingOver(t *testing.T) {
	llm := fakeProviders(t)
	srv := httptest.NewServer(newServer(t, fmt.Sprintf(`
sources:
  slow:   {kind: openai, base_url: "%[1]s/openai/v1?first_token=5s", model: m, user: Say hello to the slow city, stream: true, failover: [claude], failover_hedge: 300ms}
  cut:    {kind: openai, base_url: "%[1]s/openai/v1?fault=cut&token_delay=30ms", model: m, user: Say hello to the cut city, stream: true, failover: [claude]}
  claude: {kind: anthropic, base_url: "%[1]s/anthropic?token_delay=10ms", model: m, user: Say hello to the city, stream: true}
routes:
  - {path: /hedged, sources: [slow]}
  - {path: /cut, sources: [cut]}
`, llm.URL)))
	defer srv.Close()

	b := newTab(t, 1000, 1000)
	b.do("load the page", chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(chromedp.CSS(`body[data-ready="1"]`)))
	for _, c := range []struct{ route, lane, hedged string }{{"/hedged", "slow", "claude"}, {"/cut", "cut", ""}} {
		b.do("run "+c.route, chromedp.SetValue(chromedp.CSS(`#route`), c.route),
			chromedp.Click(chromedp.CSS(`input[name=mode][value=concurrent]`)), chromedp.Click(chromedp.CSS(`#run-lanes`)))
		b.poll(c.route+" to land", `document.querySelector('#lane-`+c.lane+`')?.dataset.status === 'ok'`)
		lane := eval[map[string]string](b, `({...document.querySelector('#lane-`+c.lane+`').dataset,
			info: document.querySelector('#lane-`+c.lane+` .ms').textContent, chat: document.querySelector('#chat').textContent})`)
		want := directReply(t, srv.URL+c.route, c.lane)
		if lane["failovers"] != "1" || lane["hedged"] != c.hedged || !strings.HasSuffix(lane["info"], " by claude") || lane["chat"] != want {
			t.Errorf("%s: the page shows %q, want one failover (hedged to %q), served by claude, and the chat %q", c.route, lane, c.hedged, want)
		}
	}
	if errs := b.consoleErrors(); len(errs) > 0 {
		t.Errorf("console: %v", errs)
	}
}

// directReply is the reply lane's provider gives a direct client of url.
func directReply(t *testing.T, url, lane string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var rep struct {
		Sources map[string]struct {
			ServedBy string `json:"served_by"`
			Data     struct {
				Reply string `json:"reply"`
			} `json:"data"`
		} `json:"sources"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil || rep.Sources[lane].ServedBy != "claude" {
		t.Fatalf("direct: %+v %v", rep, err)
	}
	return rep.Sources[lane].Data.Reply
}
