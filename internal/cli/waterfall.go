package cli

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/citypopy/highway/internal/report"
)

// drawRace prints the two reports side by side: for each source, its lane
// as a bar from its start to its end offset, on one time scale for both
// modes, so the single lane's staircase and the highway's stack of lanes
// can be compared at a glance.
func drawRace(w io.Writer, seq, con *report.Document, width int) {
	scale := math.Max(seq.TotalMS, con.TotalMS)
	nameW := len("sum of lanes")
	for _, s := range seq.Sources {
		nameW = max(nameW, len(s.Name)+2)
	}
	col := width + 10
	fmt.Fprintf(w, "%-*s  %-*s  %s\n", nameW, "", col, "single lane (mode=sequential)", "highway (mode=concurrent)")
	axis := fmt.Sprintf("0%s%.0fms", strings.Repeat("─", max(width-len(fmt.Sprintf("%.0fms", scale))-1, 1)), scale)
	fmt.Fprintf(w, "%-*s  %-*s  %s\n", nameW, "", col, axis, axis)
	for _, s := range seq.Sources {
		c := con.Sources.Get(s.Name)
		if c == nil {
			c = &report.SourceEntry{Name: s.Name}
		}
		fmt.Fprintf(w, "%-*s  %s  %s\n", nameW, label(s, c), cell(s, scale, width, false), cell(*c, scale, width, true))
	}
	fmt.Fprintf(w, "%-*s  %*s  %*s\n", nameW, "total", col, ms(seq.TotalMS), col, ms(con.TotalMS))
	fmt.Fprintf(w, "%-*s  %*s  %*s\n", nameW, "sum of lanes", col, ms(seq.SumMS), col, ms(con.SumMS))
	fmt.Fprintln(w)
	fmt.Fprintf(w, "critical path: single lane %s; highway %s\n", path(seq), path(con))
	if con.TotalMS > 0 {
		fmt.Fprintf(w, "speedup %.2fx: the highway took %s, its slowest lane (%s), instead of the sum %s\n",
			seq.TotalMS/con.TotalMS, ms(con.TotalMS), con.Slowest, ms(seq.SumMS))
	}
	for _, s := range con.Sources {
		if len(s.Needs) > 0 {
			fmt.Fprintf(w, "%s needs %s: on the highway it waits (┄) for them, then starts at once\n", s.Name, strings.Join(s.Needs, ", "))
		}
	}
	if failed := seq.Failed + con.Failed; failed > 0 {
		fmt.Fprintf(w, "%d source call(s) failed (marked ✗, drawn ░): run with -json for their errors\n", failed)
	}
}

// label is a source's name, marked ✗ when it failed in either mode.
func label(a report.SourceEntry, b *report.SourceEntry) string {
	if a.Status != "ok" || b.Status != "ok" {
		return a.Name + " ✗"
	}
	return a.Name
}

// cell is one source's bar and latency in one mode; with showWait, a
// source that needs others has its wait for them drawn ┄ before its bar.
func cell(s report.SourceEntry, scale float64, width int, showWait bool) string {
	bar := []rune(strings.Repeat(" ", width))
	if scale > 0 {
		from := int(math.Floor(s.StartMS / scale * float64(width)))
		to := int(math.Ceil(s.EndMS / scale * float64(width)))
		from, to = min(max(from, 0), width-1), min(max(to, from+1), width)
		fill := '█'
		if s.Status != "ok" {
			fill = '░'
		}
		if showWait && len(s.Needs) > 0 {
			for i := 0; i < from; i++ {
				bar[i] = '┄'
			}
		}
		for i := from; i < to; i++ {
			bar[i] = fill
		}
	}
	return fmt.Sprintf("%s %9s", string(bar), ms(s.LatencyMS))
}

func ms(v float64) string { return fmt.Sprintf("%.1fms", v) }

func path(d *report.Document) string {
	if len(d.CriticalPath) == 0 {
		return "(none)"
	}
	return strings.Join(slices.Clone(d.CriticalPath), " → ")
}
