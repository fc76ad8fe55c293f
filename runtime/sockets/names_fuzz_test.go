package sockets

import (
	"net"
	"strings"
	"testing"
	"unicode/utf8"
)

// asciiCase maps s's ASCII letters to upper case, or lower case, and
// leaves every other byte (valid UTF-8 or not) as it is.
func asciiCase(s string, upper bool) string {
	b := []byte(s)
	for i, c := range b {
		if upper && 'a' <= c && c <= 'z' {
			b[i] = c - 'a' + 'A'
		} else if !upper && 'A' <= c && c <= 'Z' {
			b[i] = c - 'A' + 'a'
		}
	}
	return string(b)
}

// FuzzNameNormalization checks the policy's name normalisation and the
// decisions made on it: normalising folds ASCII letters and one trailing
// dot and nothing else (no other character becomes ASCII, the Kelvin
// sign's way to a "k"), is idempotent on the names it makes valid, and a
// name's lookup, its rule and its CanResolve decide as its normalised
// and its upper-cased spellings do.
func FuzzNameNormalization(f *testing.F) {
	for _, s := range []string{
		"example.com", "EXAMPLE.com.", "\u212aey.example.com", "a..", "a.", ".", "", "127.1", "A.0X7F", "xn--bcher-kva.example",
		"\xff.example", "a\u0130b.test", "\u017f.test", "*.Example.COM", "[::1]", "FE80::1%ETH0", "a.b.c.", "_srv._tcp.a", "\u0131.test",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		n := normalizeName(name)
		if utf8.ValidString(name) {
			if want := strings.TrimSuffix(asciiCase(name, false), "."); n != want {
				t.Fatalf("normalizeName(%q) = %q, want %q", name, n, want)
			}
		}
		hasNonASCII := func(s string) bool { return strings.IndexFunc(s, func(r rune) bool { return r >= 0x80 }) >= 0 }
		if hasNonASCII(name) != hasNonASCII(n) {
			t.Fatalf("normalizeName(%q) = %q: non-ASCII in one and not the other", name, n)
		}
		if normalizeName(asciiCase(name, true)) != n {
			t.Fatalf("normalizeName(%q) differs from that of its upper-cased spelling", name)
		}
		valid := validName(n)
		if valid && normalizeName(n) != n {
			t.Fatalf("normalizeName is not idempotent on the valid %q", n)
		}
		if valid && hasNonASCII(name) {
			t.Fatalf("%q is valid once normalised, as %q", name, n)
		}

		// A lookup decides as its upper-cased spelling, and a name
		// (not an address: no policy allows a name here) without a
		// trailing dot as the name with one.
		var p Policy
		st := NewStack(&p)
		resolve := func(name string) error {
			r, err := st.Resolve(st.Network(), name)
			if r != nil {
				r.Drop()
			}
			return err
		}
		err := resolve(name)
		if got := resolve(asciiCase(name, true)); got != err {
			t.Fatalf("resolve %q: %v, its upper-cased spelling: %v", name, err, got)
		}
		// (An address's zone may end in a dot: "[::%." is ::.)
		_, dns, ok := lookupName(name + ".")
		if literal := ok && dns == ""; err != nil && !literal && !strings.HasSuffix(name, ".") && len(name) <= maxNameLen {
			if got := resolve(name + "."); got != err {
				t.Fatalf("resolve %q: %v, with a trailing dot: %v", name, err, got)
			}
		}
		if err == AccessDenied && (!valid || numericName(n)) {
			t.Fatalf("resolve %q: access-denied, for the invalid %q", name, n)
		}
		// Under a rule for any name, CanResolve says a name may be
		// looked up exactly when a lookup refuses it for want of a
		// rule only: never one refused as invalid-argument.
		var wide Policy
		if err := wide.AllowConnect("*:443"); err != nil {
			t.Fatal(err)
		}
		if can := wide.CanResolve(name); can != (err == AccessDenied) {
			t.Fatalf("resolve %q: %v, yet CanResolve under a rule for any name says %v", name, err, can)
		}

		// A rule naming it allows exactly its spellings: those of the
		// host ParseRule reads, without the brackets a rule may put
		// around it ("[a0]:443"), which a lookup's name may not.
		rule, err := ParseRule(name + ":443")
		if err != nil || rule.name == "" {
			return
		}
		if hasNonASCII(name) {
			t.Fatalf("rule %q names %q", name, rule.name)
		}
		if rule.wild {
			return
		}
		if err := p.AllowConnect(name + ":443"); err != nil {
			t.Fatal(err)
		}
		host, _, _ := net.SplitHostPort(name + ":443")
		for _, s := range []string{host, asciiCase(host, true), asciiCase(host, false), rule.name} {
			if !p.CanResolve(s) {
				t.Fatalf("rule %q does not allow resolving %q", name, s)
			}
		}
		if other := strings.ReplaceAll(rule.name, "k", "\u212a"); other != rule.name && p.CanResolve(other) {
			t.Fatalf("rule %q allows resolving %q", name, other)
		}
	})
}
