package config

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func env(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
}

func TestDefaultIsTheSeedsCity(t *testing.T) {
	c := Default()
	if c.Listen != "127.0.0.1:8080" || len(c.Sources) != 7 || c.Routes[0].Path != "/city-report" {
		t.Fatalf("%+v", c)
	}
	if chat := c.Sources["chat"]; chat.Kind != KindOpenAI || !chat.Spec.(*LLM).Stream || !strings.HasPrefix(chat.Spec.(*LLM).BaseURL, "http://127.0.0.1:9000/openai/v1") {
		t.Errorf("the default chat lane should stream from the server's own fake OpenAI: %+v", chat)
	}
	img, search := time.Duration(c.Sources["image"].Spec.(*Mock).Latency), time.Duration(c.Sources["search"].Spec.(*Mock).Latency)
	for name, s := range c.Sources {
		m, ok := s.Spec.(*Mock)
		if !ok {
			continue
		}
		if time.Duration(m.Latency) > img || time.Duration(m.Latency) < search {
			t.Errorf("%s latency %v outside search..image (%v..%v)", name, m.Latency, search, img)
		}
	}
	if got := string(c.Sources["weather"].Spec.(*Mock).Data); got != `{"city":"Citypopy","temp":"22°C"}` {
		t.Errorf("weather data %s", got)
	}
	if b := c.Sources["brief"]; b.Kind != KindOpenAI || !slices.Equal(b.Needs, []string{"weather", "search"}) || !strings.Contains(b.Spec.(*LLM).User, "{{.weather.temp}}") {
		t.Errorf("the default brief should need weather and search: %+v", b)
	}
}

func TestTheIssueExampleParsesWithDefaults(t *testing.T) {
	c, err := parse("highway.yaml", []byte(`
listen: 127.0.0.1:8080
sources:
  weather: {kind: mock, latency: 300ms, jitter: 30ms, data: {city: Citypopy, temp: "22°C"}}
  image:   {kind: mock, latency: 800ms, data: {url: "/img/popy.png"}}
  chat:    {kind: mock, latency: 500ms, data: {reply: "Hello from AI City!"}}
  search:  {kind: mock, latency: 200ms, data: {hits: 3}}
  remote:  {kind: http, url: "http://127.0.0.1:9000/weather", timeout: 2s, headers: {Authorization: "Bearer ${KEY}"}}
routes:
  - path: /city-report
    sources: [weather, image, chat]
    timeout: 5s
  - path: /remote
    sources: [remote]
`), env(map[string]string{"KEY": "s3cret"}))
	if err != nil {
		t.Fatal(err)
	}
	r := c.Sources["remote"]
	if h := r.Spec.(*HTTP); h.Method != "GET" || time.Duration(r.Timeout) != 2*time.Second || h.Headers["Authorization"] != "Bearer s3cret" {
		t.Errorf("remote %+v", r)
	}
	if c.Routes[1].Method != "GET" || time.Duration(c.Routes[1].Timeout) != DefaultRouteTimeout {
		t.Errorf("route defaults %+v", c.Routes[1])
	}
	if d := c.Sources["search"].Spec.(*Mock).Data; string(d) != `{"hits":3}` {
		t.Errorf("search data %s", d)
	}
}

