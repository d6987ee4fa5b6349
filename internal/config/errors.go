package config

import (
	"fmt"
	"strings"
)

// Error is one problem in a configuration: where it is and what is wrong.
type Error struct {
	File      string
	Line, Col int    // 0 when unknown
	Field     string // dotted path, such as sources.weather.latency
	Reason    string
}

// Error describes the failure.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", e.Line, e.Col)
	}
	if e.Field != "" {
		b.WriteString(": " + e.Field)
	}
	b.WriteString(": " + e.Reason)
	return b.String()
}

// Errors is every problem found in one configuration, in file order as far
// as decoding goes, then validation's.
type Errors []*Error

// Error describes the failure.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}
