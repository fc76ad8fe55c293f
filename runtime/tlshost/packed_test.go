package tlshost

import (
	"fmt"
	goruntime "runtime"
	"slices"
	"testing"

	"github.com/wasitls/wasitls/backends"
)

// allocated is how many bytes f allocates on the heap.
func allocated(f func()) uint64 {
	var before, after goruntime.MemStats
	goruntime.GC()
	goruntime.ReadMemStats(&before)
	f()
	goruntime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestPeerListsCopiedCompact: the copy the host keeps for a guest that
// asked for a ClientHello (receive-client-hello) or a certificate request
// (receive-client-identity-request) costs at most 3 times what the peer
// sent of its names, however many: 20,000 one-byte ALPN protocols (40 KB
// on the wire), 15,000 empty CA names (60 KB). Before, the copies were a
// []string and a [][]byte: 320 KiB and 470 KiB, held for as long as
// the guest held the future or the resource.
func TestPeerListsCopiedCompact(t *testing.T) {
	protos := make([]string, 20000)
	for i := range protos {
		protos[i] = string(rune('a' + i%26))
	}
	cas := make([][]byte, 15000)
	for i := range cas {
		cas[i] = []byte{0x30, 0}
	}
	var h *helloCopy
	if n, wire := allocated(func() { h = cloneHello(&backends.ClientHello{ALPN: protos}) }), 2*len(protos); n > uint64(3*wire) {
		t.Errorf("a copy of %d ALPN protocols (%d bytes on the wire) allocated %d bytes", len(protos), wire, n)
	}
	var r *requestCopy
	if n, wire := allocated(func() { r = cloneRequest(&backends.IdentityRequest{AcceptableCAs: cas}) }), 4*len(cas); n > uint64(3*wire) {
		t.Errorf("a copy of %d CA names (%d bytes on the wire) allocated %d bytes", len(cas), wire, n)
	}
	if got := h.alpn.strings(); !slices.Equal(got, protos) {
		t.Errorf("ALPN protocols come back as %d names, want the %d given", len(got), len(protos))
	}
	if got := r.acceptableCAs.bytes(); !slices.EqualFunc(got, cas, slices.Equal) {
		t.Errorf("CA names come back as %d names, want the %d given", len(got), len(cas))
	}
	// Names of every length come back as they were given.
	names := []string{"", "h2", string(make([]byte, 127)), string(make([]byte, 128)), string(make([]byte, 70000))}
	if got := pack(names).strings(); !slices.Equal(got, names) {
		t.Errorf("names of lengths 0 to 70,000 come back as %s", fmt.Sprint(len(got)))
	}
	if got := pack([][]byte(nil)).bytes(); len(got) != 0 {
		t.Errorf("an empty list comes back with %d names", len(got))
	}
}
