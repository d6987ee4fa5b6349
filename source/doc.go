// Package source holds Highway's kinds of source: Mock, a built-in slow
// district; HTTP, a JSON upstream; OpenAI and Anthropic, chat lanes. Each
// answers the raw JSON its upstream gave (or, for a chat lane, a small
// JSON reply), passed along without being decoded and encoded again.
//
// A source is called with a *Call, which holds everything that decides
// what is asked of the upstream: the request's parameters and body and
// the answers of the source's needs. It answers an *Answer: whole at once,
// or, from a streaming chat lane, a value that streams its tokens to any
// number of readers while it arrives. The context carries only
// cancellation, deadlines and observability (a trace).
package source

import "context"

// Source is what every kind of source here implements. It is a
// policy.Source[*Call, *Answer], so policies stack around it.
type Source interface {
	Fetch(ctx context.Context, call *Call) (*Answer, error)
}
