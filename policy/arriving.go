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
	// Arrived reports whether the answer has ended already, as most have
	// when their call returns: a policy then does at once what it would
	// do at the end, and spares the callback.
	Arrived() bool
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

// arriving is v as an Arriving answer still arriving, or nil when the
// call that returned it (with err) has ended: it failed, its answer is
// not Arriving, or it has arrived already. A policy calls what it does at
// the end at once when it is nil, and makes no callback for it: a whole
// answer costs no allocation.
func arriving[T any](v T, err error) Arriving {
	if err != nil {
		return nil
	}
	if a, ok := any(v).(Arriving); ok && !a.Arrived() {
		return a
	}
	return nil
}
