package circlpq

import "testing"

// TestKeyExchangeTable checks the group table: every entry is found by
// its ID and has a name, IDs are unique, and a lookup does not allocate.
func TestKeyExchangeTable(t *testing.T) {
	seen := map[uint16]bool{}
	for _, kx := range keyExchanges {
		if seen[kx.id] {
			t.Errorf("group %s listed twice", groupName(kx.id))
		}
		seen[kx.id] = true
		if keyExchangeByID(kx.id) != kx || groupName(kx.id)[0] == '0' {
			t.Errorf("lookup of %s (%#04x) failed", groupName(kx.id), kx.id)
		}
	}
	for _, g := range allGroups {
		if !seen[g] {
			t.Errorf("group %#04x of allGroups is missing from the table", g)
		}
	}
	if keyExchangeByID(0x0101) != nil || isGroupSupported(0x0101) {
		t.Error("an unknown group was found")
	}
	if n := testing.AllocsPerRun(100, func() {
		for _, g := range allGroups {
			keyExchangeByID(g)
		}
	}); n != 0 {
		t.Errorf("keyExchangeByID allocates %v times per %d lookups", n, len(allGroups))
	}
}

// BenchmarkKeyExchangeByID looks up every group once per iteration.
func BenchmarkKeyExchangeByID(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		for _, g := range allGroups {
			keyExchangeByID(g)
		}
	}
}
