package config

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Clients are the API keys callers must present, each with its own rate
// limit. Keys are kept only as SHA-256 hashes: a plain key given in the
// config (usually as ${NAME} from the environment) is hashed while loading
// and dropped.
type Clients struct {
	// Rate is each key's requests per second where the key sets none;
	// 0 means no limit.
	Rate float64 `yaml:"rate"`
	// Burst is how many requests a key may make at once above its rate.
	// Default: the rate rounded up, at least 1.
	Burst int `yaml:"burst"`
	// Keys are the callers, in the config.
	Keys []*ClientKey `yaml:"keys"`
	// KeysFile names a file of more callers, one per line:
	// NAME sha256:HEX [rate=R] [burst=B] [models=A,B]; # starts a comment. A relative
	// path is from the config file's directory.
	KeysFile string `yaml:"keys_file"`
}

// ClientKey is one caller.
type ClientKey struct {
	// Name names the caller in logs and metrics.
	Name string `yaml:"name"`
	// Key is the plain key: hashed at load, then emptied.
	Key string `yaml:"key"`
	// SHA256 is the key's SHA-256, in hex: what is kept.
	SHA256 string `yaml:"sha256"`
	// Rate is this caller's requests per second, in place of clients.rate.
	Rate float64 `yaml:"rate"`
	// Burst is this caller's burst, in place of clients.burst.
	Burst int `yaml:"burst"`
	// TokensPerMinute caps the LLM tokens (input and output) the caller's
	// requests may use, refilled evenly over the minute; past it, 429
	// until enough has refilled. 0: no budget.
	TokensPerMinute int `yaml:"tokens_per_minute"`
	// CostPerDay caps the US dollars the caller's requests may spend
	// (it needs sources with a price), refilled evenly over the day; past
	// it, 429 until enough has refilled. 0: no budget.
	CostPerDay float64 `yaml:"cost_per_day"`
	// Models are the front door's models the caller may use (by their
	// names under models:); empty: every one. Another is refused with 404,
	// as a provider refuses a model the key has no access to, and
	// /v1/models lists only these.
	Models []string `yaml:"models"`

	// Hash is the key's SHA-256, set by validation.
	Hash [sha256.Size]byte `yaml:"-"`
}

// On reports whether callers must present a key.
func (c *Clients) On() bool { return len(c.Keys) > 0 }

// HashKey is the SHA-256 of a key, as ClientKey.SHA256 holds it in hex.
func HashKey(key string) [sha256.Size]byte { return sha256.Sum256([]byte(key)) }

// provisionClients reads the keys file, hashes plain keys (the plain keys
// are gone afterwards) and gives each key the default rate and burst.
func (d *decoder) provisionClients(c *Clients) {
	if c.KeysFile != "" {
		path := c.KeysFile
		if !filepath.IsAbs(path) && d.file != "" {
			path = filepath.Join(filepath.Dir(d.file), path)
		}
		keys, err := readKeysFile(path)
		if err != nil {
			d.failAt("clients.keys_file", "%v", err)
		}
		c.Keys = append(c.Keys, keys...)
	}
	for i, k := range c.Keys {
		p := fmt.Sprintf("clients.keys[%d]", i)
		if k == nil {
			continue // validation says so
		}
		switch {
		case k.Key != "" && k.SHA256 != "":
			d.failAt(p, "give key or sha256, not both")
		case k.Key != "":
			if len(k.Key) < 16 {
				d.failAt(p+".key", "too short: want at least 16 characters (highway key makes one)")
			}
			k.Hash = HashKey(k.Key)
		case k.SHA256 != "":
			b, err := hex.DecodeString(strings.TrimPrefix(k.SHA256, "sha256:"))
			if err != nil || len(b) != sha256.Size {
				d.failAt(p+".sha256", "want 64 hex digits, the SHA-256 of the key")
			}
			copy(k.Hash[:], b)
		default:
			d.failAt(p, "no key: give key (e.g. ${%s_KEY}) or sha256", strings.ToUpper(k.Name))
		}
		k.Key = "" // only the hash is kept
		if k.Rate == 0 && c.Rate >= 0 {
			k.Rate = c.Rate
		}
		if k.Burst == 0 && c.Burst >= 0 {
			k.Burst = c.Burst
		}
		if k.Burst == 0 && k.Rate >= 0 {
			k.Burst = max(1, int(k.Rate+0.999))
		}
	}
}

// validateClients checks the rates and each key as provisioned, its
// models among models.
func (d *decoder) validateClients(c *Clients, models map[string]*Model) {
	if !(c.Rate >= 0) { // NaN too
		d.failAt("clients.rate", "must not be negative")
	}
	if c.Burst < 0 {
		d.failAt("clients.burst", "must not be negative")
	}
	names := map[string]bool{}
	hashes := map[[sha256.Size]byte]string{}
	for i, k := range c.Keys {
		p := fmt.Sprintf("clients.keys[%d]", i)
		if k == nil {
			d.failAt(p, "empty client")
			continue
		}
		switch {
		case k.Name == "":
			d.failAt(p+".name", "missing: name the caller, for logs and metrics")
		case names[k.Name]:
			d.failAt(p+".name", "%q is given twice", k.Name)
		}
		names[k.Name] = true
		if other, dup := hashes[k.Hash]; dup && k.Hash != ([sha256.Size]byte{}) {
			d.failAt(p, "same key as client %q", other)
		}
		hashes[k.Hash] = k.Name
		if !(k.Rate >= 0) || k.Burst < 0 || k.TokensPerMinute < 0 || !(k.CostPerDay >= 0) {
			d.failAt(p, "rate, burst, tokens_per_minute and cost_per_day must not be negative")
		}
		for j, m := range k.Models {
			if models[m] == nil {
				d.failAt(fmt.Sprintf("%s.models[%d]", p, j), "unknown model %q; models: %s", m, strings.Join(slices.Sorted(maps.Keys(models)), ", "))
			}
		}
	}
}

// readKeysFile reads NAME sha256:HEX [rate=R] [burst=B] [models=A,B]
// lines.
func readKeysFile(path string) ([]*ClientKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read the keys file: %w", err)
	}
	var keys []*ClientKey
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		bad := func(why string) error { return fmt.Errorf("%s:%d: %s", path, n, why) }
		if len(f) < 2 || !strings.HasPrefix(f[1], "sha256:") {
			return nil, bad("want NAME sha256:HEX [rate=R] [burst=B] [models=A,B]; plain keys do not belong in files")
		}
		k := &ClientKey{Name: f[0], SHA256: f[1]}
		for _, opt := range f[2:] {
			name, v, _ := strings.Cut(opt, "=")
			var err error
			switch name {
			case "rate":
				k.Rate, err = strconv.ParseFloat(v, 64)
			case "burst":
				k.Burst, err = strconv.Atoi(v)
			case "models":
				k.Models = strings.Split(v, ",")
			default:
				err = fmt.Errorf("unknown option %q (rate=R, burst=B or models=A,B)", opt)
			}
			if err != nil {
				return nil, bad(err.Error())
			}
		}
		keys = append(keys, k)
	}
	return keys, sc.Err()
}
