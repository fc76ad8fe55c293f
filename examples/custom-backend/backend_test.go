package custombackend

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wasitls/wasitls/backends"
	circlpq "github.com/wasitls/wasitls/backends/circl-pq"
	"github.com/wasitls/wasitls/internal/testnet"
	"github.com/wasitls/wasitls/internal/testpki"
)

func pipeTCP(t *testing.T) (client, server net.Conn) {
	c, s := testnet.TCPPair(t)
	c.SetDeadline(time.Now().Add(5 * time.Second))
	s.SetDeadline(time.Now().Add(5 * time.Second))
	return c, s
}

// issue makes a CA and a leaf it issues for names.
func issue(t *testing.T, names ...string) (*testpki.CA, *testpki.Leaf) {
	t.Helper()
	ca, err := testpki.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Issue(testpki.LeafOptions{DNSNames: names})
	if err != nil {
		t.Fatal(err)
	}
	return ca, leaf
}

func TestAllowList(t *testing.T) {
	ca, leaf := issue(t, "allowed.example", "denied.example")
	var logs bytes.Buffer
	b := New(nil, []string{"allowed.example"}, slog.New(slog.NewTextHandler(&logs, nil)))
	var _ backends.Backend = b

	t.Run("client allowed", func(t *testing.T) {
		cc, sc := pipeTCP(t)
		go tls.Server(sc, &tls.Config{Certificates: []tls.Certificate{leaf.TLSCertificate()}}).Handshake()
		c, err := b.Client(cc, &backends.ClientConfig{ServerName: "allowed.example", RootCAs: ca.Pool()})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Handshake(context.Background()); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(logs.String(), "server_name=allowed.example") {
			t.Fatalf("handshake not logged: %s", logs.String())
		}
	})
	t.Run("client denied", func(t *testing.T) {
		cc, _ := pipeTCP(t)
		_, err := b.Client(cc, &backends.ClientConfig{ServerName: "denied.example", RootCAs: ca.Pool()})
		if err == nil || !strings.Contains(err.Error(), "not on the allow-list") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("server denies SNI", func(t *testing.T) {
		cc, sc := pipeTCP(t)
		clientErr := make(chan error, 1)
		go func() {
			clientErr <- tls.Client(cc, &tls.Config{ServerName: "denied.example", RootCAs: ca.Pool()}).Handshake()
		}()
		s, err := b.Server(sc, &backends.ServerConfig{Identities: []*backends.Identity{leaf.Identity()}})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Handshake(context.Background()); err == nil {
			t.Fatal("server accepted a denied name")
		}
		if err := <-clientErr; err == nil || !strings.Contains(err.Error(), "unrecognized name") {
			t.Fatalf("client saw %v, want unrecognized_name", err)
		}
	})
}

// TestForwardsOptionalInterfaces checks that wrapping keeps what the wrapped
// backend offers: its algorithm lists, the inline fast path and the
// exporter, whose output matches the peer's.
func TestForwardsOptionalInterfaces(t *testing.T) {
	ca, leaf := issue(t, "allowed.example")
	inner, err := backends.ByName("stdtls")
	if err != nil {
		t.Fatal(err)
	}
	b := New(nil, []string{"allowed.example"}, slog.New(slog.DiscardHandler))
	var d backends.Describer = b
	if got, want := d.Supported(), inner.(backends.Describer).Supported(); !slices.Equal(got.Groups, want.Groups) || !slices.Equal(got.Versions, want.Versions) {
		t.Fatalf("Supported = %+v, want the wrapped backend's %+v", got, want)
	}

	cc, sc := pipeTCP(t)
	srv := tls.Server(sc, &tls.Config{Certificates: []tls.Certificate{leaf.TLSCertificate()}})
	srvDone := make(chan error, 1)
	go func() { srvDone <- srv.Handshake() }()
	c, err := b.Client(cc, &backends.ClientConfig{ServerName: "allowed.example", RootCAs: ca.Pool()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Handshake(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-srvDone; err != nil {
		t.Fatal(err)
	}
	if nc, ok := c.(backends.NonblockingConn); !ok || !nc.NonblockingTransport() {
		t.Error("the wrapped stdtls connection lost its inline fast path")
	}
	x, ok := c.(backends.KeyingMaterialExporter)
	if !ok {
		t.Fatal("the wrapped connection lost its exporter")
	}
	got, err := x.ExportKeyingMaterial("EXPORTER-test", []byte("ctx"), 32)
	if err != nil {
		t.Fatal(err)
	}
	st := srv.ConnectionState()
	want, err := st.ExportKeyingMaterial("EXPORTER-test", []byte("ctx"), 32)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("exported %x, the peer exported %x", got, want)
	}
}

// TestForwardsApplicationDataCounter checks that wrapping circl-pq keeps
// its count of the application data it read, which the host takes out of
// what a post-handshake client authentication counts against the guest's
// peer certificate bytes: without it, a client uploading while the
// request is out would have its data counted as its chain.
func TestForwardsApplicationDataCounter(t *testing.T) {
	ca, leaf := issue(t, "allowed.example")
	b := New(circlpq.Backend{}, []string{"allowed.example"}, slog.New(slog.DiscardHandler))
	cc, sc := pipeTCP(t)
	const sent = 10000
	srvDone := make(chan error, 1)
	go func() {
		srv := tls.Server(sc, &tls.Config{Certificates: []tls.Certificate{leaf.TLSCertificate()}})
		_, err := srv.Write(make([]byte, sent))
		srvDone <- err
	}()
	c, err := b.Client(cc, &backends.ClientConfig{ServerName: "allowed.example", RootCAs: ca.Pool()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Handshake(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, make([]byte, sent)); err != nil {
		t.Fatal(err)
	}
	if err := <-srvDone; err != nil {
		t.Fatal(err)
	}
	ac, ok := c.(backends.ApplicationDataCounter)
	if !ok {
		t.Fatal("the wrapped circl-pq connection lost its application data count")
	}
	if n := ac.ApplicationDataRead(); n < sent {
		t.Fatalf("ApplicationDataRead = %d after reading %d bytes of data", n, sent)
	}
}
