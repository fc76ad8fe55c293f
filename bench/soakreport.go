package bench

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// A SoakReport is what a soak measured and what it concludes.
type SoakReport struct {
	Options SoakOptions
	Elapsed time.Duration
	Samples []SoakSample
	Kinds   []KindStats
	// Warmup is the number of first samples left out of the trends: the
	// guests' memory and the runtime's pools grow to their working size
	// there.
	Warmup int
	Trends []Trend
}

// A Trend is one metric over the samples after the warm-up.
type Trend struct {
	Name, Unit string
	// PerMinute is the least-squares slope.
	PerMinute float64
	// First and Last are the lowest values of the first and the last third
	// of the samples (a leak raises the floor; load, a cache or the
	// collector's timing raise single samples); Allowed is how much Last
	// may exceed First before the metric counts as growing.
	First, Last, Allowed float64
}

// Grew reports growth beyond the tolerance.
func (t Trend) Grew() bool { return t.Last-t.First > t.Allowed }

// soakMetrics are the sampled metrics with their tolerances: growth of the
// last third's floor over the first third's beyond max(abs, rel × first)
// fails. Quiet-point samples of counts are nearly exact, so the count
// tolerances only absorb a connection the servers are still closing; the
// memory tolerances absorb the GC's and the allocator's granularity, and
// a guest's linear memory, which only grows, in steps. The live heap
// swings by up to 20 MiB between quiet points under load, even after
// three collections, so its tolerance is the widest.
var soakMetrics = []struct {
	name, unit string
	rel, abs   float64
	value      func(SoakSample) float64
}{
	{"rss", "MiB", 0.15, 48, func(s SoakSample) float64 { return inMiB(s.RSS) }},
	{"heap", "MiB", 0.25, 24, func(s SoakSample) float64 { return inMiB(s.Heap) }},
	{"guest memory", "MiB", 0.5, 32, func(s SoakSample) float64 { return inMiB(s.Guest) }},
	{"goroutines", "", 0.10, 10, func(s SoakSample) float64 { return float64(s.Goroutines) }},
	{"fds", "", 0.10, 10, func(s SoakSample) float64 { return float64(s.FDs) }},
	{"table", "entries", 0.10, 10, func(s SoakSample) float64 { return float64(s.Table) }},
}

// minTrendSamples is the fewest samples after the warm-up that a trend is
// judged on.
const minTrendSamples = 6

func (r *SoakReport) analyse() {
	r.Warmup = max(2, len(r.Samples)/5)
	r.Trends = nil
	if len(r.Samples)-r.Warmup < minTrendSamples {
		return
	}
	s := r.Samples[r.Warmup:]
	third := len(s) / 3
	for _, m := range soakMetrics {
		xs, ys := make([]float64, len(s)), make([]float64, len(s))
		for i, v := range s {
			xs[i], ys[i] = v.Elapsed.Minutes(), m.value(v)
		}
		first, last := slices.Min(ys[:third]), slices.Min(ys[len(ys)-third:])
		r.Trends = append(r.Trends, Trend{
			Name: m.name, Unit: m.unit, PerMinute: slope(xs, ys),
			First: first, Last: last, Allowed: max(m.abs, m.rel*first),
		})
	}
}

// Failures lists what makes the soak fail: a metric that grew, a
// connection with an unexpected outcome, too few samples to judge.
func (r *SoakReport) Failures() []string {
	var out []string
	if len(r.Trends) == 0 {
		out = append(out, fmt.Sprintf("%d samples, %d of them warm-up: too few to judge growth (run longer or sample more often)",
			len(r.Samples), r.Warmup))
	}
	for _, t := range r.Trends {
		if t.Grew() {
			out = append(out, fmt.Sprintf("%s grew from %.1f to %.1f%s (allowed +%.1f; %+.2f a minute)",
				t.Name, t.First, t.Last, unitSuffix(t.Unit), t.Allowed, t.PerMinute))
		}
	}
	for _, k := range r.Kinds {
		if k.Unexpected > 0 {
			out = append(out, fmt.Sprintf("%d of %d %s connections ended unexpectedly: %s",
				k.Unexpected, k.Done, k.Name, strings.Join(k.FirstErrors, "; ")))
		}
	}
	return out
}

// Print prints the connections, the slopes and the verdict (the samples
// went to Progress as they were taken).
func (r *SoakReport) Print(w io.Writer) {
	total := 0
	var kinds []string
	for _, k := range r.Kinds {
		total += k.Done
		kinds = append(kinds, fmt.Sprintf("%s %d", k.Name, k.Done))
	}
	fmt.Fprintf(w, "soak: %v, %d samples, %d connections: %s\n", r.Elapsed.Round(time.Second), len(r.Samples), total, strings.Join(kinds, ", "))
	if len(r.Trends) > 0 {
		s := r.Samples[r.Warmup:]
		fmt.Fprintf(w, "trends after a warm-up of %d samples (%v), the lowest of the last third against the first third's:\n",
			r.Warmup, s[0].Elapsed.Round(time.Second))
		fmt.Fprintf(w, "  %-10s %14s %12s %12s %10s\n", "metric", "slope/minute", "first third", "last third", "allowed")
		for _, t := range r.Trends {
			verdict := "flat"
			if t.Grew() {
				verdict = "GROWS"
			}
			name := t.Name
			if t.Unit != "" {
				name += " (" + t.Unit + ")"
			}
			fmt.Fprintf(w, "  %-18s %+9.3f %12.1f %12.1f %+10.1f  %s\n", name, t.PerMinute, t.First, t.Last, t.Allowed, verdict)
		}
	}
	if f := r.Failures(); len(f) > 0 {
		fmt.Fprintln(w, "FAIL:")
		for _, line := range f {
			fmt.Fprintln(w, "  "+line)
		}
		return
	}
	fmt.Fprintln(w, "ok: every metric flat, no unexpected outcome")
}

func unitSuffix(unit string) string {
	if unit == "" {
		return ""
	}
	return " " + unit
}

func mean(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// slope is the least-squares slope of ys over xs.
func slope(xs, ys []float64) float64 {
	mx, my := mean(xs), mean(ys)
	var num, den float64
	for i := range xs {
		num += (xs[i] - mx) * (ys[i] - my)
		den += (xs[i] - mx) * (xs[i] - mx)
	}
	if den == 0 {
		return 0
	}
	return num / den
}
