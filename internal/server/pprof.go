package server

import (
	"net/http"
	"net/http/pprof"
	"strings"
)

// pprofPath is where the admin listener serves Go's profiles. They are
// never on the main listener: a profile shows the program's insides.
const pprofPath = "/debug/pprof/"

func servePprof(w http.ResponseWriter, r *http.Request) {
	switch strings.TrimPrefix(r.URL.Path, pprofPath) {
	case "cmdline":
		pprof.Cmdline(w, r)
	case "profile":
		pprof.Profile(w, r)
	case "symbol":
		pprof.Symbol(w, r)
	case "trace":
		pprof.Trace(w, r)
	default:
		pprof.Index(w, r)
	}
}
