package dashboard

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/citypopy/highway/internal/reply"
	"github.com/citypopy/highway/internal/sse"
	"github.com/citypopy/highway/internal/surge"
)

// crossSite reports whether r was sent by another site's page: a browser
// says so in Sec-Fetch-Site, and one too old for that in Origin. A request
// with neither (curl, a script) is no page's, and a user typing the URL
// is "none". A surge is started by a GET (the page reads its ticks as an
// event stream), which a cross-site page could otherwise send unseen.
func crossSite(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default: // cross-site, same-site
		return true
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		return err != nil || u.Host != r.Host
	}
	return false
}

// surge runs a bounded surge against one of the server's own routes and
// streams a tick each second, then the summary. One at a time.
func (d *Dashboard) surge(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	route := q.Get("route")

	users, uerr := strconv.Atoi(q.Get("users"))
	dur, derr := time.ParseDuration(q.Get("duration"))
	max := d.limits.SurgeMaxDuration.Std()
	switch {
	case !d.getRoutes[route]:
		reply.WriteError(w, reply.BadRequest("route must be one of this server's GET routes, got "+strconv.Quote(route)))
		return
	case d.limits.SurgeMaxUsers < 1:
		reply.WriteError(w, &reply.Error{Status: http.StatusForbidden, Msg: "surges are turned off (dashboard.surge_max_users)"})
		return
	case uerr != nil || users < 1 || users > d.limits.SurgeMaxUsers:
		reply.WriteError(w, reply.BadRequest(fmt.Sprintf("users must be from 1 to %d", d.limits.SurgeMaxUsers)))
		return
	case derr != nil || dur <= 0 || dur > max:
		reply.WriteError(w, reply.BadRequest(fmt.Sprintf("duration must be above 0 and at most %v", max)))
		return
	case !d.surging.CompareAndSwap(false, true):
		reply.WriteError(w, &reply.Error{Status: http.StatusConflict, Msg: "a surge is already running; wait for it to end"})
		return
	}
	defer d.surging.Store(false)
	// The target is the address this request came in on: the server
	// itself, whatever Host the client sent.
	local, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if local == nil {
		reply.WriteError(w, &reply.Error{Status: http.StatusInternalServerError, Msg: "no local address"})
		return
	}
	target := "http://" + local.String() + route
	if m := q.Get("mode"); m == "sequential" || m == "concurrent" {
		target += "?mode=" + m
	}
	sw := sse.NewWriter(w, d.writeTimeout)
	id := 0
	// The surge's users are the caller: same key, same rate limit.
	var header http.Header
	for _, k := range []string{"Authorization", "X-Api-Key"} {
		if v := r.Header.Get(k); v != "" {
			if header == nil {
				header = http.Header{}
			}
			header.Set(k, v)
		}
	}
	s, err := surge.Run(r.Context(), surge.Options{URL: target, Users: users, Duration: dur, Tick: time.Second, AllowRemote: true, Header: header,
		OnTick: func(t surge.TickStats) {
			id++
			t.InFlight = max0(t.InFlight)
			b, _ := json.Marshal(t)
			sw.Event(id, "tick", b)
		}})
	if err != nil {
		b, _ := json.Marshal(map[string]string{"error": err.Error()})
		sw.Event(id+1, "error", b)
		return
	}
	b, _ := json.Marshal(map[string]any{"requests": s.Requests, "per_sec": s.PerSec, "p50_ms": ms(s.All.P50), "p99_ms": ms(s.All.P99),
		"shed": s.Shed, "errors": s.ErrorCount(), "peak_in_flight": s.PeakInFlight, "statuses": s.Statuses})
	sw.Event(id+1, "summary", b)
}
