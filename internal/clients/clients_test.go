package clients_test

import (
	"errors"
	"net/http/httptest"
	"testing"

	"golang.org/x/time/rate"

	"github.com/citypopy/highway/internal/clients"
	"github.com/citypopy/highway/internal/config"
	"github.com/citypopy/highway/internal/metrics"
)

// keyed is the clients of a config with one key, alice's, of one request
// a day and a burst of one, on the limiters of kept.
func keyed(t *testing.T, kept map[clients.Key]*rate.Limiter) *clients.Clients {
	t.Helper()
	cfg, err := config.ParseEnv("t.yaml", []byte(`
clients: {keys: [{name: alice, key: "${ALICE_KEY}", rate: 0.00001, burst: 1}]}
sources: {a: {kind: mock}}
routes: [{path: /r, sources: [a]}]
`), config.Vars(map[string]string{"ALICE_KEY": "alice-0123456789abcdef"}))
	if err != nil {
		t.Fatal(err)
	}
	return clients.New(cfg.Clients, metrics.New(), func(k clients.Key, make func() *rate.Limiter) *rate.Limiter {
		if kept[k] == nil {
			kept[k] = make()
		}
		return kept[k]
	}, nil)
}

// A caller is found by its key and refused, with the status and wait it
// is told, when it has none, a wrong one, or its rate is spent; a second
// set of clients on the same limiters (a reload) gives no fresh burst.
func TestClientsAdmitByKeyAndRate(t *testing.T) {
	kept := map[clients.Key]*rate.Limiter{}
	cs := keyed(t, kept)
	ask := func(cs *clients.Clients, key string) (string, int, string) {
		r := httptest.NewRequest("GET", "/r", nil)
		if key != "" {
			r.Header.Set("Authorization", "Bearer "+key)
		}
		name, err := cs.Admit(r)
		if err == nil {
			return name, 200, ""
		}
		var refused *clients.Refusal
		if !errors.As(err, &refused) {
			t.Fatalf("%v is not a refusal", err)
		}
		return name, refused.Status, refused.RetryAfter
	}
	for _, c := range []struct {
		key, name  string
		status     int
		retryAfter bool
	}{
		{"", "", 401, false},
		{"mallory-0123456789", "", 401, false},
		{"alice-0123456789abcdef", "alice", 200, false},
		{"alice-0123456789abcdef", "alice", 429, true},
	} {
		name, status, after := ask(cs, c.key)
		if name != c.name || status != c.status || (after != "") != c.retryAfter {
			t.Errorf("key %q: %q %d Retry-After %q", c.key, name, status, after)
		}
	}
	if _, status, _ := ask(keyed(t, kept), "alice-0123456789abcdef"); status != 429 || len(cs.Limiters()) != 1 {
		t.Errorf("reloaded: %d, %d limiters; want the spent limiter kept", status, len(cs.Limiters()))
	}
	var none *clients.Clients
	if name, status, _ := ask(none, ""); name != "" || status != 200 {
		t.Errorf("no keys asked for: %q %d", name, status)
	}
}
