package server

import (
	"context"

	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/citypopy/highway/internal/dashboard"
	"github.com/citypopy/highway/internal/sse"

	"github.com/citypopy/highway/internal/config"
	"github.com/citypopy/highway/internal/mock"
	"github.com/citypopy/highway/internal/report"
	"github.com/citypopy/highway/internal/upstream"
)

// mockUpstream serves highway mock, with its fake OpenAI endpoint.
func mockUpstream(t *testing.T) string {
	cfg, err := config.Parse("m.yaml", []byte("sources: {weather: {kind: mock, latency: 10ms, data: {temp: 22}}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := mock.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(m)
	t.Cleanup(func() { upstream.Pool.CloseIdleConnections(); srv.Close() })
	return srv.URL
}

func TestChatLaneStreamsTokensBeforeItsSourceEvent(t *testing.T) {
	t.Parallel()
	up := mockUpstream(t)
	s := newServer(t, fmt.Sprintf(`
sources:
  weather: {kind: http, url: "%[1]s/weather"}
  chat:    {kind: openai, base_url: "%[1]s/openai/v1", model: popy-1, api_key: sk-never-shown, user: "Weather in Citypopy?", stream: true, first_token_timeout: 5s}
  flat:    {kind: openai, base_url: "%[1]s/openai/v1", model: popy-1, user: "Hi"}
  claude:  {kind: anthropic, base_url: "%[1]s/anthropic", model: claude-mock, api_key: sk-never-shown, user: "Weather in Citypopy?", stream: true}
  denied:  {kind: openai, base_url: "%[1]s/openai/v1?failure_status=401", model: popy-1, api_key: sk-never-shown, user: "Hi"}
routes:
  - {path: /brief, sources: [weather, chat]}
  - {path: /flat, sources: [flat, denied], optional: [denied]}
  - {path: /claude, sources: [claude]}
`, up))
	front := httptest.NewServer(s)
	defer front.Close()
	defer http.DefaultClient.CloseIdleConnections()

	resp, err := http.Get(front.URL + "/brief?stream=1")
	if err != nil {
		t.Fatal(err)
	}
	events := readEvents(t, resp.Body)
	resp.Body.Close()
	var text strings.Builder
	var types []string
	for _, e := range events {
		var d struct{ Name, Text string }
		json.Unmarshal(e.Data, &d)
		if e.Type == "delta" && d.Name != "chat" {
			t.Errorf("delta from %q", d.Name)
		}
		// Only the chat lane's own events have an order: the weather lane
		// races it on two real servers, so its event may land anywhere.
		if e.Type == "report" || d.Name == "chat" {
			types = append(types, e.Type)
		}
		if e.Type == "delta" {
			text.WriteString(d.Text)
		}
	}
	seq := strings.Join(types, " ")
	if !strings.HasPrefix(seq, "start delta") || !strings.HasSuffix(seq, "delta source report") {
		t.Errorf("chat lane's event order: %s", seq)
	}
	want := "Hello from AI City! Popy heard: Weather in Citypopy?"
	d, _ := report.Decode(events[len(events)-1].Data)
	var chat struct {
		Reply string
		Usage map[string]int
	}
	json.Unmarshal(d.Sources.Get("chat").Data, &chat)
	if text.String() != want || chat.Reply != want || chat.Usage["completion_tokens"] != 9 {
		t.Errorf("deltas %q, reply %+v", text.String(), chat)
	}

	resp, err = http.Get(front.URL + "/claude?stream=1")
	if err != nil {
		t.Fatal(err)
	}
	events = readEvents(t, resp.Body)
	resp.Body.Close()
	deltas := 0
	for _, e := range events {
		if e.Type == "delta" {
			deltas++
		}
	}
	d, _ = report.Decode(events[len(events)-1].Data)
	json.Unmarshal(d.Sources.Get("claude").Data, &chat)
	if deltas != 9 || chat.Reply != want || d.Sources.Get("claude").Status != "ok" {
		t.Errorf("anthropic lane: %d deltas, %+v", deltas, d.Sources.Get("claude"))
	}

	code, doc := fetch(t, front.URL+"/flat")
	json.Unmarshal(doc.Sources.Get("flat").Data, &chat)
	denied := doc.Sources.Get("denied")
	if code != 200 || chat.Reply != "Hello from AI City! Popy heard: Hi" || !strings.Contains(denied.Error, "401 Unauthorized: mock_error") {
		t.Errorf("%d %+v %+v", code, chat, denied)
	}
	if strings.Contains(fmt.Sprint(doc), "sk-never-shown") {
		t.Error("the API key leaked into the report")
	}
}

func TestChatLaneFailsClearlyOnAStallOrAGarbledStream(t *testing.T) {
	t.Parallel()
	up := mockUpstream(t)
	s := newServer(t, fmt.Sprintf(`
sources:
  stall:   {kind: openai, base_url: "%[1]s/openai/v1?fault=stall", model: m, user: "a b c d", stream: true, stall_timeout: 200ms}
  garbage: {kind: openai, base_url: "%[1]s/openai/v1?fault=garbage", model: m, user: "a b c d", stream: true}
routes: [{path: /r, sources: [stall, garbage]}]
`, up))
	front := httptest.NewServer(s)
	defer front.Close()
	defer http.DefaultClient.CloseIdleConnections()
	code, doc := fetch(t, front.URL+"/r")
	if code != 502 || !strings.Contains(doc.Sources.Get("stall").Error, "stall timeout") || !strings.Contains(doc.Sources.Get("garbage").Error, "malformed chunk") {
		t.Errorf("%d %+v", code, doc.Sources)
	}
}

func TestClientLeavingMidTokenStreamCancelsTheLLMCall(t *testing.T) {
	t.Parallel()
	gone := make(chan struct{}, 1)
	llm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, `data: {"choices":[{"delta":{"content":"Hello"}}]}`+"\n\n")
		w.(http.Flusher).Flush()
		<-r.Context().Done() // the rest of the reply never comes
		gone <- struct{}{}
	}))
	defer func() { upstream.Pool.CloseIdleConnections(); llm.Close() }()
	s := newServer(t, fmt.Sprintf(`
sources: {chat: {kind: openai, base_url: "%s/v1", model: m, user: hi, stream: true}}
routes: [{path: /chat, sources: [chat]}]
`, llm.URL))
	front := httptest.NewServer(s)
	defer front.Close()
	ctx, cancel := context.WithCancel(t.Context())
	req, _ := http.NewRequestWithContext(ctx, "GET", front.URL+"/chat?stream=1", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if e, err := nextLanded(sse.NewReader(resp.Body)); err != nil || e.Type != "delta" {
		t.Fatalf("%+v %v", e, err)
	}
	cancel() // mid-stream, after the first token
	resp.Body.Close()
	await(t, gone, 1, "the LLM call to be cancelled when the client left")
	http.DefaultClient.CloseIdleConnections()
}

