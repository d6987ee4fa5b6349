package server

import (
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/citypopy/highway/internal/config"
	"github.com/citypopy/highway/internal/mock"
	"github.com/citypopy/highway/internal/report"
	"github.com/citypopy/highway/internal/surge"
	"github.com/citypopy/highway/internal/upstream"
)

// A lane whose provider fails moves on to the next in its failover list,
// streamed or not; the report says who answered and what failed before.
func TestALaneFailsOverToTheNextProvider(t *testing.T) {
	t.Parallel()
	llm := fakeProviders(t)
	for _, stream := range []bool{false, true} {
		t.Run(fmt.Sprint("stream=", stream), func(t *testing.T) {
			s := newServer(t, fmt.Sprintf(`
sources:
  chat:   {kind: openai, base_url: "%[1]s/openai/v1?failure_status=503", model: m, user: Say hello, stream: %[2]t, failover: [claude, canned]}
  claude: {kind: anthropic, base_url: "%[1]s/anthropic?token_delay=1ms", model: m, user: Say hello, stream: %[2]t}
  canned: {kind: mock, data: {reply: "the city is busy, try later"}}
  broken: {kind: openai, base_url: "%[1]s/openai/v1?failure_status=500", model: m, user: hi, failover: [down]}
  down:   {kind: anthropic, base_url: "%[1]s/anthropic?failure_status=529", model: m, user: hi}
  picky:  {kind: openai, base_url: "%[1]s/openai/v1?failure_status=400", model: m, user: hi, failover: [canned]}
routes:
  - {path: /chat, sources: [chat]}
  - {path: /broken, sources: [broken]}
  - {path: /picky, sources: [picky]}
`, llm.URL, stream))
			code, d, _ := get(t, s, "GET", "/chat")
			chat := d.Sources.Get("chat")
			if code != 200 || chat.Status != "ok" || chat.ServedBy != "claude" || len(chat.Failovers) != 1 ||
				chat.Failovers[0].Name != "chat" || !strings.Contains(chat.Failovers[0].Error, "503") || !strings.Contains(string(chat.Data), "Popy heard") {
				t.Errorf("failover to claude: %d %+v", code, chat)
			}
			code, d, _ = get(t, s, "GET", "/broken")
			broken := d.Sources.Get("broken")
			if code != 502 || broken.Status != "error" || broken.ServedBy != "" || len(broken.Failovers) != 2 || broken.Failovers[1].Name != "down" {
				t.Errorf("every provider failing: %d %+v", code, broken)
			}
			code, d, _ = get(t, s, "GET", "/picky")
			if picky := d.Sources.Get("picky"); code != 502 || len(picky.Failovers) != 0 || !strings.Contains(picky.Error, "400") {
				t.Errorf("a 400 the request caused failed over: %d %+v", code, picky)
			}
		})
	}
}

// A stream says when a lane moves on, before the next provider's tokens.
func TestAStreamSaysWhenALaneFailsOver(t *testing.T) {
	t.Parallel()
	llm := fakeProviders(t)
	s := newServer(t, fmt.Sprintf(`
sources:
  chat:   {kind: openai, base_url: "%[1]s/openai/v1?failure_status=429&retry_after=1s", model: m, user: Say hello, stream: true, failover: [claude]}
  claude: {kind: anthropic, base_url: "%[1]s/anthropic?token_delay=1ms", model: m, user: Say hello, stream: true}
routes: [{path: /chat, sources: [chat]}]
`, llm.URL))
	events, seq := streamEvents(t, s, "/chat?stream=1")
	for _, e := range events {
		if e.Type == "failover" && !strings.Contains(string(e.Data), `"name":"chat","from":"chat","to":"claude","reason":"failed"`) {
			t.Errorf("failover event %s", e.Data)
		}
	}
	if !strings.HasPrefix(seq, "start failover delta") || !strings.HasSuffix(seq, "delta source report") {
		t.Errorf("events: %s", seq)
	}
}

