package bench

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// A Report is the outcome of Run.
type Report struct {
	Machine Machine
	Options Options
	Tables  []*Table
	Idle    []*IdleResult
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
}

// meets reports whether row r (a wasi:tls row) meets the table's target:
// "yes", "no", or "" when the row or table has no target.
func (t *Table) meets(r Row) string {
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
	Value   float64
	// VsNative and VsInGuest are the speed relative to native crypto/tls
	// and to crypto/tls inside the guest, measured in the same run; 0 when
	// not applicable.
	VsNative, VsInGuest float64
}

// add appends a row; ratios are filled by finish.
func (t *Table) add(subject string, value float64) {
	t.Rows = append(t.Rows, Row{Subject: subject, Value: value})
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
	for i := range t.Rows {
		r := &t.Rows[i]
		if r.Subject != nativeSubject().name {
			r.VsNative = speed(r.Value, native)
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

// WriteTo prints the report as plain-text tables.
func (r *Report) WriteTo(w io.Writer) (int64, error) {
	cw := &countWriter{w: w}
	m := r.Machine
	fmt.Fprintf(cw, "wasitls bench: %s %s/%s, CPU %s (%d logical), GOMAXPROCS %d\n",
		m.GoVersion, m.OS, m.Arch, m.CPU, m.CPUs, m.GOMAXPROCS)
	fmt.Fprintln(cw, "ratios are speed relative to the named baseline, measured in the same run (above 1 = faster)")
	if r.Options.NoTerminationChecks {
		fmt.Fprintln(cw, "guests compiled without wazero's termination checks (WithCloseOnContextDone(false))")
	}
	for _, t := range r.Tables {
		fmt.Fprintf(cw, "\n%s\n", t.Title)
		tw := tabwriter.NewWriter(cw, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "subject\t%s\tvs native\tvs in-guest\ttarget met\t\n", t.Unit)
		for _, row := range t.Rows {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t\n", row.Subject, formatValue(row.Value), ratio(row.VsNative), ratio(row.VsInGuest), t.meets(row))
		}
		tw.Flush()
		if t.Target != "" {
			fmt.Fprintf(cw, "target: %s\n", t.Target)
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
		fmt.Fprintln(w, "Guests compiled without wazero's termination checks (WithCloseOnContextDone(false)).")
	}
	for _, t := range r.Tables {
		fmt.Fprintf(w, "\n**%s**\n\n| subject | %s | vs native | vs in-guest | target met |\n|---|--:|--:|--:|:-:|\n", t.Title, t.Unit)
		for _, row := range t.Rows {
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", row.Subject, formatValue(row.Value), ratio(row.VsNative), ratio(row.VsInGuest), t.meets(row))
		}
		if t.Target != "" {
			fmt.Fprintf(w, "\nTarget: %s\n", t.Target)
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
