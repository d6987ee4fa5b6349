package source

import "context"

// DeltaFunc receives the pieces of a streaming answer as they arrive: the
// source's name and the new text.
type DeltaFunc func(source, text string)

type deltaKey struct{}

// WithDeltas returns ctx carrying f, for streaming sources to hand their
// tokens to while they still run.
func WithDeltas(ctx context.Context, f DeltaFunc) context.Context {
	return context.WithValue(ctx, deltaKey{}, f)
}

// deltas returns the DeltaFunc of ctx, or one that drops everything.
func deltas(ctx context.Context) DeltaFunc {
	if f, ok := ctx.Value(deltaKey{}).(DeltaFunc); ok && f != nil {
		return f
	}
	return func(string, string) {}
}
