// Package report is the JSON document Highway answers for a route: Append
// writes it from a fanout.Report, passing each source's JSON through
// untouched, and Document is what clients (race, surge, tests) decode it
// into.
//
// The field names are a contract with users:
//
//	{"route": "/city-report", "mode": "concurrent", "lanes": 3, "complete": false,
//	 "total_ms": 803.1, "sum_ms": 1603.7, "slowest": "image",
//	 "critical_path": ["image"], "failed": 1,
//	 "sources": {
//	   "weather": {"status": "ok", "latency_ms": 301.2, "start_ms": 0.1, "end_ms": 301.3, "attempts": 1, "data": {...}},
//	   "chat":    {"status": "error", "reason": "timeout", "error": "timeout after 500ms", ...}}}
package report
