// Package fanout runs named sources at once under one context and reports,
// for each source, its value or error and when it started and ended; and
// for the whole gather, the wall time, the sum of the sources' latencies
// (what one lane would have cost) and the chain of sources that decided
// the total.
//
// It is the seed's asyncio.gather made safe for a gateway: a failing,
// panicking or slow source never sinks the others, each source has its own
// timeout, the gather has a deadline, and a source that ignores its context
// cannot hold the report past its deadline. Options.Lanes bounds how many
// sources are in flight at once: 1 is the single lane (sequential), 0 is one
// lane per source.
//
// A source's context is a standard one, derived from the caller's:
// context.Cause says *TimeoutError when its own timeout passed,
// *DeadlineError when the gather's did, and the caller's cause when the
// caller left. Anything else a source needs is its own business: Fetch is
// given only the values of its needs.
//
// Tasks may need other tasks (Task.Needs): such a task starts the moment
// the last of its needs finishes, is handed their values, and is skipped
// when one fails without a fallback, so a graph runs at full concurrency
// and the report's critical path follows the chain that decided the total.
//
// Gather returns the whole report. Start returns a Run whose Results yields
// each result the moment it lands, in completion order, and whose Wait
// returns the report. A Run moves on by itself: lanes refill as tasks end
// whether or not anyone reads, and nothing is left running once it ends.
//
// The package imports only the standard library, knows nothing of HTTP or
// of the policies around a source, and never logs: a failing source is
// data in the report. Its goroutines start through Go, which turns a
// panic into a *PanicError.
package fanout
