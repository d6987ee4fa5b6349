package highway_test

import (
	"go/build"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/citypopy/highway/"

// layers says, for each package of the module, which of the module's
// packages it may import: the house drawn from its imports. Nothing
// reaches upward; fanout, at the bottom, imports the standard library
// and its own goroutine helper alone.
var layers = map[string][]string{
	"fanout":             {"internal/routine"},
	"internal/routine":   nil,
	"internal/template":  nil,
	"internal/sse":       nil,
	"internal/wire":      nil,
	"internal/web":       nil,
	"internal/surge":     nil,
	"policy":             {"fanout", "internal/routine"},
	"source":             {"internal/routine", "internal/template", "internal/wire"},
	"internal/report":    {"fanout", "policy", "source"},
	"internal/metrics":   {"internal/report", "policy"},
	"internal/config":    {"fanout", "internal/template", "source"},
	"internal/mock":      {"internal/config", "source"},
	"internal/shared":    {"internal/config", "source"},
	"internal/admission": {"internal/config"},
	"internal/clients":   {"internal/config", "internal/metrics", "internal/shared"},
	"internal/upstream": {"fanout", "internal/config", "internal/metrics", "internal/report", "internal/shared",
		"policy", "source"},
	"internal/redistest": nil,
	"internal/balancer":  nil,
	"internal/reply":     {"internal/clients"},
	"internal/listener":  {"internal/config"},
	"internal/route": {"fanout", "internal/config", "internal/metrics", "internal/reply", "internal/report", "internal/sse",
		"internal/upstream", "policy", "source"},
	"internal/door": {"fanout", "internal/clients", "internal/config", "internal/metrics", "internal/report", "internal/shared", "internal/upstream",
		"internal/wire", "policy", "source"},
	"internal/dashboard": {"internal/clients", "internal/config", "internal/door", "internal/reply", "internal/route", "internal/sse",
		"internal/surge", "internal/upstream", "internal/web", "policy"},
	"internal/server": {"internal/admission", "internal/clients", "internal/config", "internal/dashboard", "internal/door", "internal/metrics",
		"internal/reply", "internal/route", "internal/shared", "internal/upstream"},
	"internal/cli": {"internal/config", "internal/listener", "internal/metrics", "internal/mock", "internal/report",
		"internal/server", "internal/surge"},
	"cmd/highway": {"internal/cli"},
	"bench":       {"internal/balancer", "internal/report", "internal/surge"},
	// The tutorial's programs use the library as a user's module would.
	"examples/tutorial/step1":       {"fanout"},
	"examples/tutorial/step2":       nil,
	"examples/tutorial/step3":       {"fanout"},
	"examples/tutorial/step4":       {"fanout"},
	"examples/tutorial/miniproject": {"fanout"},
	"examples/tutorial/stretch":     {"fanout"},
}

func TestNoPackageReachesUpward(t *testing.T) {
	seen := map[string]bool{}
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		if path != "." && strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "out" {
			return filepath.SkipDir
		}
		pkg, err := build.ImportDir(path, 0)
		if err != nil || path == "." {
			return nil // no Go files here, or this test alone
		}
		name := filepath.ToSlash(path)
		allowed, known := layers[name]
		if !known {
			t.Errorf("package %s is not in the layers: add it where it belongs", name)
			return nil
		}
		seen[name] = true
		for _, imp := range pkg.Imports {
			own, ok := strings.CutPrefix(imp, module)
			switch {
			case ok && !slices.Contains(allowed, own):
				t.Errorf("%s imports %s, which is not below it (it may import %v)", name, own, allowed)
			case name == "fanout" && !ok && strings.Contains(strings.Split(imp, "/")[0], "."):
				t.Errorf("fanout imports %s: it must import the standard library alone", imp)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range slices.Sorted(maps.Keys(layers)) {
		if !seen[name] {
			t.Errorf("layers names %s, which is not a package", name)
		}
	}
}
