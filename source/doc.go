// Package source holds Highway's kinds of source: Mock, a built-in slow
// district, and HTTP, a JSON upstream. Each is a fanout.Source whose value
// is the raw JSON the source answered, passed along without being decoded
// and encoded again.
package source

import (
	"encoding/json"

	"github.com/citypopy/highway/fanout"
)

// Source is what every kind of source here implements: a fanout.Source of
// raw JSON.
type Source = fanout.Source[json.RawMessage]
