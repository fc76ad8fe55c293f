package testpki

import (
	"crypto/x509"
	"net"
	"strings"
	"testing"
	"time"
)

func TestChainsVerify(t *testing.T) {
	root, err := NewCA()
	if err != nil {
		t.Fatal(err)
	}
	inter, err := root.Intermediate("inter", Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	inter2, err := inter.Intermediate("inter2", ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		ca    *CA
		opts  LeafOptions
		chain int
		usage x509.ExtKeyUsage
		host  string
	}{
		{"Default", root, LeafOptions{}, 1, x509.ExtKeyUsageServerAuth, "localhost"},
		{"DefaultIP", root, LeafOptions{}, 1, x509.ExtKeyUsageServerAuth, "::1"},
		{"Ed25519ViaIntermediate", inter, LeafOptions{DNSNames: []string{"a.test"}, Key: Ed25519}, 2, x509.ExtKeyUsageServerAuth, "a.test"},
		{"TwoIntermediates", inter2, LeafOptions{IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}, 3, x509.ExtKeyUsageServerAuth, "127.0.0.1"},
		{"Client", root, LeafOptions{EmailAddresses: []string{"c@a.test"}, Usage: ClientAuth}, 1, x509.ExtKeyUsageClientAuth, ""},
	} {
		l, err := tc.ca.Issue(tc.opts)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if len(l.Chain) != tc.chain {
			t.Errorf("%s: chain of %d, want %d", tc.name, len(l.Chain), tc.chain)
		}
		inters := x509.NewCertPool()
		for _, der := range l.Chain[1:] {
			c, err := x509.ParseCertificate(der)
			if err != nil {
				t.Fatal(err)
			}
			inters.AddCert(c)
		}
		_, err = l.Cert.Verify(x509.VerifyOptions{Roots: root.Pool(), Intermediates: inters, DNSName: tc.host,
			KeyUsages: []x509.ExtKeyUsage{tc.usage}})
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
		if !strings.Contains(string(l.KeyPEM()), "BEGIN PRIVATE KEY") || strings.Count(string(l.ChainPEM()), "BEGIN CERTIFICATE") != tc.chain {
			t.Errorf("%s: PEM encodings wrong", tc.name)
		}
		if _, err := l.TLSCertificate().Leaf.Verify(x509.VerifyOptions{Roots: root.Pool(), Intermediates: inters,
			KeyUsages: []x509.ExtKeyUsage{tc.usage}}); err != nil {
			t.Errorf("%s: TLSCertificate: %v", tc.name, err)
		}
	}
}

func TestExpiredAndErrors(t *testing.T) {
	root, err := NewCAWith("rsa root", RSA2048)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	l, err := root.Issue(LeafOptions{NotBefore: now.Add(-2 * time.Hour), NotAfter: now.Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = l.Cert.Verify(x509.VerifyOptions{Roots: root.Pool(), DNSName: "localhost"})
	if err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("expired leaf verifies: %v", err)
	}
	if _, err := root.Issue(LeafOptions{NotBefore: now, NotAfter: now.Add(-time.Second)}); err == nil {
		t.Error("inverted validity accepted")
	}
	if _, err := GenerateKey(KeyType(99)); err == nil {
		t.Error("unknown key type accepted")
	}
}
