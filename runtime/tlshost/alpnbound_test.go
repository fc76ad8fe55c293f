package tlshost

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/wasitls/wasitls/backends"
)

// alpnIDsOf returns ALPN IDs that take exactly n bytes in a ClientHello
// (each with its length byte), ending with last.
func alpnIDsOf(n int, last string) [][]byte {
	n -= 1 + len(last)
	var ids [][]byte
	for n > 0 {
		size := min(n-1, 255)
		if rest := n - (1 + size); rest == 1 {
			size-- // no room left for a 1-byte ID's two bytes
		}
		ids = append(ids, bytes.Repeat([]byte{byte('a' + len(ids)%26)}, size))
		n -= 1 + size
	}
	return append(ids, []byte(last))
}

func alpnSize(ids [][]byte) int {
	n := 0
	for _, id := range ids {
		n += 1 + len(id)
	}
	return n
}

// TestClientALPNBound: the most ALPN IDs a client may offer fit the
// largest ClientHello a guest can make otherwise (a 254-byte server name,
// every group the backend implements with a key share each, every cipher
// suite and version) and a session ticket to resume: both backends
// complete a full and a resumed handshake with crypto/tls on loopback,
// whose server reads the whole list (it selects the last ID). One byte
// more is refused when the guest configures it, naming the bound.
func TestClientALPNBound(t *testing.T) {
	p := newPKI(t)
	name := strings.Repeat("a", 63) + "." + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 62)
	if len(name) != maxServerName {
		t.Fatalf("server name of %d bytes, want %d", len(name), maxServerName)
	}
	largest := alpnIDsOf(maxClientALPNBytes, "last")
	over := alpnIDsOf(maxClientALPNBytes+1, "last")
	if alpnSize(largest) != maxClientALPNBytes || alpnSize(over) != maxClientALPNBytes+1 {
		t.Fatalf("ALPN lists of %d and %d bytes", alpnSize(largest), alpnSize(over))
	}
	forEachBackend(t, func(t *testing.T, b backends.Backend) {
		checkNoLeak(t)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		serverErrs := make(chan error, 2)
		go func() {
			cfg := &tls.Config{Certificates: []tls.Certificate{p.server.TLSCertificate()}, NextProtos: []string{"last"}}
			for range 2 {
				c, err := ln.Accept()
				if err != nil {
					serverErrs <- err
					return
				}
				serverErrs <- func() error {
					defer c.Close()
					tc := tls.Server(c, cfg)
					if err := tc.Handshake(); err != nil {
						return err
					}
					if _, err := tc.Write([]byte("ok")); err != nil {
						return err
					}
					io.Copy(io.Discard, tc)
					return nil
				}()
			}
		}()
		all := b.(backends.Describer).Supported()
		base := backends.ClientConfig{InsecureSkipVerify: true, Sessions: backends.NewLRUSessionCache(4)}
		for i, wantResumed := range []bool{false, true} {
			s := newClientSession(b, base, dial(t, ln.Addr().String()))
			if err := s.Connect(name); err != nil {
				t.Fatal(err)
			}
			err := s.ConfigureALPN(over)
			wantErr(t, err, fmt.Sprintf("the ALPN IDs take %d bytes, more than the %d a client's ALPN IDs may take", maxClientALPNBytes+1, maxClientALPNBytes))
			for _, err := range []error{
				s.ConfigureALPN(largest),
				s.ConfigureVersions(all.Versions),
				s.ConfigureCipherSuites(all.CipherSuites),
				s.ConfigureGroups(all.Groups, len(all.Groups)),
			} {
				if err != nil {
					t.Fatal(err)
				}
			}
			conn, err := await(t, s.Finish())
			if err != nil {
				t.Fatalf("handshake %d with %d bytes of ALPN IDs: %v", i, maxClientALPNBytes, err)
			}
			buf := make([]byte, 2)
			if _, err := io.ReadFull(conn, buf); err != nil || string(buf) != "ok" {
				t.Fatalf("read %q, %v", buf, err)
			}
			if st := conn.State(); st.ALPN != "last" || st.DidResume != wantResumed {
				t.Fatalf("handshake %d: ALPN %q, resumed %v", i, st.ALPN, st.DidResume)
			}
			conn.CloseWrite()
			s.Close()
			if err := recvErr(t, serverErrs); err != nil {
				t.Fatalf("server: %v", err)
			}
		}
	})
}

// TestServerALPNBound: a server accepts the ALPN IDs a client's
// extension can hold, no more.
func TestServerALPNBound(t *testing.T) {
	if _, err := alpnStrings("server", alpnIDsOf(maxServerALPNBytes, "h2")); err != nil {
		t.Fatal(err)
	}
	_, err := alpnStrings("server", alpnIDsOf(maxServerALPNBytes+1, "h2"))
	wantErr(t, err, "the ALPN IDs take 65536 bytes, more than the 65535 a server's ALPN IDs may take (what the extension holds")
	_, err = alpnStrings("client", [][]byte{[]byte("h2"), {}})
	wantErr(t, err, "ALPN ID 1 is 0 bytes long")
}
