package policy

// Arriving is implemented by an answer that may still be arriving when
// the call that returned it has returned: a streamed answer, whose call
// returns at its first token (source.Answer is one). Its call's context
// must live until it has ended, since cancelling the context ends it.
// So a policy holds what it holds for a call (Limit's place, Breaker's
// verdict, the contexts of Hedge's and Coalesce's calls, Cache's copy)
// until the answer's end, which AfterEnd reports. A value that is not
// Arriving has ended when its call returns.
type Arriving interface {
	// AfterEnd calls f once the answer has ended, with the error it ended
	// with (nil for a success), at once if it has. f must return quickly.
	AfterEnd(f func(err error))
}

// Continuable is implemented by an arriving answer that can go on as
// another after it fails part-way (source.Answer is one): Failover moves
// on from a source that had begun its answer (a stream cut mid-way) to
// the next, whose answer the caller's readers read on into.
type Continuable[T any] interface {
	// Then returns an answer that reads as this one and, if this one ends
	// with an error, goes on as the answer next gives for it, or ends with
	// the error next gives instead. Each call returns the caller's own: a
	// shared answer stays as it is.
	Then(next func(err error) (T, error)) T
}

// afterEnd calls f once the answer v of a call that returned err has
// ended: at once for a failure, or for a value that is not Arriving.
func afterEnd[T any](v T, err error, f func(error)) {
	if err == nil {
		if a, ok := any(v).(Arriving); ok {
			a.AfterEnd(f)
			return
		}
	}
	f(err)
}
