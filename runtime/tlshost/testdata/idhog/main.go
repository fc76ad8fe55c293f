//go:build wasip1

// Command idhog parses private identities and keeps every one, to push the
// host's bound on the identity bytes a guest holds:
//
//	idhog KIB N [TINY [URIS]]
//
// makes a self-signed certificate carrying an extension of KIB KiB, and
// URIS one-letter URI names ("a:") if given, then
// parses its key and chain up to N times, keeping each identity; the
// chain ends with TINY 2-byte elements (an empty DER SEQUENCE) if given. When a
// parse fails it prints "parse I: ERROR", closes every identity and asks the
// host to collect its garbage: it prints "collect" on a line of its own and
// reads a line from standard input, which the host writes once the
// cleanups of that collection have run, then parses again, up to
// collections times, printing "after close: ok" or the last error. It
// waits on the host's collections, not on a clock, so that how soon the
// host gives the bytes back does not depend on how loaded it is.
// Otherwise it prints "identities N".
package main

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"net/url"
	"os"
	"strconv"
	"time"

	wasitls "github.com/wasitls/wasitls/guest/tls"
)

// collections is how many collections the guest asks for after closing its
// identities before it gives up: one gives them back; the others allow
// for the host's count of cleanups still to run being an estimate.
const collections = 3

func main() {
	if len(os.Args) < 3 || len(os.Args) > 5 {
		fmt.Fprintln(os.Stderr, "usage: idhog KIB N [TINY [URIS]]")
		os.Exit(2)
	}
	kib, err1 := strconv.Atoi(os.Args[1])
	n, err2 := strconv.Atoi(os.Args[2])
	tiny, uris, err3, err4 := 0, 0, error(nil), error(nil)
	if len(os.Args) >= 4 {
		tiny, err3 = strconv.Atoi(os.Args[3])
	}
	if len(os.Args) == 5 {
		uris, err4 = strconv.Atoi(os.Args[4])
	}
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil {
		fmt.Fprintln(os.Stderr, "usage: idhog KIB N [TINY [URIS]]")
		os.Exit(2)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "idhog"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		ExtraExtensions: []pkix.Extension{{
			Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1}, Value: make([]byte, kib<<10),
		}},
	}
	for range uris {
		tmpl.URIs = append(tmpl.URIs, &url.URL{Scheme: "a"})
	}
	cert, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		panic(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		panic(err)
	}
	chain := [][]byte{cert}
	for range tiny {
		chain = append(chain, []byte{0x30, 0x00})
	}
	var held []*wasitls.Identity
	// parse parses once more, keeping the identity.
	parse := func() error {
		id, err := wasitls.ParseIdentity(der, chain...)
		if err == nil {
			held = append(held, id)
		}
		return err
	}
	for i := 1; i <= n; i++ {
		err := parse()
		if err == nil {
			continue
		}
		fmt.Printf("parse %d: %v\n", i, err)
		for _, id := range held {
			id.Close()
		}
		held = nil
		stdin := bufio.NewReader(os.Stdin)
		for range collections {
			fmt.Println("collect")
			if _, err := stdin.ReadString('\n'); err != nil {
				fmt.Printf("after close: no collection: %v\n", err)
				return
			}
			if err = parse(); err == nil {
				fmt.Println("after close: ok")
				return
			}
		}
		fmt.Printf("after close: %v\n", err)
		return
	}
	fmt.Printf("identities %d\n", n)
}
