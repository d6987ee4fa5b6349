package server

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/citypopy/highway/internal/report"
)

// hedgeCity is a chat lane on OpenAI whose first token takes chatFirst,
// hedged after 150ms to Anthropic whose first token takes claudeFirst,
// both priced, served over real sockets.
func hedgeCity(t *testing.T, chatFirst, claudeFirst string) *httptest.Server {
	llm := fakeProviders(t)
	srv := httptest.NewServer(newServer(t, fmt.Sprintf(`
sources:
  chat:   {kind: openai, base_url: "%[1]s/openai/v1?first_token=%[2]s&token_delay=1ms", model: m, user: Say hello to the city, stream: true,
           price: {input_per_mtok: 0.15, output_per_mtok: 0.60}, failover: [claude], failover_hedge: 150ms}
  claude: {kind: anthropic, base_url: "%[1]s/anthropic?first_token=%[3]s&token_delay=1ms", model: m, user: Say hello to the city, stream: true,
           price: {input_per_mtok: 3, output_per_mtok: 15}}
routes: [{path: /chat, sources: [chat]}]
`, llm.URL, chatFirst, claudeFirst)))
	t.Cleanup(func() { srv.Close(); http.DefaultClient.CloseIdleConnections() })
	return srv
}

// getReport asks srv for path over a real connection and decodes the report.
func getReport(t *testing.T, srv *httptest.Server, path string) (*report.Document, time.Duration) {
	t.Helper()
	start := time.Now()
	resp, err := http.Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	d, err := report.Decode(b)
	if err != nil {
		t.Fatalf("%v in %s", err, b)
	}
	return d, time.Since(start)
}

// A provider slow to its first token has the next one started beside it
// once failover_hedge has passed; the first to begin answers, the other
// is cancelled, and the report says both, the loser's cost counted.
func TestAFailoverHedgeAnswersFromTheFirstProviderToBegin(t *testing.T) {
	t.Parallel()
	srv := hedgeCity(t, "1h", "1ms")
	d, _ := getReport(t, srv, "/chat")
	chat := d.Sources.Get("chat")
	if chat.Status != "ok" || chat.ServedBy != "claude" || !chat.Hedged || !chat.HedgeWon || len(chat.Failovers) != 1 {
		t.Fatalf("chat %+v", chat)
	}
	if chat.Attempts != 2 { // and the slow one, an hour from its first token, was not waited for
		t.Errorf("%d attempts: want both providers called", chat.Attempts)
	}
	lost := chat.Failovers[0]
	if lost.Name != "chat" || lost.Reason != report.ReasonHedgeLost || !strings.Contains(lost.Error, "claude began its answer first") ||
		lost.Usage == nil || lost.Usage.InputTokens == 0 || lost.Usage.OutputTokens != 0 || !lost.Usage.Estimated || lost.CostUSD == nil {
		t.Fatalf("the loser: %+v", lost)
	}
	if want := float64(lost.Usage.InputTokens) * 0.15 / 1e6; math.Abs(*lost.CostUSD-want) > 1e-12 {
		t.Errorf("loser's cost %g, want its prompt at chat's price: %g", *lost.CostUSD, want)
	}
	var claude report.Usage // what the answer itself says, priced as Claude
	if err := json.Unmarshal(chat.Data, &struct{ Usage *report.Usage }{&claude}); err != nil || claude.OutputTokens == 0 {
		t.Fatalf("answer %s: %v", chat.Data, err)
	}
	wantCost := *lost.CostUSD + (float64(claude.InputTokens)*3+float64(claude.OutputTokens)*15)/1e6
	if chat.CostUSD == nil || math.Abs(*chat.CostUSD-wantCost) > 1e-12 || chat.Usage.InputTokens != claude.InputTokens+lost.Usage.InputTokens {
		t.Errorf("lane cost %v usage %+v, want both providers': %g", chat.CostUSD, chat.Usage, wantCost)
	}
	if d.CostUSD == nil || *d.CostUSD != *chat.CostUSD {
		t.Errorf("report cost %v", d.CostUSD)
	}
}

// The primary that begins first keeps the lane: the hedge is cancelled
// and named as the loser.
func TestAFailoverHedgeKeepsThePrimaryWhenItBeginsFirst(t *testing.T) {
	t.Parallel()
	srv := hedgeCity(t, "400ms", "5s")
	d, _ := getReport(t, srv, "/chat")
	chat := d.Sources.Get("chat")
	if chat.Status != "ok" || chat.ServedBy != "chat" || !chat.Hedged || chat.HedgeWon || len(chat.Failovers) != 1 ||
		chat.Failovers[0].Name != "claude" || chat.Failovers[0].Reason != report.ReasonHedgeLost {
		t.Errorf("chat %+v", chat)
	}
	// The time chat took to its first token is what a p95 hedge waits on.
	resp, err := http.Get(srv.URL + "/highway/sources")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var health struct {
		Sources []struct {
			Name    string `json:"name"`
			Samples *int   `json:"first_token_samples"`
		} `json:"sources"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&health); err != nil {
		t.Fatal(err)
	}
	for _, h := range health.Sources {
		if want := map[string]int{"chat": 1}[h.Name]; (h.Samples == nil) != (h.Name != "chat") || h.Samples != nil && *h.Samples != want {
			t.Errorf("%s: first_token_samples %v", h.Name, h.Samples)
		}
	}
}

// Streamed, the lane says when the hedge starts, and only the winner's
// tokens are written.
func TestAStreamShowsTheFailoverHedgeAndOnlyTheWinnersTokens(t *testing.T) {
	t.Parallel()
	srv := hedgeCity(t, "1h", "1ms")
	resp, err := http.Get(srv.URL + "/chat?stream=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	events := readEvents(t, resp.Body)
	for _, e := range events {
		switch e.Type {
		case "failover":
			if !strings.Contains(string(e.Data), `"from":"chat","to":"claude","reason":"hedge"`) || !strings.Contains(string(e.Data), `"hedge":true`) {
				t.Errorf("failover event %s", e.Data)
			}
		case "delta":
			if !strings.Contains(string(e.Data), `"name":"claude"`) {
				t.Errorf("a loser's token: %s", e.Data)
			}
		}
	}
	if got := eventTypes(events); !strings.HasPrefix(got, "start failover delta") || !strings.HasSuffix(got, "delta source report") {
		t.Errorf("events: %s", got)
	}
}