func TestBadConfigsAreRefusedWithFileFieldAndReason(t *testing.T) {
	const routes = "routes:\n  - {path: /r, sources: [a]}\n"
	cases := []struct {
		name, yaml string
		want       []string
	}{
		{"unknown field", "sources:\n  a: {kind: mock, latncy: 3s}\n" + routes,
			[]string{`f.yaml:2:19: sources.a.latncy: unknown field "latncy" (did you mean "latency"? known fields: api_key, base_url, body, breaker,`}},
		{"unknown field far from any", "sources:\n  a: {kind: mock, colour: red}\n" + routes,
			[]string{`sources.a.colour: unknown field "colour" (known fields: api_key,`}},
		{"bad duration", "sources:\n  a: {kind: mock, latency: 3 seconds}\n" + routes,
			[]string{`f.yaml:2:28: sources.a.latency: invalid duration "3 seconds"`}},
		{"bare number duration", "sources:\n  a: {kind: mock, latency: 300}\n" + routes,
			[]string{`sources.a.latency: invalid duration "300"`}},
		{"missing source", "sources:\n  a: {kind: mock}\nroutes:\n  - {path: /r, sources: [a, wether]}\n",
			[]string{`f.yaml:4:29: routes[0].sources[1]: no source named "wether" (sources: a)`}},
		{"duplicate path", "sources:\n  a: {kind: mock}\nroutes:\n  - {path: /r, sources: [a]}\n  - {path: /r, sources: [a]}\n",
			[]string{`f.yaml:5:12: routes[1].path: path /r is already served by routes[0]`}},
		{"unknown kind", "sources:\n  a: {kind: grpc}\n" + routes,
			[]string{`sources.a.kind: unknown kind "grpc"`}},
		{"missing kind", "sources:\n  a: {latency: 1s}\n" + routes,
			[]string{`sources.a: missing kind`}},
		{"http field on mock", "sources:\n  a: {kind: mock, url: 'http://x'}\n" + routes,
			[]string{`sources.a.url: not used by kind mock`}},
		{"http without url", "sources:\n  a: {kind: http}\n" + routes,
			[]string{`sources.a.url: missing`}},
		{"param bad type", "sources:\n  a: {kind: mock}\nroutes:\n  - {path: /r, sources: [a], params: {city: {type: text}}}\n",
			[]string{`routes[0].params.city.type: unknown type "text"`}},
		{"param default not matching", "sources:\n  a: {kind: mock}\nroutes:\n  - {path: /r, sources: [a], params: {days: {type: int, default: many}}}\n",
			[]string{`routes[0].params.days.default: want an integer, got "many"`}},
		{"param pattern", "sources:\n  a: {kind: mock}\nroutes:\n  - {path: /r, sources: [a], params: {city: {pattern: '[a-z'}}}\n",
			[]string{`routes[0].params.city.pattern: invalid regular expression`}},
		{"reserved param", "sources:\n  a: {kind: mock}\nroutes:\n  - {path: /r, sources: [a], params: {mode: {}}}\n",
			[]string{`routes[0].params.mode: "mode" is a parameter every route takes already`}},
		{"undeclared param", "sources:\n  a: {kind: http, url: 'http://x/w/{{.params.city}}'}\nroutes:\n  - {path: /r, sources: [a]}\n",
			[]string{`routes[0].params: source a refers to {{.params.city}} in url; declare it here`}},
		{"templated host", "sources:\n  a: {kind: http, url: 'http://{{.params.host}}/w'}\nroutes:\n  - {path: /r, sources: [a], params: {host: {}}}\n",
			[]string{`sources.a.url: the scheme and host must be fixed`}},
		{"unknown reference", "sources:\n  a: {kind: openai, base_url: 'http://x/v1', model: m, user: 'temp {{.weather.temp}}'}\n" + routes,
			[]string{`sources.a.user: template refers to .weather.temp, but weather is not among this source's needs; add it to needs`}},
		{"broken template", "sources:\n  a: {kind: http, url: 'http://x/{{.params.city'}\n" + routes,
			[]string{`sources.a.url: invalid template`}},
		{"forward_body on GET source", "sources:\n  a: {kind: http, url: 'http://x/', forward_body: true}\n" + routes,
			[]string{`sources.a.forward_body: a body goes with POST, PUT or PATCH, not GET`}},
		{"forward_body on GET route", "sources:\n  a: {kind: http, method: POST, url: 'http://x/', forward_body: true}\n" + routes,
			[]string{`routes[0].method: source a forwards the request body, so the route must be POST`}},
		{"openai without model", "sources:\n  a: {kind: openai, base_url: 'http://x/v1', user: hi}\n" + routes,
			[]string{`sources.a.model: missing`}},
		{"openai with url", "sources:\n  a: {kind: openai, base_url: 'http://x/v1', model: m, user: hi, url: 'http://y/'}\n" + routes,
			[]string{`sources.a.url: not used by kind openai`}},
		{"model on http", "sources:\n  a: {kind: http, url: 'http://x/', model: m}\n" + routes,
			[]string{`sources.a.model: not used by kind http`}},
		{"http bad scheme", "sources:\n  a: {kind: http, url: 'ftp://x/y'}\n" + routes,
			[]string{`want an http:// or https:// URL`}},
		{"failure rate", "sources:\n  a: {kind: mock, failure_rate: 2}\n" + routes,
			[]string{`sources.a.failure_rate: want a fraction from 0 to 1 or a percentage such as 5%, got "2"`}},
		{"negative latency", "sources:\n  a: {kind: mock, latency: -1s}\n" + routes,
			[]string{`sources.a.latency: must not be negative`}},
		{"unset secret", "sources:\n  a: {kind: http, url: 'http://x/', headers: {K: '${NOPE}'}}\n" + routes,
			[]string{`sources.a.headers.K: environment variable NOPE is not set`}},
		{"reserved path", "sources:\n  a: {kind: mock}\nroutes:\n  - {path: /healthz, sources: [a]}\n",
			[]string{`routes[0].path: path /healthz is reserved`}},
		{"relative path", "sources:\n  a: {kind: mock}\nroutes:\n  - {path: r, sources: [a]}\n",
			[]string{`routes[0].path: want a path starting with /`}},
		{"route without sources", "sources:\n  a: {kind: mock}\nroutes:\n  - {path: /r}\n",
			[]string{`routes[0].sources: no sources`}},
		{"source twice in route", "sources:\n  a: {kind: mock}\nroutes:\n  - {path: /r, sources: [a, a]}\n",
			[]string{`routes[0].sources[1]: source "a" listed twice`}},
		{"wrong shape", "sources: [a, b]\n" + routes,
			[]string{`f.yaml:1:10: sources: want a mapping, got a list`}},
		{"bad listen", "listen: localhost\nsources:\n  a: {kind: mock}\n" + routes,
			[]string{`f.yaml:1:9: listen: want host:port`}},
		{"invalid yaml", "sources:\n  a: {kind: mock\n",
			[]string{`f.yaml:`, `invalid YAML`}},
		{"empty", "", []string{`f.yaml: the file is empty`}},
		{"retry without idempotence", "sources:\n  a: {kind: http, url: 'http://x/', method: POST, retry: {attempts: 3}}\n" + routes,
			[]string{`sources.a.retry: retries repeat calls, which this source does not allow: set idempotent: true`}},
		{"hedge without delay", "sources:\n  a: {kind: mock, hedge: {max_extra: 5%}}\n" + routes,
			[]string{`sources.a.hedge.delay: missing`}},
		{"bad hedge percentile", "sources:\n  a: {kind: mock, hedge: {delay: p100}}\n" + routes,
			[]string{`sources.a.hedge.delay: want a percentile from p1 to p99.9, got "p100"`}},
		{"bad hedge delay", "sources:\n  a: {kind: mock, hedge: {delay: soon}}\n" + routes,
			[]string{`want a positive duration (60ms) or a percentile of observed latency (p95), got "soon"`}},
		{"bad max_extra", "sources:\n  a: {kind: mock, hedge: {delay: 60ms, max_extra: 150%}}\n" + routes,
			[]string{`sources.a.hedge.max_extra: want a fraction from 0 to 1`}},
		{"retry attempts", "sources:\n  a: {kind: mock, retry: {attempts: 0}}\n" + routes,
			[]string{`sources.a.retry.attempts: want at least 1`}},
		{"cache without ttl", "sources:\n  a: {kind: mock, cache: {}}\n" + routes,
			[]string{`sources.a.cache.ttl: want a positive duration`}},
		{"negative concurrency", "sources:\n  a: {kind: mock, concurrency: -1}\n" + routes,
			[]string{`sources.a.concurrency: must not be negative`}},
		{"tail without latency", "sources:\n  a: {kind: mock, tail: {rate: 1%}}\n" + routes,
			[]string{`sources.a.tail: needs a rate and a positive latency`}},
		{"tail on http", "sources:\n  a: {kind: http, url: 'http://x/', tail: {rate: 1%, latency: 1s}}\n" + routes,
			[]string{`sources.a.tail: not used by kind http`}},
		{"optional not in route", "sources:\n  a: {kind: mock}\nroutes:\n  - {path: /r, sources: [a], optional: [b]}\n",
			[]string{`routes[0].optional[0]: "b" is not one of this route's sources (a)`}},
		{"admission", "admission: {max_inflight: 0, queue: -1}\nsources:\n  a: {kind: mock}\n" + routes,
			[]string{`admission.max_inflight: want at least 1`, `admission.queue: must not be negative`}},
		{"server limits", "server: {write_timeout: -1s, max_header_bytes: -5}\nsources:\n  a: {kind: mock}\n" + routes,
			[]string{`server.write_timeout: must not be negative`, `server.max_header_bytes: must not be negative`}},
		{"server limit misspelt", "server: {read_timeot: 1s}\nsources:\n  a: {kind: mock}\n" + routes,
			[]string{`server.read_timeot: unknown field "read_timeot" (did you mean "read_timeout"?`}},
		{"client keys", "clients:\n  keys:\n    - {name: a, key: short}\n    - {name: a, sha256: zz}\n    - {name: c}\n    - {key: 0123456789abcdef0123, sha256: ab}\n" + srcRoutes,
			[]string{`clients.keys[0].key: too short`, `clients.keys[1].name: "a" is given twice`, `clients.keys[1].sha256: want 64 hex digits`,
				`clients.keys[2]: no key: give key (e.g. ${C_KEY}) or sha256`, `clients.keys[3].name: missing`, `clients.keys[3]: give key or sha256, not both`}},
		{"a client's unknown model", "clients:\n  keys:\n    - {name: a, key: 0123456789abcdef0123, models: [chat, gpt-9]}\n" + srcModels,
			[]string{`f.yaml:3:59: clients.keys[0].models[1]: unknown model "gpt-9"; models: chat`}},
		{"missing keys file", "clients: {keys_file: nope.keys}\n" + srcRoutes, []string{`clients.keys_file: read the keys file: open nope.keys`}},
		{"cycle", "sources:\n  a: {kind: mock, needs: [b]}\n  b: {kind: mock, needs: [c]}\n  c: {kind: mock, needs: [a]}\nroutes:\n  - {path: /r, sources: [a, b, c]}\n",
			[]string{`f.yaml:2:26: sources.a.needs: cycle: a → b → c → a: a source cannot wait for itself`}},
		{"self need", "sources:\n  a: {kind: mock, needs: [a]}\n" + routes, []string{`sources.a.needs: cycle: a → a`}},
		{"bad needs", "sources:\n  a: {kind: mock, needs: [serch, a2, a2], fallback: {b: 1}}\n  a2: {kind: mock}\n  search: {kind: mock}\nroutes:\n  - {path: /r, sources: [a]}\n",
			[]string{`sources.a.needs[0]: no source named "serch" (did you mean "search"? sources: a, a2, search)`, `sources.a.needs[2]: "a2" is listed twice`,
				`sources.a.fallback.b: "b" is not one of this source's needs (serch, a2, a2)`, `routes[0].sources: a needs a2, which this route does not list; add it`}},
		{"template of a need not declared", "sources:\n  s: {kind: mock}\n  a: {kind: openai, base_url: 'http://x/v1', model: m, user: '{{.s.hits}} {{.params}}'}\nroutes:\n  - {path: /r, sources: [a, s]}\n",
			[]string{`sources.a.user: template refers to .s.hits, but s is not among this source's needs; add it to needs`, `sources.a.user: template refers to .params; a parameter is {{.params.NAME}}`}},
		{"body", "sources:\n  a: {kind: http, url: 'http://x/', method: GET, body: '{}'}\n  b: {kind: http, url: 'http://x/', method: POST, body: '{}', forward_body: true}\n  c: {kind: mock, body: '{}'}\nroutes:\n  - {path: /r, method: POST, sources: [a, b, c]}\n",
			[]string{`sources.a.body: a body goes with POST, PUT or PATCH, not GET`, `sources.b.body: give body or forward_body, not both`, `sources.c.body: not used by kind mock`}},
		{"field twice", "sources:\n  a: {kind: mock, kind: http}\n" + routes, []string{`sources.a.kind: field given twice`}},
		{"every problem at once", "sources:\n  a: {kind: mock, latency: x}\n  b: {kind: nope}\n" + routes,
			[]string{`sources.a.latency: invalid duration`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := parse("f.yaml", []byte(c.yaml), env(nil))
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("err = %v, want config.Errors", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error:\n%v\nwant it to contain:\n%s", err, w)
				}
			}
		})
	}
}

