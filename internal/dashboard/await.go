package dashboard

import (
	"fmt"
	"net/http"

	"github.com/citypopy/highway/internal/config"
	"github.com/citypopy/highway/internal/reply"
	"github.com/citypopy/highway/internal/route"
	"github.com/citypopy/highway/internal/upstream"
)

// AwaitPath runs the page's "what is await?" demonstration: three
// districts, the chat one taking 3s against its 1s timeout, either
// honouring its context (context=honoured, the Go way: select on
// ctx.Done()) or sleeping through it (context=ignored, the time.Sleep
// pitfall). Either way the city answers at the deadline, with weather
// and image landed; the deaf district is marked abandoned, its goroutine
// left to finish on its own. It streams like a route (?stream=1 is
// implied) and takes no other parameter.
const AwaitPath = "/highway/await"

// awaitDemo is the demonstration's city, with the chat district deaf to
// its context or not.
const awaitDemo = `
sources:
  weather: {kind: mock, latency: 300ms, data: {sky: clear}}
  image:   {kind: mock, latency: 800ms, data: {url: /img/popy.png}}
  chat:    {kind: mock, latency: 3s, timeout: 1s, ignore_context: %t, data: {reply: too late}}
routes:
  - {path: %s, sources: [weather, image, chat], optional: [chat]}
`

// awaitRoutes builds the demonstration's two routes, by the value of its
// context parameter.
func awaitRoutes() (map[string]*route.Route, error) {
	out := map[string]*route.Route{}
	for _, ignored := range []bool{false, true} {
		cfg, err := config.Parse("await demonstration", fmt.Appendf(nil, awaitDemo, ignored, "/await-demo"))
		if err != nil {
			return nil, err
		}
		ups, err := upstream.BuildAll(cfg, upstream.Options{}) // mocks: nothing to keep, nothing to close
		if err != nil {
			return nil, err
		}
		key := map[bool]string{false: "honoured", true: "ignored"}[ignored]
		out[key] = route.New(cfg.Routes[0], cfg, ups, nil)
	}
	return out, nil
}

// await streams one run of the demonstration.
func (d *Dashboard) await(w http.ResponseWriter, r *http.Request) {
	rt := d.awaitRoutes[r.URL.Query().Get("context")]
	if rt == nil {
		reply.WriteError(w, reply.BadRequest(`context must be honoured or ignored`))
		return
	}
	req, err := rt.Parse("stream=1")
	if err != nil {
		reply.WriteError(w, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	rt.Serve(w, r, req)
}
