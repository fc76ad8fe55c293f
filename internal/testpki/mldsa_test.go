package testpki

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cloudflare/circl/pki"
	"github.com/cloudflare/circl/sign"
)

// TestMLDSAChains mints pure and hybrid chains and checks every signature
// with circl (ML-DSA) or crypto/x509 (classical).
func TestMLDSAChains(t *testing.T) {
	for _, tc := range []struct {
		name              string
		root, inter, leaf KeyType
	}{
		{"MLDSA44", MLDSA44, MLDSA44, MLDSA44},
		{"MLDSA65", MLDSA65, MLDSA65, MLDSA65},
		{"MLDSA87", MLDSA87, MLDSA87, MLDSA87},
		{"MLDSALeafUnderECDSA", ECDSAP256, ECDSAP256, MLDSA65},
		{"ECDSALeafUnderMLDSA", MLDSA65, MLDSA44, ECDSAP256},
		{"Mixed", MLDSA87, ECDSAP256, MLDSA44},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root, err := NewCAWith("root "+tc.name, tc.root)
			if err != nil {
				t.Fatal(err)
			}
			inter, err := root.Intermediate("inter "+tc.name, tc.inter)
			if err != nil {
				t.Fatal(err)
			}
			leaf, err := inter.Issue(LeafOptions{DNSNames: []string{"pq.test"}, Key: tc.leaf, Usage: ServerAuth | ClientAuth})
			if err != nil {
				t.Fatal(err)
			}
			if !isSelfSigned(root.Cert) {
				t.Errorf("root does not verify as self-signed")
			}
			if len(leaf.Chain) != 2 || !bytes.Equal(leaf.Chain[1], inter.Cert.Raw) {
				t.Fatalf("chain of %d certificates; want leaf and intermediate", len(leaf.Chain))
			}
			if err := checkSignatureFrom(leaf.Cert, inter.Cert); err != nil {
				t.Errorf("leaf signature: %v", err)
			}
			if err := checkSignatureFrom(inter.Cert, root.Cert); err != nil {
				t.Errorf("intermediate signature: %v", err)
			}
			if err := checkSignatureFrom(leaf.Cert, root.Cert); err == nil {
				t.Errorf("leaf verifies against the root that did not sign it")
			}
			if leaf.Cert.VerifyHostname("pq.test") != nil || len(leaf.Cert.ExtKeyUsage) != 2 {
				t.Errorf("leaf names or usages lost: %v %v", leaf.Cert.DNSNames, leaf.Cert.ExtKeyUsage)
			}
			if !bytes.Equal(leaf.Cert.AuthorityKeyId, inter.Cert.SubjectKeyId) || len(inter.Cert.SubjectKeyId) == 0 {
				t.Errorf("authority key ID does not name the issuer's subject key ID")
			}
			pub, err := PublicKey(leaf.Cert)
			if err != nil {
				t.Fatal(err)
			}
			if !leaf.Key.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(pub) {
				t.Errorf("certified key is not the leaf key")
			}
			// A flipped bit anywhere in the signed part breaks it.
			bad := bytes.Clone(leaf.Chain[0])
			bad[len(bad)/3] ^= 1
			if c, err := x509.ParseCertificate(bad); err == nil && checkSignatureFrom(c, inter.Cert) == nil {
				t.Errorf("tampered certificate verifies")
			}
		})
	}
}

// TestMLDSAPKCS8 checks the three private key forms against circl's own
// parser (which accepts the seed and both forms).
func TestMLDSAPKCS8(t *testing.T) {
	for _, k := range []KeyType{MLDSA44, MLDSA65, MLDSA87} {
		key, err := GenerateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		for _, form := range []MLDSAKeyForm{MLDSASeed, MLDSABoth} {
			der, err := MarshalMLDSAPKCS8(key, form)
			if err != nil {
				t.Fatal(err)
			}
			got, err := pki.UnmarshalPKIXPrivateKey(der)
			if err != nil {
				t.Fatalf("%v form %d: circl cannot parse: %v", k, form, err)
			}
			if !got.Equal(key.(sign.PrivateKey)) {
				t.Errorf("%v form %d: different key after the round trip", k, form)
			}
		}
		der, err := MarshalMLDSAPKCS8(key, MLDSAExpanded)
		if err != nil {
			t.Fatal(err)
		}
		if len(der) < 2000 {
			t.Errorf("%v expanded form is only %d bytes", k, len(der))
		}
	}
}

