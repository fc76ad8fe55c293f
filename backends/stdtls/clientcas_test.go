package stdtls_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/internal/testpki"
)

// manyCAs returns a pool of ca and n-1 other roots whose subjects together
// take more than the 65,535 bytes a CertificateRequest's
// certificate_authorities holds.
func manyCAs(t *testing.T, ca *testpki.CA, n int) *x509.CertPool {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	pad := strings.Repeat("x", 120)
	for i := 1; i < n; i++ {
		other, err := testpki.NewCAWith(fmt.Sprintf("wasitls test CA %d %s", i, pad), testpki.ECDSAP256)
		if err != nil {
			t.Fatal(err)
		}
		pool.AddCert(other.Cert)
	}
	size := 0
	//lint:ignore SA1019 Subjects is fine for pools built from certificates.
	for _, s := range pool.Subjects() {
		size += 2 + len(s)
	}
	if size <= 0xffff {
		t.Fatalf("the %d CAs' names take %d bytes: too few to overflow", n, size)
	}
	return pool
}

// TestManyClientCAs: a server asking for client certificates with 500
// acceptable CAs, whose names do not fit in a CertificateRequest, names
// none (certificate_authorities is optional, RFC 8446, Section 4.2.4, and
// RFC 5246, Section 7.4.4, allows an empty list) and verifies the client's
// chain against the pool itself, exactly as strictly: a chain to a CA of
// the pool completes, one to another CA, one without the clientAuth usage
// and an expired one are refused, in TLS 1.3 and 1.2, and a resumed
// session is verified again. Before, crypto/tls failed to encode the
// request, and every such handshake failed.
func TestManyClientCAs(t *testing.T) {
	f := newFixture(t)
	pool := manyCAs(t, f.ca, 500)
	stranger, err := testpki.NewCAWith("stranger", testpki.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	issue := func(ca *testpki.CA, o testpki.LeafOptions) *backends.Identity {
		l, err := ca.Issue(o)
		if err != nil {
			t.Fatal(err)
		}
		return l.Identity()
	}
	good := f.client.Identity()
	for _, v := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
		for _, auth := range []backends.ClientAuth{backends.RequestClientCert, backends.RequireClientCert} {
			name := fmt.Sprintf("%s/auth%d", map[uint16]string{tls.VersionTLS13: "tls13", tls.VersionTLS12: "tls12"}[v], auth)
			t.Run(name, func(t *testing.T) {
				run := func(id *backends.Identity) (req *backends.IdentityRequest, verified [][]byte, client, server backends.Conn, cerr, serr error) {
					cc, sc := f.configs()
					cc.Versions = []uint16{v}
					sc.ClientCAs = pool
					sc.ClientAuth = auth
					cc.ClientIdentity = func(_ context.Context, r *backends.IdentityRequest) ([]*backends.Identity, error) {
						req = r
						if id == nil {
							return nil, nil
						}
						return []*backends.Identity{id}, nil
					}
					sc.VerifyClient = func(_ context.Context, chain [][]byte) error {
						verified = chain
						return nil
					}
					client, server, cerr, serr = handshake(t, cc, sc)
					if cerr == nil && serr != nil {
						// TLS 1.3: the client's handshake ends before the
						// server's answer; its first read gets the alert.
						_, cerr = client.Read(make([]byte, 1))
					}
					return
				}
				req, verified, _, s, cerr, serr := run(good)
				if cerr != nil || serr != nil {
					t.Fatalf("a chain to a CA of the pool: client %v, server %v", cerr, serr)
				}
				if req == nil || len(req.AcceptableCAs) != 0 {
					t.Errorf("the request named %v CAs; want none", req)
				}
				if len(verified) != 1 || len(s.State().PeerChain) != 1 {
					t.Errorf("VerifyClient saw %d certificates, the state %d; want 1", len(verified), len(s.State().PeerChain))
				}
				for _, bad := range []struct {
					what  string
					id    *backends.Identity
					alert string // in TLS 1.2, where crypto/tls's own alert is kept
				}{
					{"a chain to another CA", issue(stranger, testpki.LeafOptions{CommonName: "client", Usage: testpki.ClientAuth}), "unknown certificate authority"},
					{"a chain without clientAuth", issue(f.ca, testpki.LeafOptions{CommonName: "client", Usage: testpki.ServerAuth}), "bad certificate"},
					{"an expired chain", issue(f.ca, testpki.LeafOptions{CommonName: "client", Usage: testpki.ClientAuth, NotBefore: time.Now().Add(-24 * time.Hour), NotAfter: time.Now().Add(-time.Hour)}), "expired certificate"},
				} {
					_, verified, _, _, cerr, serr := run(bad.id)
					if serr == nil || verified != nil {
						t.Errorf("%s: the server accepted it (VerifyClient saw %d certificates)", bad.what, len(verified))
						continue
					}
					want := "bad certificate"
					if v == tls.VersionTLS12 {
						want = bad.alert
					}
					if cerr == nil || !strings.Contains(cerr.Error(), want) {
						t.Errorf("%s: the client read %v; want %q", bad.what, cerr, want)
					}
				}
				_, verified, _, _, cerr, serr = run(nil)
				switch {
				case auth == backends.RequestClientCert && (cerr != nil || serr != nil || verified != nil):
					t.Errorf("no certificate, requested: client %v, server %v, VerifyClient saw %v", cerr, serr, verified)
				case auth == backends.RequireClientCert && serr == nil:
					t.Errorf("no certificate, required: the server accepted it")
				}
			})
		}
	}
}

