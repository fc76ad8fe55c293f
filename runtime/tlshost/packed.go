package tlshost

import "encoding/binary"

// A packedList is a list of byte strings in one buffer, each after its
// length as a uvarint. The host keeps what a peer sent as a list of names
// (a ClientHello's ALPN protocols, a certificate request's CA names) for
// the guest this way, so that a copy costs about the bytes the peer sent:
// as a []string or [][]byte each name costs a 16- or 24-byte header and,
// for a [][]byte copy, an allocation, 8 to 16 times a one-byte name's two
// bytes on the wire.
type packedList []byte

// pack packs l.
func pack[S ~string | ~[]byte](l []S) packedList {
	n := 0
	for _, s := range l {
		// A length under 16,384 takes one or two bytes (an ALPN
		// protocol's always); a longer one grows the buffer.
		n += 2 + len(s)
	}
	p := make([]byte, 0, n)
	for _, s := range l {
		p = binary.AppendUvarint(p, uint64(len(s)))
		p = append(p, s...)
	}
	return p
}

// each calls f with each element in turn, a slice of p's buffer.
func (p packedList) each(f func([]byte)) {
	for len(p) > 0 {
		n, w := binary.Uvarint(p)
		p = p[w:]
		f(p[:n])
		p = p[n:]
	}
}

// bytes unpacks the list, each element a copy of its own.
func (p packedList) bytes() [][]byte {
	out := make([][]byte, 0, p.count())
	p.each(func(b []byte) { out = append(out, append([]byte{}, b...)) })
	return out
}

// strings unpacks the list.
func (p packedList) strings() []string {
	out := make([]string, 0, p.count())
	p.each(func(b []byte) { out = append(out, string(b)) })
	return out
}

// count is how many elements the list holds.
func (p packedList) count() int {
	c := 0
	p.each(func([]byte) { c++ })
	return c
}
