package capreport_test

import (
	"sync"
	"testing"

	"github.com/wasitls/wasitls/internal/capreport"
	"github.com/wasitls/wasitls/internal/capreport/capreporttest"
)

// TestRefusedOnce: many goroutines crossing every cap of one guest at
// once log one record per cap, naming its flag; another guest's Reporter
// logs its own; a nil Reporter logs nothing.
func TestRefusedOnce(t *testing.T) {
	log, rec := capreporttest.New()
	r := capreport.New(log, "guest", 1)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				for _, c := range capreport.All() {
					r.Refused(c, 7)
				}
			}
		})
	}
	wg.Wait()
	var nilReporter *capreport.Reporter
	nilReporter.Refused(capreport.Lookups, 7)
	flags := rec.Flags()
	if len(flags) != len(capreport.All()) {
		t.Fatalf("%d records, want one per cap (%d): %v", len(flags), len(capreport.All()), flags)
	}
	seen := map[string]bool{}
	for _, f := range flags {
		seen[f] = true
	}
	for _, c := range capreport.All() {
		if !seen[c.Flag()] {
			t.Errorf("no record of %s", c.Flag())
		}
	}
	log2, rec2 := capreporttest.New()
	capreport.New(log2, "guest", 2).Refused(capreport.Lookups, 3)
	if err := rec2.Check("--max-lookups", 3, 1); err != nil {
		t.Error(err)
	}
}
