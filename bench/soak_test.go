package bench

import (
	"strings"
	"testing"
	"time"
)

// TestSoak runs 30 s of the soak over every backend at once and fails on
// growth beyond noise or on an unexpected outcome of any connection.
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("the soak takes 30 s")
	}
	var progress strings.Builder
	r, err := Soak(SoakOptions{Duration: 30 * time.Second, Interval: 3 * time.Second, Workers: 2, Progress: &progress})
	if r != nil {
		r.Print(&progress)
	}
	t.Log("\n" + progress.String())
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range r.Kinds {
		if k.Done == 0 {
			t.Errorf("no %s connection was made", k.Name)
		}
	}
	for _, f := range r.Failures() {
		t.Error(f)
	}
}

// TestSoakVerdict checks the growth criterion on made-up series: noise
// and a warm-up pass, a leak fails.
func TestSoakVerdict(t *testing.T) {
	series := func(f func(i int) SoakSample) *SoakReport {
		r := &SoakReport{}
		for i := range 30 {
			s := f(i)
			s.Elapsed = time.Duration(i) * 10 * time.Second
			r.Samples = append(r.Samples, s)
		}
		r.analyse()
		return r
	}
	base := func(i int) SoakSample {
		wobble := []int{0, 3, -2, 5, -4, 1}[i%6]
		return SoakSample{
			RSS: uint64(300+wobble) << 20, Heap: uint64(40+wobble) << 20, Guest: 24 << 20,
			Goroutines: 60 + wobble, FDs: 30 + wobble/2, Table: 14 + wobble/3,
		}
	}
	if f := series(base).Failures(); len(f) > 0 {
		t.Errorf("noise fails: %q", f)
	}
	warm := series(func(i int) SoakSample {
		s := base(i)
		if i < 3 { // growing to the working size
			s.RSS, s.Heap = uint64(100+50*i)<<20, uint64(10+10*i)<<20
		}
		return s
	})
	if f := warm.Failures(); len(f) > 0 {
		t.Errorf("a warm-up fails: %q", f)
	}
	for _, leak := range []struct {
		metric string
		grow   func(*SoakSample, int)
	}{
		{"rss", func(s *SoakSample, i int) { s.RSS += uint64(i) * 5 << 20 }},
		{"heap", func(s *SoakSample, i int) { s.Heap += uint64(i) * 2 << 20 }},
		{"guest memory", func(s *SoakSample, i int) { s.Guest += uint64(i) * 4 << 20 }},
		{"goroutines", func(s *SoakSample, i int) { s.Goroutines += i }},
		{"fds", func(s *SoakSample, i int) { s.FDs += i }},
		{"table", func(s *SoakSample, i int) { s.Table += i }},
	} {
		r := series(func(i int) SoakSample {
			s := base(i)
			leak.grow(&s, i)
			return s
		})
		f := r.Failures()
		if len(f) != 1 || !strings.HasPrefix(f[0], leak.metric+" grew") {
			t.Errorf("a %s leak: failures %q", leak.metric, f)
		}
	}
	short := &SoakReport{Samples: make([]SoakSample, 5)}
	short.analyse()
	if f := short.Failures(); len(f) != 1 || !strings.Contains(f[0], "too few") {
		t.Errorf("5 samples: failures %q", f)
	}
	bad := series(base)
	bad.Kinds = []KindStats{{Name: "bulk", Done: 10, Unexpected: 1, FirstErrors: []string{"bulk read: EOF"}}}
	if f := bad.Failures(); len(f) != 1 || !strings.Contains(f[0], "bulk read: EOF") {
		t.Errorf("an unexpected error: failures %q", f)
	}
	var out strings.Builder
	bad.Print(&out)
	if !strings.Contains(out.String(), "FAIL:\n  1 of 10 bulk connections") {
		t.Errorf("the report does not say why it fails:\n%s", out.String())
	}
}
