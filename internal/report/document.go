package report

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Document is a decoded report, for clients.
type Document struct {
	Route    string  `json:"route"`
	Mode     string  `json:"mode"`
	Lanes    int     `json:"lanes"`
	Complete bool    `json:"complete"`
	TotalMS  float64 `json:"total_ms"`
	SumMS    float64 `json:"sum_ms"`
	Slowest  string  `json:"slowest"`
	// CriticalPath names the chain of sources that decided the total.
	CriticalPath []string `json:"critical_path"`
	Failed       int      `json:"failed"`
	Sources      Sources  `json:"sources"`
	// Usage totals the LLM lanes' tokens, and CostUSD their cost where
	// they have prices; both absent without LLM lanes.
	Usage   *Usage   `json:"usage,omitempty"`
	CostUSD *float64 `json:"cost_usd,omitempty"`
}

// SourceEntry is one source's part of a Document.
type SourceEntry struct {
	// Name is the key of the entry in a report, and a field of its own in
	// a streamed source event.
	Name   string `json:"name,omitempty"`
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
	// Need is the failed need of a skipped source.
	Need string `json:"need,omitempty"`
	// Needs are the sources this one waited for.
	Needs []string `json:"needs,omitempty"`
	// FallbackFor names the failed needs whose fallback the source used.
	FallbackFor []string `json:"fallback_for,omitempty"`
	Error       string   `json:"error,omitempty"`
	LatencyMS   float64  `json:"latency_ms"`
	StartMS     float64  `json:"start_ms"`
	EndMS       float64  `json:"end_ms"`
	Attempts    int      `json:"attempts"`
	Abandoned   bool     `json:"abandoned,omitempty"`
	Optional    bool     `json:"optional,omitempty"`
	Hedged      bool     `json:"hedged,omitempty"`
	HedgeWon    bool     `json:"hedge_won,omitempty"`
	// HedgeAbandoned: the attempt the answer beat had not returned; it
	// was cancelled and left to end by itself.
	HedgeAbandoned bool `json:"hedge_abandoned,omitempty"`
	Coalesced      bool `json:"coalesced,omitempty"`
	Cached         bool `json:"cached,omitempty"`
	Shed           bool `json:"shed,omitempty"`
	// ServedBy names the source that answered a lane that failed over;
	// Failovers each source it moved on from.
	ServedBy  string     `json:"served_by,omitempty"`
	Failovers []Failover `json:"failovers,omitempty"`
	// Usage is an LLM lane's tokens, the same for every provider; CostUSD
	// what they cost this request, for a source with a price. Both count
	// every source the lane asked: the one that answered, and those it
	// moved on from that had spent (each failover says its share).
	Usage   *Usage          `json:"usage,omitempty"`
	CostUSD *float64        `json:"cost_usd,omitempty"`
	Data    json.RawMessage `json:"data,omitempty"`
}

// Failover is one source a lane moved on from: it failed, or lost a
// failover hedge (reason hedge_lost). Usage and CostUSD are what it is
// estimated to have spent, when its provider had accepted the call; the
// lane's own usage and cost include them.
type Failover struct {
	Name      string   `json:"name"`
	Reason    string   `json:"reason"`
	Error     string   `json:"error"`
	LatencyMS float64  `json:"latency_ms"`
	Usage     *Usage   `json:"usage,omitempty"`
	CostUSD   *float64 `json:"cost_usd,omitempty"`
}

// Sources are a Document's sources in the order the route lists them, which
// a JSON object decoded into a map would lose.
type Sources []SourceEntry

// Get returns the named source's entry, or nil.
func (s Sources) Get(name string) *SourceEntry {
	for i := range s {
		if s[i].Name == name {
			return &s[i]
		}
	}
	return nil
}

// UnmarshalJSON decodes the "sources" object keeping its key order.
func (s *Sources) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return fmt.Errorf("sources: want an object")
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		var e SourceEntry
		if err := dec.Decode(&e); err != nil {
			return fmt.Errorf("sources.%v: %w", t, err)
		}
		e.Name = t.(string)
		*s = append(*s, e)
	}
	return nil
}

// Decode parses a report.
func Decode(b []byte) (*Document, error) {
	var d Document
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("decode report: %w", err)
	}
	return &d, nil
}
