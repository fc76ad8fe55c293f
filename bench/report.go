package bench

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
)

// A Report is the outcome of Run.
type Report struct {
	Machine Machine
	Options Options
	Tables  []*Table
	Idle    []*IdleResult
	// Skipped says what was not measured and why (the C guest without
	// its tools); the reports print it first, loudly.
	Skipped []string
}

// A Table is one scenario: a value per subject and its ratios.
type Table struct {
	Title string
	// Unit of Value; when LowerIsBetter (a time), the ratios are inverted
	// so that every ratio reads as speed: above 1 means faster.
	Unit          string
	LowerIsBetter bool
	Rows          []Row
	// Target is the target for the wasi:tls rows, as text, and as
	// minimum ratios against native and against the in-guest stack (0
	// when there is none).
	Target                    string
	MinVsNative, MinVsInGuest float64
	// CTarget and CMin are the targets of the C guest's rows: the minimum
	// ratio against native per subject name.
	CTarget string
	CMin    map[string]float64

	runs map[string][]float64 // per subject, the value of each run
}

// meets reports whether row r (a wasi:tls row) meets the table's target:
// "yes", "no", or "" when the row or table has no target.
func (t *Table) meets(r Row) string {
	if min, ok := t.CMin[r.Subject]; ok {
		if r.VsNative >= min {
			return "yes"
		}
		return "no"
	}
	if !strings.HasPrefix(r.Subject, "guest wasi:tls") || (t.MinVsNative == 0 && t.MinVsInGuest == 0) {
		return ""
	}
	if r.VsNative >= t.MinVsNative && r.VsInGuest >= t.MinVsInGuest {
		return "yes"
	}
	return "no"
}

// A Row is one subject's measurement.
type Row struct {
	Subject string
	// Value is the median of the runs; Lo and Hi the lowest and highest
	// run (0 when there was one run).
	Value, Lo, Hi float64
	// VsNative and VsInGuest are the speed relative to native crypto/tls
	// and to crypto/tls inside the guest, measured in the same run; 0 when
	// not applicable. With several runs VsNative is the median of the
	// ratios of the runs taken side by side (run r of the subject against
	// run r of native), VsNativeLo and VsNativeHi their range.
	VsNative, VsInGuest    float64
	VsNativeLo, VsNativeHi float64
}

// add appends a row of one run; ratios are filled by finish.
func (t *Table) add(subject string, value float64) {
	t.Rows = append(t.Rows, Row{Subject: subject, Value: value})
}

// addRuns appends a row of several runs (the rounds of interleave).
func (t *Table) addRuns(subject string, runs []float64) {
	if t.runs == nil {
		t.runs = map[string][]float64{}
	}
	t.runs[subject] = runs
	sorted := slices.Sorted(slices.Values(runs))
	t.Rows = append(t.Rows, Row{Subject: subject, Value: median(sorted), Lo: sorted[0], Hi: sorted[len(sorted)-1]})
}

// median of sorted values.
func median(sorted []float64) float64 {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

// finish computes the ratios against the rows named native and inGuest.
func (t *Table) finish() {
	var native, inGuest float64
	for _, r := range t.Rows {
		switch r.Subject {
		case nativeSubject().name:
			native = r.Value
		case inGuestSubject("").name:
			inGuest = r.Value
		}
	}
	speed := func(v, base float64) float64 {
		if v == 0 || base == 0 {
			return 0
		}
		if t.LowerIsBetter {
			return base / v
		}
		return v / base
	}
	nativeRuns := t.runs[nativeSubject().name]
	for i := range t.Rows {
		r := &t.Rows[i]
		if r.Subject != nativeSubject().name {
			r.VsNative = speed(r.Value, native)
			if runs := t.runs[r.Subject]; len(runs) > 1 && len(runs) == len(nativeRuns) {
				ratios := make([]float64, len(runs))
				for k := range runs {
					ratios[k] = speed(runs[k], nativeRuns[k])
				}
				slices.Sort(ratios)
				r.VsNative, r.VsNativeLo, r.VsNativeHi = median(ratios), ratios[0], ratios[len(ratios)-1]
			}
		}
		if r.Subject != inGuestSubject("").name {
			r.VsInGuest = speed(r.Value, inGuest)
		}
	}
}

func ratio(v float64) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", v)
}

// value prints a row's value with the range of its runs.
func (r Row) value() string {
	if r.Lo == 0 && r.Hi == 0 {
		return formatValue(r.Value)
	}
	return fmt.Sprintf("%s (%s-%s)", formatValue(r.Value), formatValue(r.Lo), formatValue(r.Hi))
}

// vsNative prints the ratio against native with the range of the runs'.
func (r Row) vsNative() string {
	if r.VsNativeLo == 0 && r.VsNativeHi == 0 {
		return ratio(r.VsNative)
	}
	return fmt.Sprintf("%s (%.2f-%.2f)", ratio(r.VsNative), r.VsNativeLo, r.VsNativeHi)
}

// targets is the table's target line.
func (t *Table) targets() string {
	return strings.Join(slices.DeleteFunc([]string{t.Target, t.CTarget}, func(s string) bool { return s == "" }), "; ")
}

