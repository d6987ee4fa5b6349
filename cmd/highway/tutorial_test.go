package main

import (
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// docs/tutorial.md, the seed's build quest in Go: every program it shows
// is examples/tutorial/STEP/main.go as it is, and each runs and prints
// what the tutorial shows (step 4 serves, and answers curl as shown).
func TestTheTutorialRunsAsWritten(t *testing.T) {
	blocks := docBlocks(t, "../../docs/tutorial.md")
	programs := 0
	for i, b := range blocks {
		if !checkInclude(t, "docs/tutorial.md", b) || b.lang != "go" {
			continue
		}
		programs++
		dir := filepath.Dir(strings.TrimPrefix(b.marker, "include "))
		var shown []step
		if i+1 < len(blocks) && blocks[i+1].lang == "console" {
			shown = consoleSteps(blocks[i+1].text)
		}
		if len(shown) == 0 {
			t.Errorf("docs/tutorial.md:%d: no console block shows what %s prints", b.line, dir)
			continue
		}
		t.Run(filepath.Base(dir), func(t *testing.T) {
			bin := filepath.Join(t.TempDir(), "step")
			if out, err := exec.Command("go", "build", "-o", bin, "../../"+dir).CombinedOutput(); err != nil {
				t.Fatalf("go build %s: %v\n%s", dir, err, out)
			}
			out, want := runStep(t, bin, shown)
			for _, tok := range shownTokens(want) {
				if !strings.Contains(out, tok) {
					t.Errorf("the tutorial shows %q, which %s does not print:\n%s", tok, dir, out)
				}
			}
		})
	}
	if programs != 6 {
		t.Errorf("%d programs in the tutorial, want its four steps, the mini project and the stretch", programs)
	}
}

// runStep runs a tutorial program as its console block does: go run . (in
// the background, for a server, then the block's curl), returning what it
// printed and what the block shows of it.
func runStep(t *testing.T, bin string, shown []step) (out, want string) {
	t.Helper()
	if !strings.HasSuffix(shown[0].cmd, "&") {
		b, err := exec.Command(bin).CombinedOutput()
		if err != nil {
			t.Fatalf("%v\n%s", err, b)
		}
		return string(b), shown[0].shown
	}
	addr := freeAddr(t)
	cmd := exec.Command(bin, "-addr", addr)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	path := shown[1].cmd[strings.Index(shown[1].cmd, "localhost:8000")+len("localhost:8000"):]
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return string(b), shown[1].shown
	}
	t.Fatalf("the step 4 server never answered at %s", addr)
	return "", ""
}
