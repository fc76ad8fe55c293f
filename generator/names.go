package generator

import (
	"go/token"
	"strings"
	"unicode"
)

// initialisms are WIT name parts spelled in upper case in Go identifiers,
// as Go's own naming does (IPAddress, TCPSocket, ALPNID).
var initialisms = map[string]string{
	"id": "ID", "ip": "IP", "tcp": "TCP", "udp": "UDP", "io": "IO", "tls": "TLS",
	"alpn": "ALPN", "dns": "DNS", "url": "URL", "uri": "URI", "http": "HTTP",
	"utf8": "UTF8", "ipv4": "IPv4", "ipv6": "IPv6", "api": "API", "utc": "UTC",
	"sni": "SNI", "tty": "TTY", "cpu": "CPU", "os": "OS", "rsa": "RSA",
	"ok": "OK", "ocsp": "OCSP",
}

// initialism returns the Go spelling of a lower-case WIT name part that is
// an initialism or the plural of one ("ids" → "IDs"), and whether it is.
func initialism(part string) (string, bool) {
	if s, ok := initialisms[part]; ok {
		return s, true
	}
	if s, ok := initialisms[strings.TrimSuffix(part, "s")]; ok && strings.HasSuffix(part, "s") {
		return s + "s", true
	}
	return "", false
}

// exported returns the exported Go identifier for a kebab-case WIT name:
// "ip-address" → "IPAddress", "alpn-ids" → "ALPNIDs",
// "export-X509-chain" → "ExportX509Chain".
func exported(name string) string {
	var b strings.Builder
	for _, part := range strings.Split(strings.TrimPrefix(name, "%"), "-") {
		if part == "" {
			continue
		}
		if s, ok := initialism(part); ok {
			b.WriteString(s)
			continue
		}
		r := []rune(part)
		r[0] = unicode.ToUpper(r[0])
		b.WriteString(string(r))
	}
	return b.String()
}

// local returns an unexported Go identifier for a kebab-case WIT name, safe
// to use as a parameter name.
func local(name string) string {
	parts := strings.Split(strings.TrimPrefix(name, "%"), "-")
	var b strings.Builder
	for i, part := range parts {
		if part == "" {
			continue
		}
		if i == 0 {
			b.WriteString(strings.ToLower(part[:1]) + part[1:])
			continue
		}
		b.WriteString(exported(part))
	}
	s := b.String()
	if token.IsKeyword(s) || reservedLocals[s] {
		s += "_"
	}
	return s
}

// guestResourceNames are the Go names the host's handle to a resource the
// guest implements has from the cabi.GuestResource it embeds: the field
// itself and its methods Rep and Spent. A WIT method of the same Go name
// would hide the method (or clash with the field), so it is the name with
// Method appended (rep is RepMethod), on both sides and whichever way the
// interface is used, so that one WIT interface has one set of Go names; a
// method then named like the result (rep-method) is refused as any two
// methods of one Go name are.
var guestResourceNames = map[string]bool{"GuestResource": true, "Rep": true, "Spent": true}

// reservedLocals are identifiers the generated signatures use.
// Parameter names need not avoid package names: in Go, parameters are in
// scope only in the function body, and interface methods have none.
var reservedLocals = map[string]bool{"ctx": true}

// predeclared are Go's predeclared identifiers, which make poor package
// names because importers would shadow them.
var predeclared = map[string]bool{
	"any": true, "bool": true, "byte": true, "comparable": true, "complex64": true,
	"complex128": true, "error": true, "float32": true, "float64": true, "int": true,
	"int8": true, "int16": true, "int32": true, "int64": true, "rune": true,
	"string": true, "uint": true, "uint8": true, "uint16": true, "uint32": true,
	"uint64": true, "uintptr": true, "true": true, "false": true, "iota": true,
	"nil": true, "append": true, "cap": true, "clear": true, "close": true,
	"complex": true, "copy": true, "delete": true, "imag": true, "len": true,
	"make": true, "max": true, "min": true, "new": true, "panic": true,
	"print": true, "println": true, "real": true, "recover": true,
	// packages the generated code imports
	"cabi": true, "api": true, "wazero": true, "context": true, "errors": true,
	"fmt": true, "math": true, "runtime": true, "strconv": true, "unsafe": true,
	"witval": true,
}

// glueLocals are the names the generated bodies give their locals,
// parameters and receivers (ctx, mod, stack, h, call, c, s, self, ...):
// the package of an interface named like one would be shadowed by it
// where a body refers to both (h.RType, with h the Host). So are the
// numbered ones, p0, r0 and x0 on (glueLocal). Only names a package can
// have (lower case letters and digits) matter; TestGlueLocalsComplete
// fails when the generated code declares one this list lacks, or the
// list holds one it does not declare.
var glueLocals = map[string]bool{
	"args": true, "b": true, "base": true, "block": true, "c": true, "call": true, "core": true,
	"ctx": true, "e": true, "err": true, "ev": true, "exports": true, "f": true, "fs": true,
	"guest": true, "h": true, "handle": true, "i": true, "impl": true, "inst": true,
	"lent": true, "mod": true, "module": true, "msg": true, "n": true, "name": true,
	"ok": true, "out": true, "p": true, "plain": true, "pp": true, "ptr": true, "q": true, "r": true,
	"rep": true, "res": true, "ret": true, "rp": true, "s": true, "self": true, "spill": true,
	"stack": true, "v": true, "version": true, "versions": true, "x": true, "y": true,
}

// glueLocal reports whether n, a cleaned interface name, is one of
// glueLocals or a numbered local: p, r or x and digits.
func glueLocal(n string) bool {
	if glueLocals[n] {
		return true
	}
	if len(n) > 1 && strings.ContainsRune("prx", rune(n[0])) {
		return strings.Trim(n[1:], "0123456789") == ""
	}
	return false
}

// packageName returns the Go package name for interface iface of WIT
// package pkg: the interface name without dashes, prefixed with the
// package name when it would clash with a Go keyword, predeclared
// identifier or standard import ("error" in wasi:io becomes "ioerror").
func packageName(pkg, iface string) string {
	clean := func(s string) string {
		var b strings.Builder
		for _, r := range strings.ToLower(s) {
			if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
				b.WriteRune(r)
			}
		}
		return b.String()
	}
	n := clean(iface)
	if n == "" || token.IsKeyword(n) || predeclared[n] || glueLocal(n) || (n[0] >= '0' && n[0] <= '9') {
		n = clean(pkg) + n
	}
	return n
}
