// Package fanout runs named sources at once under one context and reports,
// for each source, its value or error, when it started and ended, and how
// many attempts it took; and for the whole gather, the wall time, the sum of
// the sources' latencies (what one lane would have cost) and which source
// decided the total.
//
// It is the seed's asyncio.gather made safe for a gateway: a failing,
// panicking or slow source never sinks the others, each source has its own
// timeout, the gather has a deadline, and a source that ignores its context
// cannot hold the report past its deadline. Options.Lanes bounds how many
// sources are in flight at once: 1 is the single lane (sequential), 0 is one
// lane per source.
//
// Tasks may need other tasks (Task.Needs): such a task starts the moment
// the last of its needs finishes, reads their values with Inputs, and is
// skipped when one fails without a fallback, so a graph runs at full
// concurrency and the report's critical path follows the chain that
// decided the total.
//
// Gather returns the whole report. Start returns a Run whose Results yields
// each result the moment it lands, in completion order, and whose Wait
// returns the report.
//
// The package knows nothing of HTTP and never logs: a failing source is data
// in the report.
package fanout