// highway mock's fake OpenAI sends an empty role chunk at once, as real
// servers do, then its first token after first_token: the lane's
// first-token timeout measures the wait for content, not for that chunk.
func TestFirstTokenMeansContentAgainstTheFakeOpenAI(t *testing.T) {
	t.Parallel()
	llm := fakeProviders(t)
	s := newServer(t, fmt.Sprintf(`
sources: {chat: {kind: openai, base_url: "%s/openai/v1?first_token=2s", model: m, user: hi, stream: true, first_token_timeout: 200ms}}
routes: [{path: /chat, sources: [chat]}]
`, llm.URL))
	code, d, _ := get(t, s, "GET", "/chat")
	chat := d.Sources.Get("chat")
	if code != 502 || !strings.Contains(chat.Error, "first-token timeout") { // the timeout's error, not the token's arrival at 2s
		t.Errorf("%d: chat %s after %.0f ms: %s", code, chat.Status, chat.LatencyMS, chat.Error)
	}
}

// Every LLM lane reports its tokens the same way, whichever provider
// answered and whether it streamed; a priced one its cost; the report
// totals both.
func TestLLMLanesReportUsageAndCost(t *testing.T) {
	t.Parallel()
	llm := fakeProviders(t)
	s := newServer(t, fmt.Sprintf(`
sources:
  openai:   {kind: openai, base_url: "%[1]s/openai/v1?token_delay=1ms", model: m, user: Say hello, price: {input_per_mtok: 0.15, output_per_mtok: 0.60}}
  streamed: {kind: openai, base_url: "%[1]s/openai/v1?token_delay=1ms", model: m, user: Say hello, stream: true}
  claude:   {kind: anthropic, base_url: "%[1]s/anthropic?token_delay=1ms", model: m, user: Say hello, stream: true, price: {input_per_mtok: 3, output_per_mtok: 15}}
  weather:  {kind: mock, latency: 1ms, data: {sky: clear}}
routes: [{path: /r, sources: [openai, streamed, claude, weather]}]
`, llm.URL))
	code, d, _ := get(t, s, "GET", "/r")
	if code != 200 {
		t.Fatalf("%d", code)
	}
	var in, out int
	var cost float64
	for _, name := range []string{"openai", "streamed", "claude"} {
		e := d.Sources.Get(name)
		if e.Usage == nil || e.Usage.InputTokens == 0 || e.Usage.OutputTokens == 0 || e.Usage.Estimated {
			t.Errorf("%s: usage %+v, want the provider's counts", name, e.Usage)
			continue
		}
		in, out = in+e.Usage.InputTokens, out+e.Usage.OutputTokens
		switch name {
		case "streamed":
			if e.CostUSD != nil {
				t.Errorf("streamed has no price, yet costs %v", *e.CostUSD)
			}
		default:
			if e.CostUSD == nil || *e.CostUSD <= 0 {
				t.Errorf("%s: cost %v", name, e.CostUSD)
			} else {
				cost += *e.CostUSD
			}
		}
	}
	if w := d.Sources.Get("weather"); w.Usage != nil {
		t.Errorf("a mock lane reports usage %+v", w.Usage)
	}
	if d.Usage == nil || d.Usage.InputTokens != in || d.Usage.OutputTokens != out || d.CostUSD == nil || math.Abs(*d.CostUSD-cost) > 1e-12 {
		t.Errorf("report usage %+v cost %v, want %d/%d and %g", d.Usage, d.CostUSD, in, out, cost)
	}
	o := d.Sources.Get("openai")
	if want := (float64(o.Usage.InputTokens)*0.15 + float64(o.Usage.OutputTokens)*0.60) / 1e6; math.Abs(*o.CostUSD-want) > 1e-15 {
		t.Errorf("openai cost %g, want %g", *o.CostUSD, want)
	}
	// The same in /metrics (by route, source, model, client) and on the
	// health page.
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, want := range []string{
		fmt.Sprintf(`highway_llm_tokens_total{client="(none)",direction="input",model="m",route="/r",source="openai"} %d`, o.Usage.InputTokens),
		fmt.Sprintf(`highway_llm_tokens_total{client="(none)",direction="output",model="m",route="/r",source="claude"} %d`, d.Sources.Get("claude").Usage.OutputTokens),
		`highway_llm_cost_usd_total{client="(none)",model="m",route="/r",source="openai"} `,
	} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	rec = httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("GET", dashboard.SourcesPath, nil))
	var health struct {
		Sources []struct {
			Name        string   `json:"name"`
			InputTokens *int64   `json:"input_tokens"`
			CostUSD     *float64 `json:"cost_usd"`
		} `json:"sources"`
	}
	json.Unmarshal(rec.Body.Bytes(), &health)
	for _, h := range health.Sources {
		switch h.Name {
		case "openai":
			if h.InputTokens == nil || *h.InputTokens != int64(o.Usage.InputTokens) || h.CostUSD == nil || math.Abs(*h.CostUSD-*o.CostUSD) > 1e-9 {
				t.Errorf("health of openai: %+v", h)
			}
		case "weather":
			if h.InputTokens != nil {
				t.Errorf("health of a mock has tokens")
			}
		}
	}
}
