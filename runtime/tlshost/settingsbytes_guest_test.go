package tlshost_test

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/internal/capreport/capreporttest"
	"github.com/wasitls/wasitls/internal/testnet"
	"github.com/wasitls/wasitls/runtime/tlshost"
)

// TestGuestSettingsBytesLimit: a guest configuring 192 ALPN IDs of 255
// bytes (the most a client may offer) on every client handshake, and
// keeping every connection, gets the configure-alpn-ids calls past
// Config.SettingsBytes (1 MiB) refused with an error naming the limit and
// the flag, goes on, and the host's heap grows by about the limit, not by
// the IDs of every connection; the connections it keeps established
// count the same; once it drops them the budget is back whole, and a
// handshake with the IDs completes. Before, only the guest's sockets
// bounded the IDs the host kept.
func TestGuestSettingsBytesLimit(t *testing.T) {
	const limit, n = 1 << 20, 96
	// What the host counts of a connection: its server name and the IDs,
	// each with its string header.
	const perConn = len("localhost") + 192*(255+16)
	cert := bigCertificate(t, 0)
	port := bigChainServer(t, cert)
	roots := pool(t, cert)
	eachBackend(t, func(t *testing.T, backend string) {
		cfg := tlshost.Config{BackendName: backend, RootCAs: roots, SettingsBytes: limit}
		g := newLineGuestRuntime(t, cfg, "./testdata/settingshog").start(t, "localhost", port, fmt.Sprint(n))
		g.next(t, "ready")
		out, grew := g.goMeasured(t, "suspended: ")
		t.Logf("%s; host heap grew by %d KiB (%d KiB a connection)", out, grew>>10, grew/n>>10)
		want := limit / perConn
		if prefix := fmt.Sprintf("suspended: configured %d, refused %d: configure-alpn-ids: ", want, n-want); !strings.HasPrefix(out, prefix) {
			t.Errorf("%s: want it to start %q", out, prefix)
		}
		mustContain(t, out, fmt.Sprintf("more than the %d allowed (tlshost.Config.SettingsBytes, wasitls run --max-tls-settings-bytes)", limit))
		// The IDs held take about their count, a suspended connection
		// without them some 8 KiB. Without the limit the heap grew by
		// 5.6 MiB (60 KiB a connection).
		if bound := int64(3*limit/2 + n*16<<10); grew > bound {
			t.Errorf("the host's heap grew by %d KiB for a guest whose settings may hold %d KiB, want under %d KiB", grew>>10, limit>>10, bound>>10)
		}
		g.tell("drop")
		g.next(t, "dropped")
		out = g.next(t, "established: ")
		if prefix := fmt.Sprintf("established: configured %d, refused %d, failed 0: configure-alpn-ids: ", want, n-want); !strings.HasPrefix(out, prefix) {
			t.Errorf("%s: want it to start %q: the dropped connections' bytes back, and the established ones counted", out, prefix)
		}
		g.tell("drop")
		if out := g.next(t, "after drop: "); out != "after drop: ok" {
			t.Errorf("%s: want a handshake with the IDs to complete once the connections were dropped", out)
		}
		g.end(t)
	})
}

