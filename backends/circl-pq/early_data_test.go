package circlpq

import (
	"bytes"
	"net"
	"testing"
)

// injectAfterFirstWrite sends extra bytes right after the first write: the
// 0-RTT records a client would send behind its ClientHello.
type injectAfterFirstWrite struct {
	net.Conn
	extra []byte
	done  bool
}

func (c *injectAfterFirstWrite) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if err == nil && !c.done {
		c.done = true
		_, err = c.Conn.Write(c.extra)
	}
	return n, err
}

// TestRejectedEarlyData checks that a server skips 0-RTT records it cannot
// decrypt (RFC 8446, Section 4.2.10), within a bound of bytes, records
// and their headers, with and without a HelloRetryRequest.
func TestRejectedEarlyData(t *testing.T) {
	p := pki(t)
	records := func(n, size int) []byte {
		var out []byte
		for range n {
			out = append(out, 23, 3, 3, byte(size>>8), byte(size))
			out = append(out, bytes.Repeat([]byte{0xee}, size)...)
		}
		return out
	}
	for _, tc := range []struct {
		name      string
		offer     bool // the ClientHello carries early_data
		hrr       bool
		extra     []byte
		wantAlert Alert // 0: the handshake succeeds
	}{
		{"skipped", true, false, records(3, 1000), 0},
		{"skipped-before-hrr", true, true, records(3, 1000), 0},
		{"too-much", true, false, records(20, maxPlaintext+256), alertUnexpectedMessage},
		// Records count with their headers: before, empty ones took
		// nothing from the bound, and a client could send them until
		// the handshake timed out.
		{"too-many-empty", true, false, records(60000, 0), alertUnexpectedMessage},
		{"too-many-empty-before-hrr", true, true, records(60000, 0), alertUnexpectedMessage},
		{"not-offered", false, false, records(1, 100), alertBadRecordMAC},
		{"not-offered-before-hrr", false, true, records(1, 100), alertUnexpectedMessage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			craw, sraw := tcpPair(t)
			ccfg := p.clientConfig()
			ccfg.Groups = []uint16{X25519, P256}
			scfg := p.serverConfig(p.p256)
			if tc.hrr {
				scfg.Groups = []uint16{P256}
			}
			c, chs := engineClient(t, &injectAfterFirstWrite{Conn: craw, extra: tc.extra}, ccfg)
			if tc.offer {
				c.testMutate = mutateMessage(typeClientHello, func(m []byte) []byte {
					var ch clientHelloMsg
					ch.unmarshal(m)
					if len(ch.keyShares) > 0 && ch.keyShares[0].group == X25519 {
						ch.earlyData = true // only in the first ClientHello
					}
					return ch.marshal()
				})
			}
			s, shs := engineServer(t, sraw, scfg)
			cerr, serr := both(chs, shs)
			if tc.wantAlert == 0 {
				if cerr != nil || serr != nil {
					t.Fatalf("handshake: client %v, server %v", cerr, serr)
				}
				if s.didHRR != tc.hrr {
					t.Errorf("hello retry %v; want %v", s.didHRR, tc.hrr)
				}
				echo(t, c, s)
				return
			}
			if a, ok := errorAlert(serr); !ok || a != tc.wantAlert {
				t.Errorf("server error = %v; want %v", serr, tc.wantAlert)
			}
		})
	}
}
