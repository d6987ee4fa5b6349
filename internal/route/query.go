package route

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/citypopy/highway/internal/config"
	"github.com/citypopy/highway/internal/reply"
	"github.com/citypopy/highway/internal/report"
)

// Parse reads a request's raw query: mode=sequential|concurrent,
// lanes=N, stream=1 and the route's own parameters, with their defaults.
// Any other parameter is refused (a *reply.Error, 400), so that a typo is
// not silently ignored.
func (rt *Route) Parse(raw string) (Request, error) {
	req, err := rt.parseQuery(raw)
	if err == nil && req.options.Lanes == 1 && len(rt.tasks) > 1 {
		req.mode = report.ModeSequential
	}
	return req, err
}

func (rt *Route) parseQuery(raw string) (Request, error) {
	req := Request{options: rt.options, mode: report.ModeConcurrent}
	if len(rt.params) > 0 {
		req.params = make(map[string]string, len(rt.params))
	}
	if raw == "" {
		return req, rt.fillParams(req.params)
	}
	opt, mode := &req.options, &req.mode
	q, err := url.ParseQuery(raw)
	if err != nil {
		return req, reply.BadRequest("malformed query string: " + err.Error())
	}
	for k, v := range q {
		if len(v) > 1 {
			return req, reply.BadRequest("query parameter " + strconv.Quote(k) + " given more than once")
		}
		switch k {
		case "mode":
			switch v[0] {
			case report.ModeSequential:
				opt.Lanes = 1
				*mode = report.ModeSequential
			case report.ModeConcurrent:
			default:
				return req, reply.BadRequest("unknown mode " + strconv.Quote(v[0]) + "; use sequential or concurrent")
			}
		case "stream":
			switch v[0] {
			case "1", "true":
				req.stream = true
			case "0", "false":
			default:
				return req, reply.BadRequest("stream must be 1 or 0, got " + strconv.Quote(v[0]))
			}
		case "lanes":
		default:
			prm := rt.params[k]
			if prm == nil {
				return req, reply.BadRequest("unknown query parameter " + strconv.Quote(k) + "; this route takes " + rt.takes())
			}
			if err := config.CheckParam(prm, v[0]); err != nil {
				return req, reply.BadRequest("parameter " + k + ": " + err.Error())
			}
			req.params[k] = v[0]
		}
	}
	if err := rt.fillParams(req.params); err != nil {
		return req, err
	}
	if v, ok := q["lanes"]; ok {
		n, err := strconv.Atoi(v[0])
		if err != nil || n < 1 {
			return req, reply.BadRequest("lanes must be a positive integer, got " + strconv.Quote(v[0]))
		}
		if *mode == report.ModeSequential && n != 1 {
			return req, reply.BadRequest("mode=sequential is one lane; it cannot have lanes=" + v[0])
		}
		opt.Lanes = n
	}
	return req, nil
}

// fillParams applies defaults and refuses missing required parameters.
func (rt *Route) fillParams(got map[string]string) error {
	for name, prm := range rt.params {
		if _, ok := got[name]; ok {
			continue
		}
		if prm.Default == nil {
			return reply.BadRequest("missing parameter " + name + "; this route takes " + rt.takes())
		}
		got[name] = *prm.Default
	}
	return nil
}

// takes lists the query parameters the route takes, for messages.
func (rt *Route) takes() string {
	names := []string{"mode", "lanes", "stream"}
	for name := range rt.params {
		names = append(names, name)
	}
	sort.Strings(names[3:])
	return strings.Join(names, ", ")
}

// readBody reads a POST route's JSON body: 413 past the route's limit, 400
// when it is not JSON. An empty body is none.
func (rt *Route) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if rt.bodyTimeout > 0 {
		// net/http clears the read deadline once the body has been read to
		// its end, when it starts watching for the client going away.
		http.NewResponseController(w).SetReadDeadline(time.Now().Add(rt.bodyTimeout))
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, rt.maxBody))
	var tooLarge *http.MaxBytesError
	var netErr net.Error
	switch {
	case errors.As(err, &tooLarge):
		return nil, &reply.Error{Status: http.StatusRequestEntityTooLarge,
			Msg: "request body larger than " + strconv.FormatInt(rt.maxBody, 10) + " bytes"}
	case errors.As(err, &netErr) && netErr.Timeout():
		return nil, &reply.Error{Status: http.StatusRequestTimeout,
			Msg: "the request body did not arrive within " + rt.bodyTimeout.String() + " (server.body_timeout)"}
	case err != nil:
		return nil, reply.BadRequest("reading the request body: " + err.Error())
	case len(b) == 0:
		return nil, nil
	case !json.Valid(b):
		return nil, reply.BadRequest("the request body is not JSON")
	}
	return b, nil
}
