// Package protocol is the bulk and echo protocol of the benchmarks, shared
// by the native client and the benchmark guest so that both run the same
// loop.
//
// The server (always native crypto/tls, the same for every client
// measured) drives one established connection with commands of HeaderLen
// bytes: an op, a count (8 bytes) and a write size (4 bytes), big-endian.
// The client under test obeys:
//
//	U n w  upload: the client writes n bytes, w at a time
//	D n w  download: the client reads n bytes with a w-byte buffer, then
//	       writes one byte (the acknowledgement)
//	E n    echo: n times, the client writes one byte and reads it back
//	Q      quit: the client stops
package protocol

import (
	"encoding/binary"
	"fmt"
	"io"
)

// The commands.
const (
	OpUpload   = 'U'
	OpDownload = 'D'
	OpEcho     = 'E'
	OpQuit     = 'Q'
	HeaderLen  = 13
)

// Header encodes a command.
func Header(op byte, n uint64, w int) [HeaderLen]byte {
	var hdr [HeaderLen]byte
	hdr[0] = op
	binary.BigEndian.PutUint64(hdr[1:9], n)
	binary.BigEndian.PutUint32(hdr[9:13], uint32(w))
	return hdr
}

// Obey is the client's side: it carries out the commands read from c until
// the quit command, and returns nil then.
func Obey(c io.ReadWriter) error {
	var hdr [HeaderLen]byte
	var buf []byte
	for {
		if _, err := io.ReadFull(c, hdr[:]); err != nil {
			return fmt.Errorf("read command: %w", err)
		}
		n := binary.BigEndian.Uint64(hdr[1:9])
		w := int(binary.BigEndian.Uint32(hdr[9:13]))
		if w > len(buf) {
			buf = make([]byte, w)
		}
		switch hdr[0] {
		case OpUpload:
			for n > 0 {
				k := min(uint64(w), n)
				if _, err := c.Write(buf[:k]); err != nil {
					return fmt.Errorf("upload: %w", err)
				}
				n -= k
			}
		case OpDownload:
			for n > 0 {
				got, err := c.Read(buf[:min(uint64(w), n)])
				if err != nil {
					return fmt.Errorf("download: %w", err)
				}
				n -= uint64(got)
			}
			if _, err := c.Write([]byte{1}); err != nil {
				return fmt.Errorf("download ack: %w", err)
			}
		case OpEcho:
			one := buf[:1]
			for ; n > 0; n-- {
				if _, err := c.Write(one); err != nil {
					return fmt.Errorf("echo: %w", err)
				}
				if _, err := io.ReadFull(c, one); err != nil {
					return fmt.Errorf("echo: %w", err)
				}
			}
		case OpQuit:
			return nil
		default:
			return fmt.Errorf("unknown command %q", hdr[0])
		}
	}
}