const srcRoutes = "sources:\n  a: {kind: mock}\nroutes:\n  - {path: /r, sources: [a]}\n"

// srcModels is srcRoutes with a model, chat, on an LLM source.
const srcModels = "sources:\n  a: {kind: mock}\n  l: {kind: openai, base_url: \"http://127.0.0.1:1/v1\", model: m}\n" +
	"routes:\n  - {path: /r, sources: [a]}\nmodels:\n  chat: {use: [l]}\n"

func TestClientKeysAreKeptOnlyAsHashes(t *testing.T) {
	dir := t.TempDir()
	bob := HashKey("bob-0123456789abcdef")
	keys := "# callers\n\nbob sha256:" + hex.EncodeToString(bob[:]) + " rate=2 burst=5 models=chat  # the builder\n"
	if err := os.WriteFile(filepath.Join(dir, "clients.keys"), []byte(keys), 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "h.yaml")
	c, err := parse(file, []byte("clients:\n  rate: 10\n  keys_file: clients.keys\n  keys: [{name: alice, key: \"${K}\"}]\n"+srcModels),
		env(map[string]string{"K": "alice-0123456789abcdef"}))
	if err != nil {
		t.Fatal(err)
	}
	want := []ClientKey{
		{Name: "alice", Rate: 10, Burst: 10, Hash: HashKey("alice-0123456789abcdef")},
		{Name: "bob", SHA256: "sha256:" + hex.EncodeToString(bob[:]), Rate: 2, Burst: 5, Hash: bob, Models: []string{"chat"}},
	}
	if len(c.Clients.Keys) != len(want) {
		t.Fatalf("keys %+v", c.Clients.Keys)
	}
	for i, k := range c.Clients.Keys {
		if !reflect.DeepEqual(*k, want[i]) {
			t.Errorf("key %d: %+v, want %+v", i, *k, want[i])
		}
	}
	for _, line := range []string{"bob 1234", "bob sha256:ab rate=x", "bob sha256:ab color=red"} {
		os.WriteFile(filepath.Join(dir, "clients.keys"), []byte(line+"\n"), 0o600)
		_, err := parse(file, []byte("clients: {keys_file: clients.keys}\n"+srcRoutes), env(nil))
		if err == nil || !strings.Contains(err.Error(), "clients.keys:1:") {
			t.Errorf("keys file line %q: %v, want an error naming the file and line", line, err)
		}
	}
}

