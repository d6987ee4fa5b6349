package config

import _ "embed"

//go:embed schema.json
var schemaJSON []byte

// Schema returns the JSON Schema of a config file, for editors (the YAML
// language server) to complete and check highway.yaml with. It is made
// from the config types, as docs/config.md is, and a test keeps both
// current.
func Schema() []byte { return append([]byte(nil), schemaJSON...) }
