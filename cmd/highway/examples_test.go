package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Every config in examples/ says on its first line what it shows and,
// below, what to try; each passes highway check, and its "try" lines run
// as written: the servers they name start, and every request answers as
// its comment says (a status it names, else a report).
func TestEveryExampleRunsAsItsCommentsSay(t *testing.T) {
	bin := build(t)
	files, err := filepath.Glob("../../examples/*.yaml")
	if err != nil || len(files) < 6 {
		t.Fatalf("examples: %v %v", files, err)
	}
	for _, f := range files {
		name := "examples/" + filepath.Base(f)
		t.Run(filepath.Base(f), func(t *testing.T) {
			lines := tryLines(t, f)
			s := newSession(t, bin)
			if out, code := s.run("highway check -config " + name); code != 0 {
				t.Fatalf("highway check: %s", out)
			}
			ran := 0
			for _, line := range lines {
				if strings.HasPrefix(line, "highway serve") || strings.Contains(line, " highway serve") {
					line = strings.TrimSuffix(strings.TrimSpace(strings.SplitN(line, "#", 2)[0]), "&") + " &" // a server runs on, in its own terminal
				}
				out, code := s.run(line)
				ran++
				checkAnswer(t, line, out, code)
			}
			if !s.served || ran < 2 {
				t.Errorf("%s names no highway serve, or nothing to try: %q", name, lines)
			}
		})
	}
}

var statusInComment = regexp.MustCompile(`#\s*([45][0-9][0-9])\b`)

// checkAnswer checks what a documented command printed: highway commands
// exit 0; a curl answers the status its comment names with a JSON error,
// else a report, a stream of events or the health page, never an error.
func checkAnswer(t *testing.T, line, out string, code int) {
	t.Helper()
	if code != 0 {
		t.Errorf("%s: exit %d\n%s", line, code, out)
		return
	}
	if !strings.HasPrefix(line, "curl") && !strings.Contains(line, " curl ") {
		return
	}
	if m := statusInComment.FindStringSubmatch(line); m != nil {
		if !strings.HasPrefix(strings.TrimSpace(out), `{"error":`) {
			t.Errorf("%s: want a JSON error (%s), got %.300s", line, m[1], out)
		}
		return
	}
	switch {
	case strings.HasPrefix(out, `{"error"`):
		t.Errorf("%s: %.300s", line, out)
	case !strings.Contains(out, `"route":`) && !strings.Contains(out, "event: report") && !strings.Contains(out, `"sources":`):
		t.Errorf("%s: not a report, a stream or the sources' health: %.300s", line, out)
	}
}

// tryLines are the commands an example's header comment says to try: its
// comment lines indented as a shell session ("#   highway serve ...").
func tryLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	first, _, _ := strings.Cut(text, "\n")
	if !strings.HasPrefix(first, "# ") || len(first) < 20 {
		t.Errorf("%s: the first line should say what the example shows, got %q", path, first)
	}
	var lines []string
	for _, l := range strings.Split(text, "\n") {
		if !strings.HasPrefix(l, "#") {
			break
		}
		if cmd, ok := strings.CutPrefix(l, "#   "); ok && !strings.HasPrefix(cmd, " ") {
			lines = append(lines, cmd)
		}
	}
	return lines
}