// TestGuestServerIdentitiesSettingsBytes: a guest server configuring each
// of its handshakes with 16,384 references to one identity, and keeping
// every connection, gets the configure-server-identities calls past
// Config.SettingsBytes (1 MiB, two such lists) refused naming the limit,
// goes on, and the host's heap stays bounded; once it drops the
// connections a list is accepted again. The runtime's log has one record
// of the cap for the guest, naming the flag (capreport), though the guest
// crossed it 14 times. Before, each list stayed on the
// host, 128 KiB a connection, bounded only by the guest's sockets.
func TestGuestServerIdentitiesSettingsBytes(t *testing.T) {
	const limit, n, count = 1 << 20, 16, 16384
	const perConn = count * 24 // three references to the identity each
	p := newGuestPKI(t)
	port := bigChainServer(t, bigCertificate(t, 0)) // a peer that is sent nothing
	eachBackend(t, func(t *testing.T, backend string) {
		id := backendIdentity(t, backend, p.local)
		cfg := tlshost.Config{BackendName: backend, SettingsBytes: limit, Identities: map[string]*backends.Identity{"local": id}}
		log, rec := capreporttest.New()
		g := newLoggedLineGuestRuntime(t, cfg, "./testdata/settingshog", log).start(t, "ids", "localhost", port, fmt.Sprint(n), fmt.Sprint(count), "local")
		g.next(t, "ready")
		if err := rec.Check("--max-tls-settings-bytes", limit, 0); err != nil {
			t.Errorf("before the guest crossed the cap: %v", err)
		}
		out, grew := g.goMeasured(t, "identities: ")
		t.Logf("%s; host heap grew by %d KiB", out, grew>>10)
		want := limit / perConn
		if prefix := fmt.Sprintf("identities: configured %d, refused %d: configure-server-identities: ", want, n-want); !strings.HasPrefix(out, prefix) {
			t.Errorf("%s: want it to start %q", out, prefix)
		}
		mustContain(t, out, fmt.Sprintf("more than the %d allowed (tlshost.Config.SettingsBytes, wasitls run --max-tls-settings-bytes)", limit))
		if err := rec.Check("--max-tls-settings-bytes", limit, 1); err != nil {
			t.Error(err)
		}
		// Each list kept takes 128 KiB, a suspended connection some
		// 17 KiB; without the limit the heap grew by 2.2 MiB.
		if bound := int64(limit/2 + n*16<<10); grew > bound {
			t.Errorf("the host's heap grew by %d KiB, want under %d KiB", grew>>10, bound>>10)
		}
		g.tell("drop")
		if out := g.next(t, "after drop: "); out != "after drop: ok" {
			t.Errorf("%s: want a list accepted once the connections were dropped", out)
		}
		g.end(t)
	})
}

// TestGuestClientResponseSettingsBytes: a guest client answering each
// server's certificate request with 16,384 references to one identity,
// which the host keeps for the connection's life (a post-handshake
// request gets the same answer), and keeping every connection, gets the
// handshakes whose answer would take the count past Config.SettingsBytes
// (1 MiB, two such answers) fail with an error naming the limit; once it
// drops the connections such a handshake completes again.
func TestGuestClientResponseSettingsBytes(t *testing.T) {
	const limit, n, count = 1 << 20, 6, 16384
	const perConn = len("localhost") + count*24
	p := newGuestPKI(t)
	cert := bigCertificate(t, 0)
	roots := pool(t, cert)
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequestClientCert}
	addr := testnet.Serve(t, func(c net.Conn) {
		defer c.Close()
		c.SetDeadline(time.Now().Add(20 * time.Second))
		tls.Server(c, cfg).Handshake()
		io.Copy(io.Discard, c)
	})
	eachBackend(t, func(t *testing.T, backend string) {
		id := backendIdentity(t, backend, p.client)
		cfg := tlshost.Config{BackendName: backend, RootCAs: roots, SettingsBytes: limit, Identities: map[string]*backends.Identity{"client": id}}
		g := newLineGuestRuntime(t, cfg, "./testdata/settingshog").start(t, "respond", "localhost", fmt.Sprint(addr.Port), fmt.Sprint(n), fmt.Sprint(count), "client")
		g.next(t, "ready")
		g.tell("go")
		out := g.next(t, "respond: ")
		t.Log(out)
		want := limit / perConn
		if prefix := fmt.Sprintf("respond: completed %d, failed %d: ", want, n-want); !strings.HasPrefix(out, prefix) {
			t.Errorf("%s: want it to start %q", out, prefix)
		}
		mustContain(t, out, "client-identity-request.respond", fmt.Sprintf("more than the %d allowed (tlshost.Config.SettingsBytes, wasitls run --max-tls-settings-bytes)", limit))
		g.tell("drop")
		if out := g.next(t, "after drop: "); out != "after drop: ok" {
			t.Errorf("%s: want the handshake to complete once the connections were dropped", out)
		}
		g.end(t)
	})
}