// examples/failover.yaml runs as it is against highway mock's fake
// providers: OpenAI answers 503, Claude answers, priced as Claude.
func TestTheFailoverExampleRuns(t *testing.T) {
	t.Parallel()
	llm := fakeProviders(t)
	cfg, err := config.LoadEnv("../../examples/failover.yaml", config.Vars(map[string]string{"HIGHWAY_MOCK_ADDR": strings.TrimPrefix(llm.URL, "http://")}))
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	code, d, _ := get(t, s, "GET", "/chat?city=Paris")
	chat := d.Sources.Get("chat")
	if code != 200 || chat.ServedBy != "claude" || chat.Usage == nil || chat.CostUSD == nil {
		t.Fatalf("%d %+v", code, chat)
	}
	if want := (float64(chat.Usage.InputTokens)*3 + float64(chat.Usage.OutputTokens)*15) / 1e6; math.Abs(*chat.CostUSD-want) > 1e-12 {
		t.Errorf("cost %g, want Claude's price: %g", *chat.CostUSD, want)
	}
	if !strings.Contains(string(chat.Data), "Say hello to Paris.") || d.CostUSD == nil || *d.CostUSD != *chat.CostUSD {
		t.Errorf("data %s, report cost %v", chat.Data, d.CostUSD)
	}
	// OpenAI slow to its first token: Claude is started beside it at
	// 800ms, begins first and answers; the slow one's prompt is counted.
	code, d, _ = get(t, s, "GET", "/hedged")
	slow := d.Sources.Get("slow")
	if code != 200 || slow.ServedBy != "claude" || !slow.HedgeWon || len(slow.Failovers) != 1 || slow.Failovers[0].Reason != "hedge_lost" ||
		slow.Failovers[0].CostUSD == nil || slow.LatencyMS < 800 { // never before the hedge's delay; HedgeWon says Claude answered
		t.Errorf("hedged: %d %+v", code, slow)
	}
}

// A client's token budget: spent by each answer's tokens, then 429 with
// Retry-After and which budget ran out, until it refills; a reload keeps
// what was spent.
func TestATokenBudgetRunsOutAndSaysSo(t *testing.T) {
	t.Parallel()
	llm := fakeProviders(t)
	yaml := fmt.Sprintf(`
clients:
  keys: [{name: poet, key: poet-0123456789abcdef, tokens_per_minute: 40}]
sources:
  chat: {kind: openai, base_url: "%s/openai/v1?token_delay=1ms", model: m, user: Write a short poem about the city.}
routes: [{path: /chat, sources: [chat]}]
`, llm.URL)
	s := newServer(t, yaml)
	ask := func(h http.Handler) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/chat", nil)
		req.Header.Set("X-API-Key", "poet-0123456789abcdef")
		h.ServeHTTP(rec, req)
		return rec
	}
	codes := []int{}
	var refused *httptest.ResponseRecorder
	for range 4 {
		rec := ask(s)
		codes = append(codes, rec.Code)
		if rec.Code == 429 && refused == nil {
			refused = rec
		}
	}
	if codes[0] != 200 || refused == nil {
		t.Fatalf("codes %v: want answers, then 429 once 40 tokens are spent", codes)
	}
	if !strings.Contains(refused.Body.String(), "token budget (40 tokens a minute) of client poet ran out") || refused.Header().Get("Retry-After") == "" {
		t.Errorf("429: %s, Retry-After %q", refused.Body, refused.Header().Get("Retry-After"))
	}
	cfg, _ := config.Parse("test.yaml", []byte(yaml))
	reloaded, err := New(cfg, Options{Registry: s.registry})
	if err != nil {
		t.Fatal(err)
	}
	if rec := ask(reloaded); rec.Code != 429 {
		t.Errorf("after a reload: %d, want the budget still spent", rec.Code)
	}
}