// WriteTo prints the report as plain-text tables.
func (r *Report) WriteTo(w io.Writer) (int64, error) {
	cw := &countWriter{w: w}
	m := r.Machine
	fmt.Fprintf(cw, "wasitls bench: %s %s/%s, CPU %s (%d logical), GOMAXPROCS %d\n",
		m.GoVersion, m.OS, m.Arch, m.CPU, m.CPUs, m.GOMAXPROCS)
	for _, line := range r.Skipped {
		fmt.Fprintln(cw, line)
	}
	fmt.Fprintf(cw, "ratios are speed relative to the named baseline, measured in the same run (above 1 = faster); values are the median of %d interleaved runs (lowest-highest run), ratios the median of the runs' ratios (range)\n", rounds)
	if r.Options.NoTerminationChecks {
		fmt.Fprintln(cw, "guests compiled without termination checks (WithCloseOnContextDone(false), no stop flag)")
	} else if r.Options.Checks == ChecksWazero {
		fmt.Fprintln(cw, "guests compiled with wazero's termination checks (WithCloseOnContextDone(true))")
	}
	for _, t := range r.Tables {
		fmt.Fprintf(cw, "\n%s\n", t.Title)
		tw := tabwriter.NewWriter(cw, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "subject\t%s\tvs native\tvs in-guest\ttarget met\t\n", t.Unit)
		for _, row := range t.Rows {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t\n", row.Subject, row.value(), row.vsNative(), ratio(row.VsInGuest), t.meets(row))
		}
		tw.Flush()
		if tg := t.targets(); tg != "" {
			fmt.Fprintf(cw, "target: %s\n", tg)
		}
	}
	if len(r.Idle) > 0 {
		fmt.Fprintln(cw, "\nidle established TLS connections held by one server (clients in a child process; peak RSS of the process during the measurement)")
		tw := tabwriter.NewWriter(cw, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "server\tconns\testablished in\thost heap/conn\thost stacks/conn\tguest memory/conn\tRSS/conn\thost goroutines/conn\tpeak RSS\t")
		for _, i := range r.Idle {
			fmt.Fprintf(tw, "%s\t%d\t%.1fs\t%s\t%s\t%s\t%s\t%.1f\t%s\t\n", i.Server, i.Conns, i.Establish.Seconds(),
				kib(i.HostHeapPerConn), kib(i.HostStackPerConn), kib(i.LinearPerConn), kib(i.RSSPerConn), i.GoroutinesPer, mib(float64(i.PeakRSS)))
		}
		tw.Flush()
		fmt.Fprintln(cw, "target: host memory (heap + stacks) at most 64 KiB per idle connection; 10,000 connections must work")
	}
	return cw.n, cw.err
}

func formatValue(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

func kib(b float64) string { return fmt.Sprintf("%.1f KiB", b/1024) }
func mib(b float64) string { return fmt.Sprintf("%.0f MiB", b/(1<<20)) }

// Markdown prints the report as Markdown tables.
func (r *Report) Markdown(w io.Writer) {
	m := r.Machine
	fmt.Fprintf(w, "Measured with %s on %s/%s, CPU %s (%d logical CPUs), GOMAXPROCS %d.\n",
		m.GoVersion, m.OS, m.Arch, m.CPU, m.CPUs, m.GOMAXPROCS)
	if r.Options.NoTerminationChecks {
		fmt.Fprintln(w, "Guests compiled without termination checks (WithCloseOnContextDone(false), no stop flag).")
	} else if r.Options.Checks == ChecksWazero {
		fmt.Fprintln(w, "Guests compiled with wazero's termination checks (WithCloseOnContextDone(true)).")
	}
	for _, line := range r.Skipped {
		fmt.Fprintf(w, "\n**%s**\n", line)
	}
	fmt.Fprintf(w, "Values are the median of %d interleaved runs (lowest-highest run); ratios the median of the runs' ratios against native, side by side (range).\n", rounds)
	for _, t := range r.Tables {
		fmt.Fprintf(w, "\n**%s**\n\n| subject | %s | vs native | vs in-guest | target met |\n|---|--:|--:|--:|:-:|\n", t.Title, t.Unit)
		for _, row := range t.Rows {
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", row.Subject, row.value(), row.vsNative(), ratio(row.VsInGuest), t.meets(row))
		}
		if tg := t.targets(); tg != "" {
			fmt.Fprintf(w, "\nTarget: %s\n", tg)
		}
	}
	if len(r.Idle) > 0 {
		fmt.Fprintf(w, "\n**Idle established TLS connections held by one server** (clients in a child process; peak RSS of the process during the measurement)\n\n")
		fmt.Fprintln(w, "| server | conns | established in | host heap/conn | host stacks/conn | guest memory/conn | RSS/conn | host goroutines/conn | peak RSS |")
		fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|--:|--:|--:|")
		for _, i := range r.Idle {
			fmt.Fprintf(w, "| %s | %d | %.1fs | %s | %s | %s | %s | %.1f | %s |\n", i.Server, i.Conns, i.Establish.Seconds(),
				kib(i.HostHeapPerConn), kib(i.HostStackPerConn), kib(i.LinearPerConn), kib(i.RSSPerConn), i.GoroutinesPer, mib(float64(i.PeakRSS)))
		}
	}
}

type countWriter struct {
	w   io.Writer
	n   int64
	err error
}

func (c *countWriter) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	c.err = err
	return n, err
}

// sizeName is a byte count as the tables name write sizes.
func sizeName(n int) string {
	if n%(1<<10) == 0 {
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}