// TestManyClientCAsResumption: a session resumed at a server whose
// ClientCAs do not fit in its request has its client chain verified
// again, as crypto/tls verifies a resumed session's chains against
// ClientCAs: against the pool it was verified with, it resumes; against a
// pool without its CA, it is refused. TLS 1.3 and 1.2. The client is
// crypto/tls's: a stdtls client keeps no session in which it presented a
// certificate (TestResumptionKeepsNoClientIdentity).
func TestManyClientCAsResumption(t *testing.T) {
	f := newFixture(t)
	pool := manyCAs(t, f.ca, 500)
	other, err := testpki.NewCAWith("other", testpki.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	otherPool := manyCAs(t, other, 500)
	keys := func() []backends.TicketKey { return []backends.TicketKey{{1}} }
	for _, version := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
		cache := tls.NewLRUClientSessionCache(4)
		for i, step := range []struct {
			name   string
			pool   *x509.CertPool
			resume bool
			fail   bool
		}{
			{"first", pool, false, false},
			{"the same pool", pool, true, false},
			{"a pool without the client's CA", otherPool, false, true},
		} {
			_, sc := f.configs()
			sc.ClientCAs, sc.ClientAuth, sc.TicketKeys = step.pool, backends.RequireClientCert, keys
			_, server, cerr, serr := goClientExchange(t, &tls.Config{ServerName: "a.test", RootCAs: f.ca.Pool(),
				Certificates: []tls.Certificate{f.client.TLSCertificate()}, MinVersion: version, MaxVersion: version, ClientSessionCache: cache}, sc)
			if step.fail {
				if serr == nil {
					t.Errorf("%#x %d %s: the server accepted the session (resumed %v)", version, i, step.name, server.State().DidResume)
				}
				continue
			}
			if cerr != nil || serr != nil {
				t.Fatalf("%#x %d %s: client %v, server %v", version, i, step.name, cerr, serr)
			}
			if st := server.State(); st.DidResume != step.resume || len(st.PeerChain) != 1 {
				t.Errorf("%#x %d %s: resumed %v with %d client certificates, want resumed %v with 1", version, i, step.name, st.DidResume, len(st.PeerChain), step.resume)
			}
		}
	}
}
