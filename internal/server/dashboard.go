package server

import (
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/citypopy/highway/internal/config"
	"github.com/citypopy/highway/internal/sse"
	"github.com/citypopy/highway/internal/surge"
	"github.com/citypopy/highway/internal/upstream"
	"github.com/citypopy/highway/internal/web"
	"github.com/citypopy/highway/policy"
)

// The dashboard's endpoints, under config.ReservedPrefix.
const (
	RoutesPath  = "/highway/routes"
	SourcesPath = "/highway/sources"
	SurgePath   = "/highway/surge"
)

// dashboard serves the web page at / and the endpoints it reads.
type dashboard struct {
	s           *Server
	limits      config.Dashboard
	page        http.Handler
	surging     atomic.Bool
	awaitRoutes map[string]*route // the "what is await?" demonstration, by context=
}

func (d *dashboard) ServeHTTP(w http.ResponseWriter, r *http.Request) bool {
	switch r.URL.Path {
	case "/", "/index.html":
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			writeError(w, &requestError{status: http.StatusMethodNotAllowed, allow: "GET", msg: "the page is GET only"})
			return true
		}
		d.page.ServeHTTP(w, r)
	case RoutesPath, SourcesPath, SurgePath, AwaitPath:
		// The page itself is public; what it reads and starts is not.
		if _, err := d.s.clients.Admit(r); err != nil {
			writeError(w, err)
			return true
		}
		switch r.URL.Path {
		case RoutesPath:
			writeJSON(w, d.routes())
		case SourcesPath:
			writeJSON(w, d.sources())
		case AwaitPath:
			d.await(w, r)
		default:
			if crossSite(r) {
				writeError(w, &requestError{status: http.StatusForbidden,
					msg: "a surge starts only from this server's own page, not from another site's"})
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

type routeInfo struct {
	Path     string                   `json:"path"`
	Method   string                   `json:"method"`
	Sources  []string                 `json:"sources"`
	Optional []string                 `json:"optional,omitempty"`
	Needs    map[string][]string      `json:"needs,omitempty"`
	Params   map[string]*config.Param `json:"params,omitempty"`
}

func (d *dashboard) routes() any {
	var out []routeInfo
	for _, p := range d.s.paths {
		rt := d.s.routes[p]
		ri := routeInfo{Path: p, Method: rt.method, Params: rt.params}
		for i, t := range rt.tasks {
			ri.Sources = append(ri.Sources, t.Name)
			if rt.shape.Optional[i] {
				ri.Optional = append(ri.Optional, t.Name)
			}
			if len(t.Needs) > 0 {
				if ri.Needs == nil {
					ri.Needs = map[string][]string{}
				}
				ri.Needs[t.Name] = t.Needs
			}
		}
		out = append(out, ri)
	}
	return map[string]any{"routes": out, "surge": map[string]any{
		"max_users": d.limits.SurgeMaxUsers, "max_duration_s": d.limits.SurgeMaxDuration.Std().Seconds()}}
}

type sourceHealth struct {
	Name      string  `json:"name"`
	Kind      string  `json:"kind"`
	Calls     int64   `json:"calls"`
	Failures  int64   `json:"failures"`
	ErrorRate float64 `json:"error_rate"` // since start (or the source's last change)
	// RecentErrorRate is over the last RecentCalls calls, at most 100.
	RecentErrorRate float64 `json:"recent_error_rate"`
	RecentCalls     int     `json:"recent_calls"`
	// Percentiles are of the last Samples successful calls (at most 512),
	// and null until there are MinSamples of them.
	P50MS      *float64            `json:"p50_ms"`
	P95MS      *float64            `json:"p95_ms"`
	P99MS      *float64            `json:"p99_ms"`
	Samples    int                 `json:"samples"`
	MinSamples int                 `json:"min_samples"`
	LastError  *upstream.LastError `json:"last_error"`
	Breaker    string              `json:"breaker"`
	// Tokens and cost, for an LLM source: since it was built.
	InputTokens  *int64   `json:"input_tokens,omitempty"`
	OutputTokens *int64   `json:"output_tokens,omitempty"`
	CostUSD      *float64 `json:"cost_usd,omitempty"`
	// For a source with failover_hedge: the 95th percentile of the times
	// it took to begin its answers (an LLM's first token), and how many
	// it has; the percentile is left out until MinSamples.
	FirstTokenP95MS  *float64 `json:"first_token_p95_ms,omitempty"`
	FirstTokenSample *int     `json:"first_token_samples,omitempty"`
}

func (d *dashboard) sources() any {
	var out []sourceHealth
	for _, name := range slices.Sorted(maps.Keys(d.s.upstreams)) {
		u := d.s.upstreams[name]
		h := sourceHealth{Name: name, Kind: u.Kind, Calls: u.Health.Calls.Load(), Failures: u.Health.Failures.Load(), Breaker: "none",
			Samples: u.Health.Recent.Len(), MinSamples: policy.MinSamples, LastError: u.Health.Last.Load()}
		if h.Calls > 0 {
			h.ErrorRate = float64(h.Failures) / float64(h.Calls)
		}
		h.RecentErrorRate, h.RecentCalls = u.Health.RecentErrorRate()
		if u.Model != "" {
			in, out, cost := u.Health.InTokens.Load(), u.Health.OutTokens.Load(), float64(u.Health.CostNanoUSD.Load())/1e9
			h.InputTokens, h.OutputTokens, h.CostUSD = &in, &out, &cost
		}
		for p, dst := range map[float64]**float64{50: &h.P50MS, 95: &h.P95MS, 99: &h.P99MS} {
			if v, ok := u.Health.Recent.Percentile(p); ok {
				m := ms(v)
				*dst = &m
			}
		}
		if u.Breaker != nil {
			h.Breaker = u.Breaker.State()
		}
		if u.Begins != nil {
			n := u.Begins.Len()
			h.FirstTokenSample = &n
			if v, ok := u.Begins.Percentile(95); ok {
				m := ms(v)
				h.FirstTokenP95MS = &m
			}
		}
		out = append(out, h)
	}
	return map[string]any{"sources": out}
}

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
func (d *dashboard) surge(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	route := q.Get("route")
	rt := d.s.routes[route]
	users, uerr := strconv.Atoi(q.Get("users"))
	dur, derr := time.ParseDuration(q.Get("duration"))
	max := d.limits.SurgeMaxDuration.Std()
	switch {
	case rt == nil || rt.method != http.MethodGet:
		writeError(w, badRequest("route must be one of this server's GET routes, got "+strconv.Quote(route)))
		return
	case d.limits.SurgeMaxUsers < 1:
		writeError(w, &requestError{status: http.StatusForbidden, msg: "surges are turned off (dashboard.surge_max_users)"})
		return
	case uerr != nil || users < 1 || users > d.limits.SurgeMaxUsers:
		writeError(w, badRequest(fmt.Sprintf("users must be from 1 to %d", d.limits.SurgeMaxUsers)))
		return
	case derr != nil || dur <= 0 || dur > max:
		writeError(w, badRequest(fmt.Sprintf("duration must be above 0 and at most %v", max)))
		return
	case !d.surging.CompareAndSwap(false, true):
		writeError(w, &requestError{status: http.StatusConflict, msg: "a surge is already running; wait for it to end"})
		return
	}
	defer d.surging.Store(false)
	// The target is the address this request came in on: the server
	// itself, whatever Host the client sent.
	local, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if local == nil {
		writeError(w, &requestError{status: http.StatusInternalServerError, msg: "no local address"})
		return
	}
	target := "http://" + local.String() + route
	if m := q.Get("mode"); m == "sequential" || m == "concurrent" {
		target += "?mode=" + m
	}
	sw := sse.NewWriter(w, d.s.writeTimeout)
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

func max0(n int) int { return max(n, 0) }

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(v)
}
