package cabi

import (
	"context"
	"testing"
)

// TestIdleWake: IdleWake is nil with no call in progress; during one it is
// a channel the call's Leave closes (a waiter blocked on it returns), by
// Instance.Leave or by a generated caller's Exports.Leave, whose inlined
// path leaves the watched call to the slow one; and the watch ends with
// the call: the next call enters, takes the inlined path and leaves the
// instance idle.
func TestIdleWake(t *testing.T) {
	inst := NewInstance()
	if inst.IdleWake() != nil {
		t.Fatal("IdleWake with no call in progress is not nil")
	}
	x := &Exports{inst: inst, halted: &inst.halted, stack: make([]uint64, 1)}
	f := &ExportFunc{Name: "f"}
	leaves := []struct {
		name  string
		enter func() bool
		leave func()
	}{
		{"Instance.Leave", func() bool { return inst.Enter("f") == nil }, inst.Leave},
		{"Exports.Leave", func() bool { return x.Enter() != nil }, func() {
			if err := x.Leave(context.Background(), f, nil); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, l := range leaves {
		if !l.enter() {
			t.Fatalf("%s: the call was refused", l.name)
		}
		wake := inst.IdleWake()
		if wake == nil {
			t.Fatalf("%s: IdleWake during a call is nil", l.name)
		}
		if again := inst.IdleWake(); again != wake {
			t.Fatalf("%s: a second waiter got another channel", l.name)
		}
		done := make(chan struct{})
		go func() {
			<-wake // hangs if the call's leave does not close it
			close(done)
		}()
		l.leave()
		<-done
		if inst.IdleWake() != nil || inst.Entered() {
			t.Fatalf("%s: the instance is not idle after the call left", l.name)
		}
		// The watch ended with the call: the next call takes the
		// inlined path, and leaves the instance claimable.
		if x.Enter() == nil {
			t.Fatalf("%s: the next call was refused", l.name)
		}
		if err := x.Leave(context.Background(), f, nil); err != nil || inst.halted != 0 {
			t.Fatalf("%s: the next call left %v with halted %#x, want nil and 0", l.name, err, inst.halted)
		}
	}
}