func TestACostBudgetRunsOut(t *testing.T) {
	t.Parallel()
	llm := fakeProviders(t)
	s := newServer(t, fmt.Sprintf(`
clients:
  keys: [{name: spender, key: spender-0123456789abcdef, cost_per_day: 30}]
sources:
  chat: {kind: openai, base_url: "%s/openai/v1?token_delay=1ms", model: m, user: hi, price: {input_per_mtok: 1000000, output_per_mtok: 1000000}}
routes: [{path: /chat, sources: [chat]}]
`, llm.URL))
	var last *httptest.ResponseRecorder
	for range 4 {
		last = httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/chat", nil)
		req.Header.Set("X-API-Key", "spender-0123456789abcdef")
		s.ServeHTTP(last, req)
	}
	if last.Code != 429 || !strings.Contains(last.Body.String(), "cost budget ($30 a day) of client spender ran out") {
		t.Errorf("%d %s", last.Code, last.Body)
	}
}

// A provider that drops its stream mid-way fails over too: the stream
// shows its first tokens, the failover, then the next provider's.
func TestAStreamCutMidWayFailsOver(t *testing.T) {
	t.Parallel()
	llm := fakeProviders(t)
	s := newServer(t, fmt.Sprintf(`
sources:
  chat:   {kind: openai, base_url: "%[1]s/openai/v1?fault=cut&token_delay=1ms", model: m, user: Say hello, stream: true, failover: [claude]}
  claude: {kind: anthropic, base_url: "%[1]s/anthropic?token_delay=1ms", model: m, user: Say hello, stream: true}
routes: [{path: /chat, sources: [chat]}]
`, llm.URL))
	events, got := streamEvents(t, s, "/chat?stream=1")
	if !strings.HasPrefix(got, "start delta delta failover delta") {
		t.Errorf("events: %s", got)
	}
	d, _ := report.Decode(events[len(events)-1].Data)
	chat := d.Sources.Get("chat")
	if chat.ServedBy != "claude" || len(chat.Failovers) != 1 || !strings.Contains(chat.Failovers[0].Error, "read upstream stream") {
		t.Fatalf("chat: %+v", chat)
	}
	// The cut stream was billed for its prompt and the tokens it sent: the
	// lane counts them beside Claude's.
	if cut := chat.Failovers[0].Usage; cut == nil || cut.InputTokens == 0 || cut.OutputTokens == 0 || !cut.Estimated ||
		chat.Usage == nil || chat.Usage.OutputTokens <= cut.OutputTokens {
		t.Errorf("the cut stream's usage %+v, the lane's %+v", cut, chat.Usage)
	}
}

// A surge whose client spends its token budget keeps being answered:
// first the answers, then 429s saying which budget ran out, no errors.
func TestABudgetRunsOutMidSurge(t *testing.T) {
	t.Parallel()
	llm := fakeProviders(t)
	srv := httptest.NewServer(newServer(t, fmt.Sprintf(`
clients:
  keys: [{name: poet, key: poet-0123456789abcdef, tokens_per_minute: 200}]
sources:
  chat: {kind: openai, base_url: "%s/openai/v1?token_delay=1ms", model: m, user: Write a short poem about the city.}
routes: [{path: /chat, sources: [chat]}]
`, llm.URL)))
	defer srv.Close()
	sum, err := surge.Run(t.Context(), surge.Options{URL: srv.URL + "/chat", Users: 5, Duration: time.Second,
		Header: http.Header{"X-Api-Key": {"poet-0123456789abcdef"}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("surge: %d requests, statuses %v", sum.Requests, sum.Statuses)
	if sum.Statuses[200] == 0 || sum.Statuses[429] == 0 || len(sum.Statuses) != 2 || sum.ErrorCount() != 0 {
		t.Errorf("statuses %v, errors %v: want answers, then 429s, nothing else", sum.Statuses, sum.Errors)
	}
	http.DefaultClient.CloseIdleConnections()
}

// fakeProviders serves highway mock's fake OpenAI and Anthropic endpoints
// for the test, closed (with the shared pool's idle connections to it)
// when the test ends.
func fakeProviders(t *testing.T) *httptest.Server {
	t.Helper()
	llm := httptest.NewServer(mock.LLM())
	t.Cleanup(func() { upstream.Pool.CloseIdleConnections(); llm.Close() })
	return llm
}
