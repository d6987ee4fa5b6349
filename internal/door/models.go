package door

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/citypopy/highway/internal/config"
	"github.com/citypopy/highway/internal/upstream"
)

// list answers /v1/models in OpenAI's list format: the configured models
// the client of req may use.
func (d *Door) list(w http.ResponseWriter, req Request) {
	type entry struct {
		ID      string `json:"id"`
		Object  string `json:"object"`
		Created int64  `json:"created"`
		OwnedBy string `json:"owned_by"`
	}
	data := []entry{}
	for _, name := range d.Models() {
		if !req.may(name) {
			continue
		}
		data = append(data, entry{ID: name, Object: "model", Created: d.created, OwnedBy: "highway"})
	}
	b, _ := json.Marshal(map[string]any{"object": "list", "data": data})
	writeJSON(w, http.StatusOK, b)
}

// maxEmbeddingsAnswer bounds what a provider's embeddings answer may be.
const maxEmbeddingsAnswer = 64 << 20

// embed passes an embeddings request to the first OpenAI source of the
// model it names, which has the endpoint (Anthropic has none): its model
// in place of the client's, its key in place of the client's, its answer
// as it gave it.
func (d *Door) embed(w http.ResponseWriter, r *http.Request, req Request, out *Outcome) error {
	var body map[string]json.RawMessage
	if err := json.Unmarshal(req.Body, &body); err != nil {
		return &Error{Status: http.StatusBadRequest, Msg: "the request body is not a JSON object: " + err.Error()}
	}
	var name string
	if json.Unmarshal(body["model"], &name) != nil || name == "" {
		return &Error{Status: http.StatusBadRequest, Param: "model", Msg: "model: missing; name one of the configured models"}
	}
	if _, ok := body["input"]; !ok {
		return &Error{Status: http.StatusBadRequest, Param: "input", Msg: "input: missing; give a string or an array of strings"}
	}
	var m *model
	if d != nil {
		m = d.models[name]
	}
	if m == nil || !req.may(name) {
		if d == nil {
			return &Error{Status: http.StatusNotFound, Code: "model_not_found", Msg: "this Highway serves no models: configure some under models:"}
		}
		return d.unknownModel(name, req)
	}
	out.Model = name
	var src string
	var l *config.LLM
	for _, s := range m.use {
		if m.llms[s].Provider() == config.KindOpenAI {
			src, l = s, m.llms[s]
			break
		}
	}
	if l == nil {
		return &Error{Status: http.StatusBadRequest, Param: "model", Msg: "model " + name + " uses no OpenAI source, and only OpenAI's API has embeddings"}
	}
	body["model"], _ = json.Marshal(l.Model)
	send, _ := json.Marshal(body)
	target, err := url.Parse(l.BaseURL)
	var up *http.Request
	if err == nil {
		target.Path = strings.TrimRight(target.Path, "/") + "/embeddings" // the query (a mock's faults) kept
		up, err = http.NewRequestWithContext(r.Context(), http.MethodPost, target.String(), bytes.NewReader(send))
	}
	if err != nil {
		return &Error{Status: http.StatusBadGateway, Msg: "model " + name + ": source " + src + " has no usable base_url"}
	}
	up.Header.Set("Content-Type", "application/json")
	if l.APIKey != "" {
		up.Header.Set("Authorization", "Bearer "+l.APIKey)
	}
	out.Provider, out.Attempts = src, 1
	resp, err := upstream.Pool.RoundTrip(up)
	if err != nil {
		return &Error{Status: http.StatusBadGateway, Msg: "model " + name + ": " + src + " could not be reached"}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxEmbeddingsAnswer))
	if err != nil {
		return &Error{Status: http.StatusBadGateway, Msg: "model " + name + ": reading " + src + "'s answer failed"}
	}
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		return &Error{Status: http.StatusBadGateway, Msg: "model " + name + ": " + src + " refused Highway's credentials"}
	}
	w.Header().Set("X-Highway-Provider", src)
	writeJSON(w, resp.StatusCode, b)
	return nil
}
