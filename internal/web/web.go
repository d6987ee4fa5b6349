// Package web is the live dashboard served at /: the lanes of a route as
// its sources land, the race between the single lane and the highway, a
// bounded surge with its live chart, and the health of the sources. Its
// files are embedded; it makes no request beyond the server it came from.
package web

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed static
var files embed.FS

// StaticPrefix is where the page's script and stylesheet are served.
const StaticPrefix = "/highway/static/"

// Handler serves the page at / and its files under StaticPrefix.
func Handler() http.Handler {
	static, _ := fs.Sub(files, "static")
	fileServer := http.StripPrefix(StaticPrefix, http.FileServerFS(static))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self' data:")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if r.URL.Path == "/" || r.URL.Path == "/index.html" {
			http.ServeFileFS(w, r, static, "index.html")
			return
		}
		fileServer.ServeHTTP(w, r)
	})
}
