// Package dashboard serves Highway's web page and what it reads and
// starts: the routes, the sources' health, the front door's traffic, a
// bounded surge against the server's own routes and the "what is
// await?" demonstration.
package dashboard

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/citypopy/highway/internal/clients"
	"github.com/citypopy/highway/internal/config"
	"github.com/citypopy/highway/internal/door"
	"github.com/citypopy/highway/internal/reply"
	"github.com/citypopy/highway/internal/route"
	"github.com/citypopy/highway/internal/upstream"
	"github.com/citypopy/highway/internal/web"
)

// The dashboard's endpoints, under config.ReservedPrefix.
const (
	RoutesPath  = "/highway/routes"
	SourcesPath = "/highway/sources"
	SurgePath   = "/highway/surge"
	DoorPath    = "/highway/door"
)

// Dashboard serves the web page at / and the endpoints it reads, for one
// configuration's routes and sources. It is safe for concurrent use.
type Dashboard struct {
	limits       config.Dashboard
	routes       any                           // the answer of RoutesPath: the config's, read only
	getRoutes    map[string]bool               // the paths a surge may target
	upstreams    map[string]*upstream.Upstream // the sources whose health SourcesPath tells
	clients      *clients.Clients              // who may read and start what the page does
	writeTimeout time.Duration
	page         http.Handler
	surging      atomic.Bool
	awaitRoutes  map[string]*route.Route // the "what is await?" demonstration, by context=
	door         *door.Door              // whose traffic DoorPath tells; nil: no models
}

// New is the dashboard of cfg, whose sources are upstreams and whose
// models d serves (nil: none); with keys asked for (c), only a caller
// with one reads or starts anything but the page itself.
func New(cfg *config.Config, upstreams map[string]*upstream.Upstream, d *door.Door, c *clients.Clients) (*Dashboard, error) {
	demo, err := awaitRoutes()
	if err != nil {
		return nil, fmt.Errorf("the await demonstration: %w", err)
	}
	dash := &Dashboard{limits: cfg.Dashboard, upstreams: upstreams, clients: c, writeTimeout: cfg.Server.WriteTimeout.Std(),
		page: web.Handler(), awaitRoutes: demo, getRoutes: map[string]bool{}, door: d}
	for _, rc := range cfg.Routes {
		if rc.Method == http.MethodGet {
			dash.getRoutes[rc.Path] = true
		}
	}
	dash.routes = routesOf(cfg)
	return dash, nil
}

// Serve answers r when it is for the page or one of its endpoints, and
// says whether it was; any other request is left to the caller.
func (d *Dashboard) Serve(w http.ResponseWriter, r *http.Request) bool {
	switch r.URL.Path {
	case "/", "/index.html":
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			reply.WriteError(w, &reply.Error{Status: http.StatusMethodNotAllowed, Allow: "GET", Msg: "the page is GET only"})
			return true
		}
		d.page.ServeHTTP(w, r)
	case RoutesPath, SourcesPath, SurgePath, AwaitPath, DoorPath:
		// The page itself is public; what it reads and starts is not.
		if _, err := d.clients.Admit(r); err != nil {
			reply.WriteError(w, err)
			return true
		}
		switch r.URL.Path {
		case RoutesPath:
			reply.JSON(w, d.routes)
		case SourcesPath:
			reply.JSON(w, d.sources())
		case DoorPath:
			reply.JSON(w, d.door.Traffic())
		case AwaitPath:
			d.await(w, r)
		default:
			if crossSite(r) {
				reply.WriteError(w, &reply.Error{Status: http.StatusForbidden,
					Msg: "a surge starts only from this server's own page, not from another site's"})
				return true
			}
			d.surge(w, r)
		}
	default:
		if len(r.URL.Path) > len(web.StaticPrefix) && r.URL.Path[:len(web.StaticPrefix)] == web.StaticPrefix {
			d.page.ServeHTTP(w, r)
			return true
		}
		return false
	}
	return true
}
