package route

import (
	"errors"
	"net/http"
	"testing"

	"github.com/citypopy/highway/internal/config"
	"github.com/citypopy/highway/internal/reply"
)

func FuzzRouteQuery(f *testing.F) {
	for _, q := range []string{"", "mode=sequential", "lanes=2&stream=1", "city=Paris&days=3", "%zz", "lanes=-1", "mode=x&mode=y", "days=1e9", "city=" + "\x00"} {
		f.Add(q)
	}
	rt, err := build(`
sources: {a: {kind: mock}, b: {kind: mock}}
routes:
  - path: /r
    sources: [a, b]
    params:
      city: {pattern: "[A-Za-z ]{1,20}", default: Citypopy}
      days: {type: int, default: "1"}
`)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		req, err := rt.Parse(raw)
		if err != nil {
			var re *reply.Error
			if !errors.As(err, &re) || re.Status != http.StatusBadRequest || re.Msg == "" {
				t.Fatalf("%q: %v is not a 400 with a message", raw, err)
			}
			return
		}
		if req.options.Lanes < 0 || req.options.Lanes > 2 && req.options.Lanes != 0 && req.mode == "sequential" {
			t.Fatalf("%q: lanes %d mode %s", raw, req.options.Lanes, req.mode)
		}
		if err := config.CheckParam(rt.params["city"], req.params["city"]); err != nil {
			t.Fatalf("%q let an invalid city through: %v", raw, err)
		}
		if err := config.CheckParam(rt.params["days"], req.params["days"]); err != nil {
			t.Fatalf("%q let invalid days through: %v", raw, err)
		}
	})
}