// TestGo127CrossCheck verifies minted ML-DSA chains and parses minted keys
// with Go 1.27's crypto/x509, an independent implementation. It downloads
// that toolchain (about 76 MB) once, so it runs only when asked:
//
//	WASITLS_GO127=1 go test ./internal/testpki -run Go127
func TestGo127CrossCheck(t *testing.T) {
	if os.Getenv("WASITLS_GO127") == "" {
		t.Skip("set WASITLS_GO127=1 to cross-check ML-DSA encodings with GOTOOLCHAIN=go1.27.3")
	}
	dir := t.TempDir()
	write := func(name string, typ string, der ...[]byte) {
		var out []byte
		for _, d := range der {
			out = append(out, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: d})...)
		}
		if err := os.WriteFile(filepath.Join(dir, name), out, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var cases []string
	for _, tc := range []struct {
		name              string
		root, inter, leaf KeyType
	}{
		{"mldsa44", MLDSA44, MLDSA44, MLDSA44},
		{"mldsa65", MLDSA65, ECDSAP256, MLDSA65},
		{"mldsa87", MLDSA87, MLDSA87, MLDSA87},
		{"hybrid", ECDSAP256, MLDSA65, ECDSAP256},
	} {
		root, err := NewCAWith("root", tc.root)
		if err != nil {
			t.Fatal(err)
		}
		inter, err := root.Intermediate("inter", tc.inter)
		if err != nil {
			t.Fatal(err)
		}
		leaf, err := inter.Issue(LeafOptions{DNSNames: []string{"pq.test"}, Key: tc.leaf})
		if err != nil {
			t.Fatal(err)
		}
		write(tc.name+"-root.pem", "CERTIFICATE", root.Cert.Raw)
		write(tc.name+"-chain.pem", "CERTIFICATE", leaf.Chain...)
		write(tc.name+"-key.pem", "PRIVATE KEY", leaf.KeyPKCS8())
		cases = append(cases, tc.name)
	}
	prog := `package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
)

func main() {
	dir := os.Args[1]
	for _, name := range os.Args[2:] {
		rootPEM, _ := os.ReadFile(filepath.Join(dir, name+"-root.pem"))
		chainPEM, _ := os.ReadFile(filepath.Join(dir, name+"-chain.pem"))
		keyPEM, _ := os.ReadFile(filepath.Join(dir, name+"-key.pem"))
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(rootPEM) {
			fmt.Println(name, "root does not parse"); os.Exit(1)
		}
		var certs []*x509.Certificate
		for rest := chainPEM; ; {
			var b *pem.Block
			if b, rest = pem.Decode(rest); b == nil { break }
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil { fmt.Println(name, err); os.Exit(1) }
			certs = append(certs, c)
		}
		inter := x509.NewCertPool()
		for _, c := range certs[1:] { inter.AddCert(c) }
		if _, err := certs[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, DNSName: "pq.test"}); err != nil {
			fmt.Println(name, "verify:", err); os.Exit(1)
		}
		if _, err := tls.X509KeyPair(chainPEM, keyPEM); err != nil {
			fmt.Println(name, "key pair:", err); os.Exit(1)
		}
		fmt.Println(name, "ok")
	}
}
`
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(prog), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module crosscheck\n\ngo 1.27\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", append([]string{"run", ".", dir}, cases...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOTOOLCHAIN=go1.27.3", "GOFLAGS=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go1.27.3 cross-check failed: %v\n%s", err, out)
	}
	if n := strings.Count(string(out), " ok"); n != len(cases) {
		t.Fatalf("go1.27.3 cross-check: %d of %d cases ok\n%s", n, len(cases), out)
	}
	t.Logf("go1.27.3 accepts the minted chains and keys:\n%s", out)
}
