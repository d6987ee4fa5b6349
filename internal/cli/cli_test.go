package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/citypopy/highway/internal/config"
	"github.com/citypopy/highway/internal/report"
	"github.com/citypopy/highway/internal/server"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// run runs the command in an empty environment, as a fresh shell's
// would be for Highway's variables.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return runEnv(t, nil, args...)
}

// runEnv runs the command in the environment vars.
func runEnv(t *testing.T, vars map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), config.Vars(vars), args, &out, &errb)
	return code, out.String(), errb.String()
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "highway.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const fast = `
sources:
  weather: {kind: mock, latency: 20ms, data: {temp: "22°C"}}
  image:   {kind: mock, latency: 60ms, data: {url: /img}}
  chat:    {kind: mock, latency: 40ms, data: {reply: hi}}
routes:
  - {path: /city-report, sources: [weather, image, chat]}
`

func TestCommandLine(t *testing.T) {
	good := writeFile(t, fast)
	mockAddr := writeFile(t, "sources:\n  chat: {kind: openai, base_url: \"http://${HIGHWAY_MOCK_ADDR}/openai/v1\", model: m, user: hi}\nroutes: [{path: /chat, sources: [chat]}]\n")
	bad := writeFile(t, "sources:\n  a: {kind: mock, latency: soon}\nroutes:\n  - {path: /r, sources: [b]}\n")
	cases := []struct {
		args           []string
		code           int
		stdout, stderr string
	}{
		{[]string{"check", "-config", good}, 0, "highway.yaml: ok (3 sources, 1 route)", ""},
		{[]string{"check", good}, 2, "", `unexpected argument "` + good + `"; a config file is given with -config: highway check -config ` + good},
		{[]string{"check", "-config", mockAddr}, 0, "ok (1 source, 1 route)", ""},
		{[]string{"race", "/city-brief"}, 2, "", "a route is given with -route: highway race -route /city-brief"},
		{[]string{"surge", "http://127.0.0.1:1/x"}, 2, "", "a URL is given with -url: highway surge -url http://127.0.0.1:1/x"},
		{[]string{"race", "-config", mockAddr, "-json"}, 0, `"status":"ok"`, ""},
		{[]string{"check"}, 0, "embedded default: ok (7 sources, 3 routes, 1 model)", ""},
		{[]string{"check", "-config", bad}, 1, "", bad + `:2:28: sources.a.latency: invalid duration "soon"`},
		{[]string{"check", "-config", "/nonexistent.yaml"}, 1, "", "read config: open /nonexistent.yaml"},
		{[]string{"serve", "-config", bad}, 1, "", "config " + bad + " is invalid"},
		{[]string{"serve", "-addr", "256.0.0.1:99999", "-config", good}, 1, "", "listen on 256.0.0.1:99999"},
		{[]string{"serve", "extra"}, 2, "", `unexpected argument "extra"`},
		{[]string{"race", "-url", "ftp://x"}, 1, "", "-url wants http://HOST:PORT"},
		{[]string{"race", "-config", good, "-route", "/nope"}, 1, "", "404 Not Found: no route /nope"},
		{[]string{"race", "-width", "3"}, 2, "", "-width must be between 8 and 200"},
		{[]string{"fly"}, 2, "", `unknown command "fly"`},
		{[]string{"help"}, 0, "highway race", ""},
		{[]string{"config"}, 0, "path: /city-report", ""},
		{[]string{"version"}, 0, "highway ", ""},
		{[]string{"key", "-h"}, 0, "", "usage: highway key NAME"},
		{[]string{"key", "-x"}, 2, "", "flag provided but not defined: -x"},
		{[]string{"config", "-h"}, 0, "", "usage: highway config\n\nPrint the embedded default config"},
		{[]string{"schema"}, 0, `"$schema": "https://json-schema.org/draft/2020-12/schema"`, ""},
		{[]string{"race", "-config", good, "-route", "city-report", "-json"}, 0, `"route":"/city-report"`, ""},
	}
	for _, c := range commands() { // every command answers -h with its usage
		cases = append(cases, struct {
			args           []string
			code           int
			stdout, stderr string
		}{[]string{c.name, "-h"}, 0, "", "usage: highway " + c.name})
	}
	for _, c := range cases {
		code, out, errs := run(t, c.args...)
		if code != c.code || !strings.Contains(out, c.stdout) || !strings.Contains(errs, c.stderr) {
			t.Errorf("highway %s: exit %d\nstdout: %s\nstderr: %s\nwant exit %d, stdout with %q, stderr with %q",
				strings.Join(c.args, " "), code, out, errs, c.code, c.stdout, c.stderr)
		}
	}
}

func TestDefaultConfigPrintedIsTheOneServed(t *testing.T) {
	_, out, _ := run(t, "config")
	if _, err := config.Parse("printed", []byte(out)); err != nil {
		t.Fatal(err)
	}
}

func TestRaceInProcessRunsBothModes(t *testing.T) {
	code, out, errs := run(t, "race", "-config", writeFile(t, fast), "-json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var both struct{ Sequential, Concurrent json.RawMessage }
	if err := json.Unmarshal([]byte(out), &both); err != nil {
		t.Fatal(err)
	}
	seq, err1 := report.Decode(both.Sequential)
	con, err2 := report.Decode(both.Concurrent)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if seq.Mode != "sequential" || con.Mode != "concurrent" || seq.Lanes != 1 || con.Lanes != 3 || len(seq.CriticalPath) != 3 {
		t.Errorf("seq %+v\ncon %+v", seq, con)
	}
	for i := 1; i < len(seq.Sources); i++ {
		if seq.Sources[i].StartMS < seq.Sources[i-1].EndMS {
			t.Errorf("single lane: %s started before %s ended", seq.Sources[i].Name, seq.Sources[i-1].Name)
		}
	}
	for _, s := range con.Sources {
		if s.StartMS >= seq.Sources[1].StartMS && s.Name != "weather" {
			t.Errorf("highway: %s did not start at once (%.1fms)", s.Name, s.StartMS)
		}
	}
}

func TestRaceAgainstARunningServerDrawsTheTable(t *testing.T) {
	cfg, err := config.Parse("t", []byte(fast))
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := server.New(cfg, server.Options{})
	front := httptest.NewServer(srv)
	defer front.Close()
	code, out, errs := run(t, "race", "-url", front.URL+"/city-report", "-width", "20")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{"highway race /city-report (server at 127.0.0.1:", "single lane (mode=sequential)", "highway (mode=concurrent)",
		"weather", "image", "chat", "total", "sum of lanes", "critical path: single lane weather → image → chat;", "speedup"} {
		if !strings.Contains(out, want) {
			t.Errorf("race output lacks %q:\n%s", want, out)
		}
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "image") && strings.Count(line, "█") < 2*(20*40/120) {
			t.Errorf("image lane too short in both modes: %q", line)
		}
	}
}

func TestRaceMarksFailedSources(t *testing.T) {
	var b bytes.Buffer
	ok := report.SourceEntry{Name: "weather", Status: "ok", EndMS: 10, LatencyMS: 10}
	bad := report.SourceEntry{Name: "chat", Status: "error", EndMS: 30, LatencyMS: 30}
	doc := &report.Document{TotalMS: 30, SumMS: 40, Failed: 1, Slowest: "chat", CriticalPath: []string{"chat"}, Sources: report.Sources{ok, bad}}
	drawRace(&b, doc, doc, 10)
	if !strings.Contains(b.String(), "chat ✗") || !strings.Contains(b.String(), "░░░") || !strings.Contains(b.String(), "2 source call(s) failed") {
		t.Errorf("%s", b.String())
	}
}

func TestKeyMadeByHighwayKeyAdmitsRaceAgainstAKeyedServer(t *testing.T) {
	code, out, _ := run(t, "key", "dana")
	if code != 0 {
		t.Fatalf("highway key: exit %d", code)
	}
	lines := strings.Split(out, "\n")
	key := strings.TrimSpace(lines[1])
	var clientLine string
	for _, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "- {name: dana, sha256:") {
			clientLine = strings.TrimSpace(l)
		}
	}
	if !strings.HasPrefix(key, "hw_") || clientLine == "" || strings.Contains(clientLine, key) {
		t.Fatalf("highway key output:\n%s", out)
	}
	cfg, err := config.Parse("t", []byte("clients:\n  keys:\n    "+clientLine+"\n"+fast))
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := server.New(cfg, server.Options{})
	front := httptest.NewServer(srv)
	defer front.Close()
	if code, _, errs := run(t, "race", "-url", front.URL+"/city-report"); code == 0 || !strings.Contains(errs, "401") {
		t.Errorf("race without a key: exit %d, %s", code, errs)
	}
	if code, _, errs := runEnv(t, map[string]string{KeyEnv: key}, "race", "-url", front.URL+"/city-report"); code != 0 {
		t.Errorf("race with %s set: exit %d, %s", KeyEnv, code, errs)
	}
}

func TestRaceDrawsTheGraphsWait(t *testing.T) {
	file := writeFile(t, `
sources:
  weather: {kind: mock, latency: 30ms, data: {temp: 22}}
  search:  {kind: mock, latency: 10ms, data: {hits: 3}}
  brief:   {kind: mock, latency: 40ms, data: {summary: ok}, needs: [weather, search]}
  image:   {kind: mock, latency: 50ms, data: {url: /img}}
routes:
  - {path: /city-brief, sources: [weather, search, brief, image]}
`)
	code, out, errs := run(t, "race", "-config", file, "-width", "40")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var briefLine string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "brief ") && !strings.Contains(l, "needs") {
			briefLine = l
		}
	}
	highway := []rune(briefLine)[len([]rune(briefLine))/2:] // the concurrent column
	if !strings.Contains(string(highway), "┄┄") || strings.Index(string(highway), "┄") > strings.Index(string(highway), "█") {
		t.Errorf("the brief's wait is not drawn before its bar on the highway: %q", briefLine)
	}
	for _, want := range []string{"highway weather → brief", "brief needs weather, search: on the highway it waits (┄) for them"} {
		if !strings.Contains(out, want) {
			t.Errorf("race output lacks %q:\n%s", want, out)
		}
	}
}
