package sockets

import "testing"

// TestLookupsFitReserve: under any descriptor limit, the DNS sockets of
// the default lookup pool's lookups, which the resolver opens out of the
// descriptor pool's reach, fit in half of DescriptorReserve, and the
// pool is DefaultLookupPool once the reserve has room for it.
func TestLookupsFitReserve(t *testing.T) {
	for _, n := range []int{1, 16, 64, 256, 530, 1000, 1024, 4096, 8191, 8192, 16384, 1 << 20} {
		l := lookupsFor(n)
		if l < 1 || (n >= 16 && l*DNSSocketsPerLookup > DescriptorReserve(n)/2) {
			t.Errorf("RLIMIT_NOFILE %d: %d lookups, %d DNS sockets; the reserve %d", n, l, l*DNSSocketsPerLookup, DescriptorReserve(n))
		}
		if n >= 8192 && l != DefaultLookupPool {
			t.Errorf("RLIMIT_NOFILE %d: %d lookups, want %d", n, l, DefaultLookupPool)
		}
	}
}

// BenchmarkShareTakePut: what a descriptor's unit of the pool costs, a
// Take and a Put, to set beside the open and close it counts
// (filesystem's BenchmarkOpenClose).
func BenchmarkShareTakePut(b *testing.B) {
	s := NewShare(NewSocketPool(1 << 20))
	b.ReportAllocs()
	for b.Loop() {
		if !s.Take() {
			b.Fatal("refused")
		}
		s.Put()
	}
}