func TestNeedsFallbacksAndBodyParse(t *testing.T) {
	c, err := parse("f.yaml", []byte(`
sources:
  weather: {kind: mock, data: {temp: 22}}
  search:  {kind: mock, data: {hits: [a]}}
  brief:
    kind: http
    url: http://127.0.0.1:1/brief
    needs: [weather, search]
    fallback: {search: {hits: []}}
    body: '{"t": "{{.weather.temp}}", "h": "{{.search.hits}}"}'
routes:
  - {path: /r, sources: [brief, weather, search]}
`), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	b := c.Sources["brief"]
	if b.Spec.(*HTTP).Method != "POST" || len(b.Needs) != 2 || string(b.Fallback["search"]) != `{"hits":[]}` {
		t.Errorf("brief: method %s needs %v fallback %s", b.Spec.(*HTTP).Method, b.Needs, b.Fallback["search"])
	}
}

func TestAllProblemsAreReportedTogether(t *testing.T) {
	_, err := parse("f.yaml", []byte("sources:\n  a: {kind: mock, latency: x, jitter: y}\nroutes:\n  - {path: r, sources: [zz]}\n"), env(nil))
	var errs Errors
	if !errors.As(err, &errs) || len(errs) != 2 {
		t.Fatalf("want the two decode errors first, got %v", err)
	}
	_, err = parse("f.yaml", []byte("sources:\n  a: {kind: mock}\nroutes:\n  - {path: r, sources: [zz]}\n"), env(nil))
	if !errors.As(err, &errs) || len(errs) != 2 {
		t.Fatalf("want two validation errors, got %v", err)
	}
}

func TestEnvironmentExpansion(t *testing.T) {
	vars := env(map[string]string{"KEY": "k1", "HOST": "127.0.0.1"})
	cases := []struct{ in, want, err string }{
		{"plain", "plain", ""},
		{"Bearer ${KEY}", "Bearer k1", ""},
		{"http://${HOST}:${PORT:-9000}/x", "http://127.0.0.1:9000/x", ""},
		{"$${KEY} stays", "${KEY} stays", ""},
		{"${MISSING}", "", "environment variable MISSING is not set"},
		{"${KEY", "", "unclosed"},
		{"${1BAD}", "", "invalid environment variable name"},
	}
	for _, c := range cases {
		got, err := expand(c.in, vars)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("expand(%q) err = %v, want %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("expand(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

func TestDataBecomesJSONInOrder(t *testing.T) {
	c, err := parse("f.yaml", []byte(`
sources:
  a:
    kind: mock
    data:
      z: 1
      a: [true, null, 2.5, "x\"y", 0x10]
      m: {k: ~}
      s: "<b>&"
routes: [{path: /r, sources: [a]}]
`), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(c.Sources["a"].Spec.(*Mock).Data), `{"z":1,"a":[true,null,2.5,"x\"y",16],"m":{"k":null},"s":"<b>&"}`; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestLoadNamesTheFile(t *testing.T) {
	if _, err := Load(filepath.Join(t.TempDir(), "missing.yaml")); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("err = %v", err)
	}
	p := filepath.Join(t.TempDir(), "h.yaml")
	os.WriteFile(p, []byte("sources: {a: {kind: mock}}\nroutes: [{path: /r, sources: [b]}]\n"), 0o600)
	if _, err := Load(p); err == nil || !strings.HasPrefix(err.Error(), p+":2:") {
		t.Errorf("err = %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(defaultYAML)
	f.Add([]byte("sources: {a: {kind: http, url: 'http://x', headers: {A: '${X:-y}'}}}\nroutes: [{path: /r, sources: [a]}]"))
	f.Add([]byte("a: &x [*x]"))
	f.Add([]byte("sources: {a: {kind: mock, needs: [b]}, b: {kind: mock, needs: [a]}, c: {kind: http, url: 'http://x', needs: [a], fallback: {a: 1}, body: '{\"x\": \"{{.a.y}}\"}'}}\nroutes: [{path: /r, sources: [a, b, c]}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parse("fuzz.yaml", data, env(nil))
		if (c == nil) == (err == nil) {
			t.Fatalf("config %v and error %v", c, err)
		}
		if err != nil && err.Error() == "" {
			t.Fatal("empty error")
		}
	})
}

func TestOpenAISourceConfig(t *testing.T) {
	c, err := parse("f.yaml", []byte(`
sources:
  chat:
    kind: openai
    base_url: https://api.openai.com/v1
    model: gpt-4o-mini
    api_key: ${OPENAI_API_KEY}
    system: You are Popy.
    user: Say hello to AI City.
    stream: true
    first_token_timeout: 5s
routes: [{path: /chat, sources: [chat]}]
`), env(map[string]string{"OPENAI_API_KEY": "sk-x"}))
	if err != nil {
		t.Fatal(err)
	}
	s := c.Sources["chat"]
	if l := s.Spec.(*LLM); l.APIKey != "sk-x" || !l.Stream || s.Timeout.Std() != DefaultLLMTimeout || *s.Idempotent || s.Retry != nil || s.Breaker == nil {
		t.Errorf("%+v", s)
	}
}

func TestPolicyConfigAndDefaults(t *testing.T) {
	c, err := parse("f.yaml", []byte(`
sources:
  plain: {kind: http, url: "http://127.0.0.1:9000/a"}
  post:  {kind: http, url: "http://127.0.0.1:9000/b", method: POST}
  search:
    kind: http
    url: "http://127.0.0.1:9000/search"
    timeout: 2s
    retry: {attempts: 3, backoff: 50ms}
    hedge: {delay: p95, max_extra: 5%}
    breaker: {failures: 5, cooldown: 10s}
    concurrency: 256
    coalesce: true
    cache: {ttl: 30s}
  tailed: {kind: mock, latency: 50ms, tail: {rate: 1%, latency: 1s}, hedge: {delay: 60ms}, failure_rate: 0.5%}
routes:
  - {path: /city-report, sources: [plain, search, tailed], optional: [search]}
`), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	p, post, s, m := c.Sources["plain"], c.Sources["post"], c.Sources["search"], c.Sources["tailed"]
	if !*p.Idempotent || *p.Retry != DefaultRetry || *p.Breaker != DefaultBreaker {
		t.Errorf("plain http GET defaults: %+v %+v %+v", *p.Idempotent, p.Retry, p.Breaker)
	}
	if *post.Idempotent || post.Retry != nil || post.Breaker == nil {
		t.Errorf("POST is not idempotent, so no default retry: %+v", post)
	}
	if s.Retry.Attempts != 3 || s.Hedge.Delay.Percentile != 95 || s.Hedge.MaxExtra != 0.05 || s.Breaker.Failures != 5 ||
		s.Concurrency != 256 || !s.Coalesce || s.Cache.TTL.Std() != 30*time.Second || s.Retry.MaxBackoff != DefaultRetry.MaxBackoff {
		t.Errorf("search: %+v %+v %+v", s.Retry, s.Hedge, s.Cache)
	}
	if mk := m.Spec.(*Mock); mk.Tail.Rate != 0.01 || m.Hedge.Delay.Fixed != 60*time.Millisecond || m.Hedge.MaxExtra != DefaultMaxExtra || mk.FailureRate != 0.005 || m.Breaker != nil || m.Retry != nil {
		t.Errorf("tailed mock: %+v %+v", mk.Tail, m.Hedge)
	}
	if !c.Routes[0].IsOptional("search") || c.Routes[0].IsOptional("plain") || c.Admission != DefaultAdmission {
		t.Errorf("route %+v admission %+v", c.Routes[0], c.Admission)
	}
}

func FuzzRatioAndHedgeDelay(f *testing.F) {
	for _, s := range []string{"5%", "0.05", "1", "150%", "p95", "p99.9", "60ms", "p0", "-1", "NaN", "1e-3%"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var r Ratio
		if err := r.UnmarshalText([]byte(s)); err == nil && !(r >= 0 && r <= 1) {
			t.Fatalf("Ratio %q = %v, outside 0..1", s, r)
		}
		var h HedgeDelay
		if err := h.UnmarshalText([]byte(s)); err == nil && !(h.Fixed > 0 || h.Percentile > 0 && h.Percentile < 100) {
			t.Fatalf("HedgeDelay %q = %+v", s, h)
		}
	})
}

// No config error shows a secret: a value from the environment, a URL's
// password or its query values.
func TestHostileConfigErrorsShowNoSecret(t *testing.T) {
	secrets := env(map[string]string{"LATENCY": "sk-latency-secret", "OPENAI_API_KEY": "sk-live-0123456789"})
	for _, c := range []struct {
		yaml string
		keep []string
	}{
		{`
sources:
  a: {kind: mock, latency: "${LATENCY}"}
  c: {kind: openai, base_url: "http://x/v1", model: m, user: hi, api_key: "${OPENAI_API_KEY}", max_tokens: "${OPENAI_API_KEY}"}
routes: [{path: /r, sources: [a, c]}]
`, []string{"sources.a.latency", "sources.c.max_tokens", "[redacted]"}},
		{`
sources:
  b: {kind: http, url: "http://alice:pa55word@/v1?api_key=topsecret&city=Paris"}
  c: {kind: openai, base_url: "ftp://bob:hunter22@x/v1?key=k3y-value", model: m, user: "hi ${OPENAI_API_KEY}"}
  d: {kind: http, url: "http://x/{{.params.nope}}?token=${LATENCY}"}
routes: [{path: /r, sources: [b, c, d]}]
`, []string{"api_key=REDACTED", "alice:REDACTED@", "sources.c.base_url", "source d refers to"}},
	} {
		_, err := parse("s.yaml", []byte(c.yaml), secrets)
		if err == nil {
			t.Fatal("the config was accepted")
		}
		msg := err.Error()
		for _, secret := range []string{"sk-latency-secret", "pa55word", "topsecret", "hunter22", "k3y-value", "sk-live-0123456789", "Paris"} {
			if strings.Contains(msg, secret) {
				t.Errorf("the message shows %q:\n%s", secret, msg)
			}
		}
		for _, kept := range c.keep {
			if !strings.Contains(msg, kept) {
				t.Errorf("the message lost %q:\n%s", kept, msg)
			}
		}
	}
}

// Caches are bounded in bytes: each by its cache.max_bytes, all together
// by cache_max_bytes, whose rest is shared among caches that set none.
func TestCacheBytesAreSharedWithinTheTotal(t *testing.T) {
	c, err := parse("c.yaml", []byte(`
cache_max_bytes: 1MiB
sources:
  a: {kind: mock, cache: {ttl: 1s, max_bytes: 256KiB}}
  b: {kind: mock, cache: {ttl: 1s}}
  c: {kind: mock, cache: {ttl: 1s}}
routes: [{path: /r, sources: [a, b, c]}]
`), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if a, b := c.CacheBytes(c.Sources["a"]), c.CacheBytes(c.Sources["b"]); a != 256<<10 || b != 384<<10 {
		t.Errorf("a %d, b %d bytes", a, b)
	}
	if d := Default(); d.CacheMaxBytes != DefaultCacheBytes {
		t.Errorf("default total %d", d.CacheMaxBytes)
	}
	_, err = parse("c.yaml", []byte(`
cache_max_bytes: 100KiB
sources:
  a: {kind: mock, cache: {ttl: 1s, max_bytes: 1GiB}}
  b: {kind: mock, cache: {ttl: 1s, max_bytes: 12 parsecs}}
routes: [{path: /r, sources: [a]}]
`), env(nil))
	if err == nil || !strings.Contains(err.Error(), "sources.b.cache.max_bytes: want a size in bytes") {
		t.Errorf("a bad size: %v", err)
	}
	_, err = parse("c.yaml", []byte(`
cache_max_bytes: 100KiB
sources: {a: {kind: mock, cache: {ttl: 1s, max_bytes: 1GiB}}}
routes: [{path: /r, sources: [a]}]
`), env(nil))
	if err == nil || !strings.Contains(err.Error(), "cache_max_bytes: the sources' and models' caches add up to 1073741824 bytes") {
		t.Errorf("over the total: %v", err)
	}
}

// A parameter's default that came from the environment is hidden where
// the parameter is shown (the page's routes).
func TestAParameterDefaultFromTheEnvironmentIsHidden(t *testing.T) {
	c, err := parse("p.yaml", []byte(`
sources: {a: {kind: mock}}
routes: [{path: /r, params: {tenant: {default: "${TENANT_TOKEN}"}, city: {default: Paris}}, sources: [a]}]
`), env(map[string]string{"TENANT_TOKEN": "tok-0123456789"}))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(c.Routes[0].Params)
	if strings.Contains(string(b), "tok-0123456789") || !strings.Contains(string(b), `"default":"Paris"`) {
		t.Errorf("%s", b)
	}
}

// YAML merge keys work as YAML says: a base's fields, overridden by the
// mapping's own; a base that is not a mapping is a located error.
func TestMergeKeys(t *testing.T) {
	c, err := parse("f.yaml", []byte(`
sources:
  a: &base {kind: mock, latency: 10ms, data: {x: 1}}
  b: {<<: *base, latency: 20ms}
  c: {<<: [*base, {jitter: 5ms}]}
routes: [{path: /r, sources: [a, b, c]}]
`), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	b, cc := c.Sources["b"].Spec.(*Mock), c.Sources["c"].Spec.(*Mock)
	if c.Sources["b"].Kind != KindMock || b.Latency != Duration(20*time.Millisecond) || string(b.Data) != `{"x":1}` || cc.Jitter != Duration(5*time.Millisecond) {
		t.Errorf("b %+v, c %+v", b, cc)
	}
	_, err = parse("f.yaml", []byte("sources:\n  a: {<<: 3, kind: mock}\nroutes: [{path: /r, sources: [a]}]\n"), env(nil))
	if err == nil || !strings.Contains(err.Error(), "f.yaml:2:7: sources.a.<<: want a mapping") {
		t.Errorf("err = %v", err)
	}
}
