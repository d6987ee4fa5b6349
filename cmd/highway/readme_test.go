package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/citypopy/highway/internal/config"
)

// The README cannot drift from the program: every console block runs as
// written (its ports made free ones, a surge cut to 3s) and prints what the
// block shows, every configuration in it loads, and a block that shows an
// example file is that file, byte for byte.

// block is one fenced block of the README.
type block struct {
	lang, marker string // marker: the <!-- ... --> comment just above it, if any
	line         int
	text         string
}

func readmeBlocks(t *testing.T) []block { return docBlocks(t, "../../README.md") }

// docBlocks are the fenced blocks of the Markdown file at path.
func docBlocks(t *testing.T, path string) []block {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []block
	var cur *block
	var indent, marker string
	for i, l := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimLeft(l, " ")
		switch {
		case cur == nil && strings.HasPrefix(trimmed, "```") && len(trimmed) > 3:
			indent = l[:len(l)-len(trimmed)]
			cur = &block{lang: trimmed[3:], marker: marker, line: i + 1}
		case cur != nil && trimmed == "```":
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			cur.text += strings.TrimPrefix(l, indent) + "\n"
		case strings.HasPrefix(trimmed, "<!--"):
			marker = strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(trimmed, "<!--"), "-->"))
			continue
		}
		if strings.TrimSpace(l) != "" {
			marker = ""
		}
	}
	return out
}

func TestEveryConfigInTheReadmeLoads(t *testing.T) {
	n := 0
	for _, b := range readmeBlocks(t) {
		if b.lang != "yaml" || b.marker == "not highway.yaml" {
			continue
		}
		n++
		if checkInclude(t, "README.md", b) {
			continue
		}
		if err := loadsOverTheDefault(t, b.text); err != nil {
			t.Errorf("README.md:%d does not load:\n%v\n%s", b.line, err, b.text)
		}
	}
	if n < 10 {
		t.Errorf("only %d configurations found in the README", n)
	}
}

// checkInclude checks that block b of doc, marked "include FILE", is
// that file as it is; false when it is not so marked.
func checkInclude(t *testing.T, doc string, b block) bool {
	t.Helper()
	file, ok := strings.CutPrefix(b.marker, "include ")
	if !ok {
		return false
	}
	want, err := os.ReadFile(filepath.Join("../..", file))
	if err != nil || string(want) != b.text {
		t.Errorf("%s:%d is not %s as it is (%v): copy the file in again", doc, b.line, file, err)
	}
	return true
}

var (
	envRef   = regexp.MustCompile(`\$\{([A-Z_][A-Z0-9_]*)\}`)
	paramRef = regexp.MustCompile(`\.params\.([a-z_]+)`)
)

// loadsOverTheDefault loads a README configuration as a user would paste
// it into a copy of the embedded default: its sources join the default's,
// its other sections replace theirs, and without routes of its own one
// route asks every source (declaring the parameters they use). Variables
// it names are set; a keys file it names exists.
// isLLM reports whether a source's YAML is an LLM source's.
func isLLM(s any) bool {
	kind, _ := s.(map[string]any)["kind"].(string)
	return kind == config.KindOpenAI || kind == config.KindAnthropic
}

func loadsOverTheDefault(t *testing.T, text string) error {
	var base, add map[string]any
	if err := yaml.Unmarshal(config.DefaultYAML(), &base); err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal([]byte(text), &add); err != nil {
		return err
	}
	for k, v := range add {
		if k == "sources" {
			for name, s := range v.(map[string]any) {
				base["sources"].(map[string]any)[name] = s
			}
			continue
		}
		base[k] = v
	}
	if _, ok := add["routes"]; !ok {
		names := slices.Sorted(func(yield func(string) bool) {
			for name, s := range base["sources"].(map[string]any) {
				if _, prompted := s.(map[string]any)["user"]; !prompted && isLLM(s) {
					continue // a model's source, asked the client's messages: no route can use it
				}
				if !yield(name) {
					return
				}
			}
		})
		params := map[string]any{}
		for _, m := range paramRef.FindAllStringSubmatch(text+string(config.DefaultYAML()), -1) {
			params[m[1]] = map[string]any{"default": "Citypopy"}
		}
		base["routes"] = []any{map[string]any{"path": "/readme", "sources": names, "params": params}}
	}
	out, err := yaml.Marshal(base)
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"HIGHWAY_MOCK_ADDR": "127.0.0.1:9"}
	for _, m := range envRef.FindAllStringSubmatch(text, -1) {
		vars[m[1]] = "readme-placeholder-0123456789"
	}
	dir := t.TempDir()
	if c, ok := base["clients"].(map[string]any); ok {
		if f, ok := c["keys_file"].(string); ok {
			os.WriteFile(filepath.Join(dir, f), nil, 0o600)
		}
	}
	path := filepath.Join(dir, "highway.yaml")
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = config.LoadEnv(path, config.Vars(vars))
	return err
}

var (
	longSurge = regexp.MustCompile(`-duration (\d+)s`)
	jsonKey   = regexp.MustCompile(`"[a-z_]+":`)
	word      = regexp.MustCompile(`[A-Za-z]{4,}`)
)

func TestEveryConsoleBlockInTheReadmeRuns(t *testing.T) {
	bin := build(t)
	n := 0
	for _, b := range readmeBlocks(t) {
		if b.lang != "console" {
			continue
		}
		n++
		t.Run(fmt.Sprintf("README.md:%d", b.line), func(t *testing.T) {
			s := newSession(t, bin)
			steps := consoleSteps(b.text)
			if !slices.ContainsFunc(steps, func(st step) bool { return strings.Contains(st.cmd, "highway serve") }) {
				s.run("highway serve -log off &") // the server of Set up, in its own terminal
			}
			for _, st := range steps {
				cmd := longSurge.ReplaceAllStringFunc(st.cmd, func(d string) string { return "-duration 3s" })
				out, code := s.run(cmd)
				failing := strings.Contains(st.shown, "is invalid") || strings.Contains(st.shown, "stopped early")
				if (code != 0) != failing {
					t.Errorf("$ %s: exit %d\n%s", st.cmd, code, out)
				}
				for _, tok := range shownTokens(st.shown) {
					if !strings.Contains(out, tok) {
						t.Errorf("$ %s: the README shows %q, which the output lacks:\n%.2000s", st.cmd, tok, out)
					}
				}
			}
		})
	}
	if n < 8 {
		t.Errorf("only %d console blocks found in the README", n)
	}
}

// step is one command of a console block and what the block shows of its
// output.
type step struct{ cmd, shown string }

func consoleSteps(text string) []step {
	var steps []step
	for _, l := range strings.Split(text, "\n") {
		if cmd, ok := strings.CutPrefix(l, "$ "); ok {
			if !strings.HasPrefix(cmd, "#") {
				steps = append(steps, step{cmd: cmd})
			}
			continue
		}
		if len(steps) > 0 {
			steps[len(steps)-1].shown += l + "\n"
		}
	}
	return steps
}

// shownTokens are what output the README shows must contain, whatever the
// numbers of the day: its JSON keys and its words.
func shownTokens(shown string) []string {
	var toks []string
	seen := map[string]bool{}
	for _, tok := range append(jsonKey.FindAllString(shown, -1), word.FindAllString(shown, -1)...) {
		if !seen[tok] {
			seen[tok] = true
			toks = append(toks, tok)
		}
	}
	return toks
}
