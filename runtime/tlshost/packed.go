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

func packStrings(l []string) packedList {
	n := 0
	for _, s := range l {
		n += 2 + len(s) // a name's length takes one or two bytes
	}
	p := make([]byte, 0, n)
	for _, s := range l {
		p = binary.AppendUvarint(p, uint64(len(s)))
		p = append(p, s...)
	}
	return p
}

func packBytes(l [][]byte) packedList {
	n := 0
	for _, b := range l {
		n += 2 + len(b)
	}
	p := make([]byte, 0, n)
	for _, b := range l {
		p = binary.AppendUvarint(p, uint64(len(b)))
		p = append(p, b...)
	}
	return p
}

// bytes unpacks the list, each element a copy of its own.
func (p packedList) bytes() [][]byte {
	out := make([][]byte, 0, p.count())
	for len(p) > 0 {
		n, w := binary.Uvarint(p)
		p = p[w:]
		out = append(out, append([]byte{}, p[:n]...))
		p = p[n:]
	}
	return out
}

// strings unpacks the list.
func (p packedList) strings() []string {
	out := make([]string, 0, p.count())
	for len(p) > 0 {
		n, w := binary.Uvarint(p)
		p = p[w:]
		out = append(out, string(p[:n]))
		p = p[n:]
	}
	return out
}

// count is how many elements the list holds.
func (p packedList) count() int {
	c := 0
	for len(p) > 0 {
		n, w := binary.Uvarint(p)
		p = p[w+int(n):]
		c++
	}
	return c
}
