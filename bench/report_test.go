package bench

import (
	"strings"
	"testing"
	"time"
)

func TestTableRatios(t *testing.T) {
	tab := &Table{Unit: "MB/s"}
	tab.add(nativeSubject().name, 1000)
	tab.add(wasiSubject("stdtls").name, 800)
	tab.add(inGuestSubject("stdtls").name, 40)
	tab.finish()
	want := []Row{
		{Subject: "native crypto/tls", Value: 1000, VsNative: 0, VsInGuest: 25},
		{Subject: "guest wasi:tls stdtls", Value: 800, VsNative: 0.8, VsInGuest: 20},
		{Subject: "guest in-wasm crypto/tls", Value: 40, VsNative: 0.04, VsInGuest: 0},
	}
	for i, r := range tab.Rows {
		if r != want[i] {
			t.Errorf("row %d = %+v; want %+v", i, r, want[i])
		}
	}

	tab.MinVsNative, tab.MinVsInGuest = 0.8, 20
	if got := tab.meets(tab.Rows[1]); got != "yes" {
		t.Errorf("0.8x native and 20x in-guest against targets 0.8x and 20x: %q", got)
	}
	tab.MinVsInGuest = 21
	if got := tab.meets(tab.Rows[1]); got != "no" {
		t.Errorf("20x in-guest against a target of 21x: %q", got)
	}
	if got := tab.meets(tab.Rows[0]); got != "" {
		t.Errorf("native row: %q", got)
	}

	// Times: ratios are inverted so that they read as speed.
	lat := &Table{Unit: "µs", LowerIsBetter: true}
	lat.add(nativeSubject().name, 20)
	lat.add(wasiSubject("stdtls").name, 100)
	lat.finish()
	if got := lat.Rows[1].VsNative; got != 0.2 {
		t.Errorf("latency ratio %v; want 0.2", got)
	}
	if got := lat.Rows[1].VsInGuest; got != 0 {
		t.Errorf("ratio against a missing baseline %v; want 0", got)
	}
}

func TestReportOutput(t *testing.T) {
	tab := &Table{Title: "bulk upload, 16 KiB writes", Unit: "MB/s", Target: "at least 0.8x", MinVsNative: 0.8}
	tab.add(nativeSubject().name, 1000)
	tab.add(wasiSubject("stdtls").name, 500)
	tab.finish()
	r := &Report{
		Machine: Machine{GoVersion: "go1.x", OS: "linux", Arch: "amd64", CPU: "Test CPU", CPUs: 2, GOMAXPROCS: 2},
		Tables:  []*Table{tab},
		Idle:    []*IdleResult{{Server: "guest wasi:tls stdtls", Conns: 10000, Establish: 3 * time.Second, HostHeapPerConn: 18 << 10, HostStackPerConn: 8 << 10, PeakRSS: 300 << 20}},
	}
	var text, md strings.Builder
	if _, err := r.WriteTo(&text); err != nil {
		t.Fatal(err)
	}
	r.Markdown(&md)
	for _, want := range []string{"go1.x", "Test CPU", "GOMAXPROCS 2", "bulk upload, 16 KiB writes", "0.50x", "target: at least 0.8x", "18.0 KiB", "8.0 KiB", "300 MiB", "10000"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text output lacks %q:\n%s", want, text.String())
		}
	}
	for _, want := range []string{"| guest wasi:tls stdtls | 500 | 0.50x | - | no |", "| subject | MB/s | vs native | vs in-guest | target met |", "| guest wasi:tls stdtls | 10000 | 3.0s | 18.0 KiB | 8.0 KiB |"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("Markdown output lacks %q:\n%s", want, md.String())
		}
	}
}

func TestInterleave(t *testing.T) {
	var order []int
	total, err := interleave(3, func(j, r int) (time.Duration, error) {
		order = append(order, j)
		return time.Duration(j+1) * time.Millisecond, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(order) != 3*rounds {
		t.Fatalf("%d calls; want %d", len(order), 3*rounds)
	}
	// Each round starts with a different subject.
	if order[0] != 0 || order[3] != 1 || order[6] != 2 || order[9] != 0 {
		t.Errorf("order %v does not rotate", order)
	}
	for j, runs := range total {
		for r, d := range runs {
			if want := time.Duration(j+1) * time.Millisecond; d != want {
				t.Errorf("run %d of subject %d = %v; want %v", r, j, d, want)
			}
		}
	}
	var sum int64
	for r := range rounds {
		sum += share(1003, r)
	}
	if sum != 1003 {
		t.Errorf("shares add up to %d; want 1003", sum)
	}
}

// Runs give the median and range, and ratios are taken run by run.
func TestTableRuns(t *testing.T) {
	tab := &Table{Unit: "MB/s", CMin: map[string]float64{cSubject("stdtls").name: 0.95}}
	tab.addRuns(nativeSubject().name, []float64{100, 200, 100, 100, 100})
	tab.addRuns(cSubject("stdtls").name, []float64{95, 190, 50, 100, 96})
	tab.finish()
	r := tab.Rows[1]
	if r.Value != 96 || r.Lo != 50 || r.Hi != 190 {
		t.Errorf("value %v (%v-%v); want 96 (50-190)", r.Value, r.Lo, r.Hi)
	}
	if r.VsNative != 0.95 || r.VsNativeLo != 0.5 || r.VsNativeHi != 1 {
		t.Errorf("vs native %v (%v-%v); want 0.95 (0.5-1)", r.VsNative, r.VsNativeLo, r.VsNativeHi)
	}
	if got := tab.meets(r); got != "yes" {
		t.Errorf("C row at 0.95x against 0.95x: %q", got)
	}
	if got := r.vsNative(); got != "0.95x (0.50-1.00)" {
		t.Errorf("printed %q", got)
	}
}

// A report measured without termination checks, or with wazero's, says
// so in both formats, and one measured with the stop flag (the default)
// says nothing.
func TestReportTerminationChecks(t *testing.T) {
	for _, tc := range []struct {
		opts Options
		want string
	}{
		{Options{}, ""},
		{Options{Checks: ChecksStopFlag}, ""},
		{Options{NoTerminationChecks: true}, "without termination checks"},
		{Options{Checks: ChecksWazero}, "with wazero's termination checks"},
	} {
		r := &Report{Machine: ThisMachine(), Options: tc.opts}
		var text, md strings.Builder
		r.WriteTo(&text)
		r.Markdown(&md)
		for name, out := range map[string]string{"text": text.String(), "markdown": md.String()} {
			mentions := strings.Contains(strings.ToLower(out), "termination checks")
			if tc.want == "" && mentions || tc.want != "" && !strings.Contains(strings.ToLower(out), tc.want) {
				t.Errorf("%+v: %s output does not say %q:\n%s", tc.opts, name, tc.want, out)
			}
		}
	}
}
