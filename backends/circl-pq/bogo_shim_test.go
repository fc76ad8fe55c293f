package circlpq

// The BoGo shim: this package's test binary, started with -bogo-mode, is a
// shim for BoringSSL's TLS test runner (ssl/test/runner), as crypto/tls's
// test binary is. The runner starts one shim process per test with flags
// describing the configuration, listens on loopback (IPv6 when it passes
// -ipv6), and expects the shim to connect, send its shim ID, complete a
// handshake, and echo application data with every byte inverted. The exit
// status is the verdict: 0 success, 1 failure, 89 a feature this engine does
// not implement (the runner's -allow-unimplemented counts those apart).
//
// Every flag the shim does not understand makes the test unimplemented,
// never silently ignored. Tests outside TLS 1.3, or needing features the
// engine lacks, are listed with their reasons in testdata/bogo_config.json.
// docs/bogo.md gives the command and the latest results.

import (
	"bytes"
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/backends/identity"
	"github.com/wasitls/wasitls/internal/testpeer"
)

// TestMain turns the test binary into the BoGo shim when the runner passes
// -bogo-mode (through its -shim-extra-flags).
func TestMain(m *testing.M) {
	if slices.Contains(os.Args[1:], "-bogo-mode") {
		os.Exit(bogoShim(os.Args[1:]))
	}
	os.Exit(testpeer.Main(m))
}

// Exit statuses the runner understands.
const (
	bogoExitOK            = 0
	bogoExitFailed        = 1
	bogoExitUnimplemented = 89
)

// errUnimplemented marks a configuration the engine cannot run.
type errUnimplemented string

func (e errUnimplemented) Error() string { return "unimplemented: " + string(e) }

// A shimCredential is a certificate chain and key file pair, and the OCSP
// response a server staples with it (-ocsp-response).
type shimCredential struct {
	certFile, keyFile string
	ocsp              []byte
}

// shimFlags are the runner's flags the shim understands.
type shimFlags struct {
	port, shimID               string
	ipv6, server               bool
	credentials                []shimCredential
	trustCert                  string
	minVersion, maxVersion     int
	expectVersion              int
	curves                     []uint16
	expectCurve                int
	advertiseALPN, selectALPN  string
	expectALPN                 string
	expectAdvertisedALPN       string
	declineALPN, rejectALPN    bool
	hostName, expectServerName string
	shimShutsDown              bool
	checkCloseNotify           bool
	exportLength               int
	exportLabel                string
	exportContext              string
	useExportContext           bool
	shimWritesFirst            bool
	expectHRR, expectNoHRR     bool
	verifyPeer                 bool
	signingPrefs, verifyPrefs  []uint16
	expectPeerSigAlg           int
	expectSessionMiss          bool
	expectNoSession            bool
	resumeCount                int
	requireClientCert          bool
	verifyFail                 bool
	expectVerifyResult         bool
	customVerify               bool
	async                      bool
	keyUpdate                  bool
	keyUpdateBeforeRead        bool
	keyShares                  []uint16
	hasKeyShares               bool
	legacyCredential           bool // -cert-file/-key-file before any -new-x509-credential
	newCredentials             int
	expectCredential           *int
	expectPeerCertFile         string
	expectPeerVerifyPrefs      []uint16
	expectClientCAList         string
	useEarlyCallback           bool
	failEarlyCallback          bool
	failCertCallback           bool
	initialWrite               string
	repeatInitialWrite         int
	readSize                   int
	writeDifferentRecordSizes  bool
	useExporterBetweenReads    bool
	extraHandshake             bool
	expectNoPeerCert           bool
	expectNoServerName         bool
	expectCipher               int
	defaultOCSP                []byte // -ocsp-response before any -new-x509-credential
	expectOCSP                 []byte
	identities                 []*backends.Identity // as configured, for expectCredential
}

// Flags with a value, and boolean flags. The -no-tls1/-no-tls11/-no-tls12
// flags hold for this engine whatever their value: it speaks TLS 1.3 only.
var (
	shimValueFlags = map[string]bool{
		"-port": true, "-shim-id": true, "-key-file": true, "-cert-file": true, "-trust-cert": true,
		"-min-version": true, "-max-version": true, "-expect-version": true, "-curves": true,
		"-expect-curve-id": true, "-advertise-alpn": true, "-select-alpn": true, "-expect-alpn": true,
		"-expect-advertised-alpn": true, "-host-name": true, "-expect-server-name": true, "-resume-count": true,
		"-export-keying-material": true, "-export-label": true, "-export-context": true,
		"-signing-prefs": true, "-verify-prefs": true, "-expect-peer-signature-algorithm": true,
		"-key-shares": true, "-expect-selected-credential": true, "-cipher": true,
		"-expect-peer-cert-file": true, "-expect-peer-verify-pref": true, "-expect-client-ca-list": true,
		"-shim-initial-write": true, "-repeat-shim-initial-write": true, "-read-size": true, "-expect-cipher": true,
		"-ocsp-response": true, "-expect-ocsp-response": true,
	}
	shimBoolFlags = map[string]bool{
		"-ipv6": true, "-server": true, "-decline-alpn": true, "-reject-alpn": true, "-shim-writes-first": true,
		"-expect-hrr": true, "-expect-no-hrr": true, "-verify-peer": true, "-bogo-mode": true,
		"-expect-session-miss": true, "-no-tls1": true, "-no-tls11": true, "-no-tls12": true,
		"-no-tls13": true, "-expect-no-session": true, "-new-x509-credential": true,
		"-shim-shuts-down": true, "-use-export-context": true, "-check-close-notify": true,
		"-require-any-client-certificate": true, "-verify-fail": true, "-expect-verify-result": true,
		"-use-custom-verify-callback": true, "-async": true, "-key-update": true,
		"-key-update-before-read": true, "-no-key-shares": true, "-use-old-client-cert-callback": true,
		"-use-early-callback": true, "-fail-early-callback": true, "-fail-cert-callback": true,
		"-server-preference": true, "-write-different-record-sizes": true, "-use-exporter-between-reads": true,
		"-no-op-extra-handshake": true, "-handshake-twice": true, "-expect-no-peer-cert": true,
		"-expect-no-server-name": true, "-enable-ocsp-stapling": true,
	}
)

// connectionArgs returns the flags of connection i of a test (0 is the
// initial one, later ones resume): -on-initial-X applies to the first,
// -on-resume-X to the others, as BoringSSL's shim has it. Flags for the
// retry after a rejected 0-RTT (-on-retry-X) are unimplemented, as 0-RTT
// is. A prefixed flag the shim does not know is left in place, named as
// it is, so that it makes the test unimplemented.
func connectionArgs(args []string, i int) []string {
	var out []string
	for j := 0; j < len(args); j++ {
		name := args[j]
		rest, initial := strings.CutPrefix(name, "-on-initial-")
		if !initial {
			var ok bool
			if rest, ok = strings.CutPrefix(name, "-on-resume-"); !ok {
				out = append(out, name)
				continue
			}
		}
		flag := "-" + rest
		if !shimValueFlags[flag] && !shimBoolFlags[flag] {
			out = append(out, name)
			continue
		}
		var value []string
		if shimValueFlags[flag] && j+1 < len(args) {
			j++
			value = []string{args[j]}
		}
		if initial == (i == 0) {
			out = append(append(out, flag), value...)
		}
	}
	return out
}

func parseShimFlags(args []string) (*shimFlags, error) {
	f := &shimFlags{minVersion: -1, maxVersion: -1, initialWrite: "hello", repeatInitialWrite: 1, readSize: 512}
	var unknown []string
	for i := 0; i < len(args); i++ {
		name := args[i]
		if shimBoolFlags[name] {
			switch name {
			case "-ipv6":
				f.ipv6 = true
			case "-server":
				f.server = true
			case "-decline-alpn":
				f.declineALPN = true
			case "-reject-alpn":
				f.rejectALPN = true
			case "-shim-writes-first":
				f.shimWritesFirst = true
			case "-expect-hrr":
				f.expectHRR = true
			case "-expect-no-hrr":
				f.expectNoHRR = true
			case "-verify-peer":
				f.verifyPeer = true
			case "-require-any-client-certificate":
				f.requireClientCert = true
			case "-verify-fail":
				f.verifyFail = true
			case "-expect-verify-result":
				f.expectVerifyResult = true
			case "-use-custom-verify-callback":
				f.customVerify = true
			case "-async":
				f.async = true
			case "-key-update":
				f.keyUpdate = true
			case "-use-old-client-cert-callback":
				// BoringSSL's client_cert_cb: the certificate comes
				// from a callback when the server asks, which is what
				// the ClientIdentity hook always is.
			case "-use-early-callback":
				f.useEarlyCallback = true
			case "-fail-early-callback":
				f.failEarlyCallback = true
			case "-fail-cert-callback":
				f.failCertCallback = true
			case "-write-different-record-sizes":
				f.writeDifferentRecordSizes = true
			case "-use-exporter-between-reads":
				f.useExporterBetweenReads = true
			case "-no-op-extra-handshake", "-handshake-twice":
				f.extraHandshake = true
			case "-expect-no-peer-cert":
				f.expectNoPeerCert = true
			case "-expect-no-server-name":
				f.expectNoServerName = true
			case "-server-preference":
				// The engine always picks suites and groups in its own
				// order.
			case "-enable-ocsp-stapling":
				// The engine's client always sends status_request.
			case "-key-update-before-read":
				f.keyUpdateBeforeRead = true
			case "-no-key-shares":
				f.keyShares, f.hasKeyShares = nil, true
			case "-expect-session-miss":
				f.expectSessionMiss = true
			case "-expect-no-session":
				f.expectNoSession = true
			case "-shim-shuts-down":
				f.shimShutsDown = true
			case "-check-close-notify":
				f.checkCloseNotify = true
			case "-use-export-context":
				f.useExportContext = true
			case "-no-tls13":
				return nil, errUnimplemented("only TLS 1.3 is implemented (-no-tls13)")
			case "-new-x509-credential":
				f.credentials = append(f.credentials, shimCredential{})
				f.newCredentials++
			}
			continue
		}
		if !shimValueFlags[name] {
			// Name every flag the shim lacks, not only the first: the
			// log then shows which flags would unlock a test. A value
			// does not start with "-" unless it is a negative number.
			unknown = append(unknown, name)
			if i+1 < len(args) && isFlagValue(args[i+1]) {
				i++
			}
			continue
		}
		if i+1 == len(args) {
			return nil, fmt.Errorf("flag %s needs a value", name)
		}
		i++
		v := args[i]
		num := func() (int, error) {
			n, err := strconv.Atoi(v)
			if err != nil {
				return 0, fmt.Errorf("flag %s: %v", name, err)
			}
			return n, nil
		}
		var err error
		switch name {
		case "-port":
			f.port = v
		case "-shim-id":
			f.shimID = v
		case "-key-file", "-cert-file":
			// -new-x509-credential starts another credential; before it,
			// the flags set the default one.
			if len(f.credentials) == 0 {
				f.credentials = append(f.credentials, shimCredential{})
				f.legacyCredential = true
			}
			c := &f.credentials[len(f.credentials)-1]
			if name == "-key-file" {
				c.keyFile = v
			} else {
				c.certFile = v
			}
		case "-trust-cert":
			f.trustCert = v
		case "-min-version":
			f.minVersion, err = num()
		case "-max-version":
			f.maxVersion, err = num()
		case "-expect-version":
			f.expectVersion, err = num()
		case "-curves", "-key-shares":
			var n int
			if n, err = num(); err == nil {
				if name == "-curves" {
					f.curves = append(f.curves, uint16(n))
				} else {
					f.keyShares, f.hasKeyShares = append(f.keyShares, uint16(n)), true
				}
			}
		case "-expect-curve-id":
			f.expectCurve, err = num()
		case "-advertise-alpn":
			f.advertiseALPN = v
		case "-select-alpn":
			f.selectALPN = v
		case "-expect-alpn":
			f.expectALPN = v
		case "-expect-advertised-alpn":
			f.expectAdvertisedALPN = v
		case "-host-name":
			f.hostName = v
		case "-expect-server-name":
			f.expectServerName = v
		case "-resume-count":
			f.resumeCount, err = num()
		case "-signing-prefs", "-verify-prefs":
			if name == "-signing-prefs" && f.newCredentials > 0 {
				// Signing preferences of one credential: the engine
				// has them for the whole connection only.
				unknown = append(unknown, "-signing-prefs(per-credential)")
				continue
			}
			var n int
			if n, err = num(); err == nil {
				if name == "-signing-prefs" {
					f.signingPrefs = append(f.signingPrefs, uint16(n))
				} else {
					f.verifyPrefs = append(f.verifyPrefs, uint16(n))
				}
			}
		case "-expect-peer-signature-algorithm":
			f.expectPeerSigAlg, err = num()
		case "-expect-selected-credential":
			var n int
			if n, err = num(); err == nil {
				f.expectCredential = &n
			}
		case "-expect-peer-verify-pref":
			var n int
			if n, err = num(); err == nil {
				f.expectPeerVerifyPrefs = append(f.expectPeerVerifyPrefs, uint16(n))
			}
		case "-shim-initial-write":
			f.initialWrite = v
		case "-repeat-shim-initial-write":
			f.repeatInitialWrite, err = num()
		case "-read-size":
			if f.readSize, err = num(); err == nil && f.readSize <= 0 {
				f.readSize = 512
			}
		case "-expect-cipher":
			f.expectCipher, err = num()
		case "-ocsp-response", "-expect-ocsp-response":
			var b []byte
			if b, err = base64.StdEncoding.DecodeString(v); err != nil {
				err = fmt.Errorf("flag %s: %v", name, err)
				break
			}
			switch {
			case name == "-expect-ocsp-response":
				f.expectOCSP = b
			case f.newCredentials > 0:
				f.credentials[len(f.credentials)-1].ocsp = b
			default:
				f.defaultOCSP = b
			}
		case "-expect-client-ca-list":
			f.expectClientCAList = v
		case "-expect-peer-cert-file":
			f.expectPeerCertFile = v
		case "-cipher":
			// BoringSSL's cipher string configures TLS 1.2 and earlier
			// only; TLS 1.3 suites are not configurable through it, so it
			// changes nothing for this engine.
		case "-export-keying-material":
			f.exportLength, err = num()
		case "-export-label":
			f.exportLabel = v
		case "-export-context":
			f.exportContext = v
		}
		if err != nil {
			return nil, err
		}
	}
	switch {
	case len(unknown) > 0:
		return nil, errUnimplemented("flags " + strings.Join(unknown, " "))
	case f.maxVersion >= 0 && f.maxVersion < int(versionTLS13):
		return nil, errUnimplemented(fmt.Sprintf("only TLS 1.3 is implemented (-max-version %#04x)", f.maxVersion))
	case f.minVersion > int(versionTLS13):
		return nil, errUnimplemented(fmt.Sprintf("-min-version %#04x", f.minVersion))
	case f.expectNoSession && f.server:
		return nil, errUnimplemented("-expect-no-session on a server: the engine reports no session creation")
	case f.defaultOCSP != nil && !f.legacyCredential:
		return nil, errUnimplemented("-ocsp-response without a default credential")
	}
	if f.defaultOCSP != nil {
		f.credentials[0].ocsp = f.defaultOCSP
	}
	for _, g := range f.curves {
		if !isGroupSupported(g) {
			return nil, errUnimplemented(fmt.Sprintf("group %d", g))
		}
	}
	if f.hasKeyShares {
		// The engine sends shares for the first Options.KeyShares groups
		// of its list, at least one: -key-shares maps only when it names
		// such a prefix of -curves.
		if len(f.keyShares) == 0 || len(f.keyShares) > len(f.curves) || !slices.Equal(f.keyShares, f.curves[:len(f.keyShares)]) {
			return nil, errUnimplemented(fmt.Sprintf("key shares %v for groups %v: the engine sends shares for a non-empty prefix of its group list", f.keyShares, f.curves))
		}
	}
	return f, nil
}

// isFlagValue reports whether an argument is a value rather than a flag:
// it does not start with "-", or it is a negative number.
func isFlagValue(arg string) bool {
	_, err := strconv.Atoi(arg)
	return !strings.HasPrefix(arg, "-") || err == nil
}

// parseALPNList parses the runner's length-prefixed protocol list.
func parseALPNList(s string) ([]string, error) {
	in := cryptobyte.String(s)
	var out []string
	for !in.Empty() {
		var p cryptobyte.String
		if !in.ReadUint8LengthPrefixed(&p) {
			return nil, errors.New("malformed ALPN list")
		}
		out = append(out, string(p))
	}
	return out, nil
}

// bogoShim runs one shim process and returns its exit status.
func bogoShim(args []string) int {
	if slices.Contains(args, "-is-handshaker-supported") {
		fmt.Println("No")
		return bogoExitOK
	}
	// One connection, then -resume-count more that resume its session
	// (RFC 8446, Section 2.2), each with its own flags.
	var conns []*shimFlags
	f, err := parseShimFlags(connectionArgs(args, 0))
	if err == nil {
		conns = append(conns, f)
		for i := 1; i <= f.resumeCount && err == nil; i++ {
			f, err = parseShimFlags(connectionArgs(args, i))
			conns = append(conns, f)
		}
	}
	if err == nil {
		err = runShim(conns)
	}
	var unimpl errUnimplemented
	switch {
	case err == nil:
		return bogoExitOK
	case errors.As(err, &unimpl):
		fmt.Fprintln(os.Stderr, err)
		// WASITLS_BOGO_LOG names a file that collects why tests were
		// unimplemented, to see which flags are worth implementing.
		if path := os.Getenv("WASITLS_BOGO_LOG"); path != "" {
			if f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
				fmt.Fprintln(f, unimpl)
				f.Close()
			}
		}
		return bogoExitUnimplemented
	default:
		fmt.Fprintln(os.Stderr, "shim:", err)
		return bogoExitFailed
	}
}

func runShim(conns []*shimFlags) error {
	cache := NewSessionCache(0)
	st := new(shimSession)
	for i, f := range conns {
		if err := runShimConn(f, cache, st, i > 0); err != nil {
			return err
		}
	}
	return nil
}

// shimSession is what the shim keeps of the session the connections of a
// test share: the verification result of the full handshake that made it,
// which a resumed connection reports as its own, as BoringSSL's does.
type shimSession struct {
	verifyFailed bool
}

// loadShimIdentities reads the credentials of a connection.
func loadShimIdentities(f *shimFlags) ([]*backends.Identity, error) {
	var idents []*backends.Identity
	for _, cred := range f.credentials {
		key, err := os.ReadFile(cred.keyFile)
		if err != nil {
			return nil, err
		}
		chain, err := os.ReadFile(cred.certFile)
		if err != nil {
			return nil, err
		}
		ident, err := ParseIdentity(key, [][]byte{chain})
		if err != nil {
			return nil, errUnimplemented(fmt.Sprintf("identity: %v", err))
		}
		ident.OCSP = cred.ocsp
		idents = append(idents, ident)
	}
	// BoringSSL prefers the credentials -new-x509-credential added, in
	// order, to the default one.
	if f.legacyCredential && len(idents) > 1 {
		idents = append(idents[1:], idents[0])
	}
	return idents, nil
}

// runShimConn runs one connection of a test.
func runShimConn(f *shimFlags, cache *SessionCache, st *shimSession, resumed bool) error {
	idents, err := loadShimIdentities(f)
	if err != nil {
		return err
	}
	f.identities = idents
	var trust []byte
	if f.trustCert != "" {
		if trust, err = os.ReadFile(f.trustCert); err != nil {
			return err
		}
	}
	opts := backends.Options{Groups: f.curves, KeyShares: len(f.keyShares)}
	host := "127.0.0.1"
	if f.ipv6 {
		host = "::1"
	}
	tcp, err := net.Dial("tcp", net.JoinHostPort(host, f.port))
	if err != nil {
		return err
	}
	defer tcp.Close()
	id, err := strconv.ParseUint(f.shimID, 10, 64)
	if err != nil {
		return fmt.Errorf("-shim-id: %v", err)
	}
	if _, err := tcp.Write(binary.LittleEndian.AppendUint64(nil, id)); err != nil {
		return err
	}
	var conn net.Conn = tcp
	var async *asyncTransport
	if f.async {
		async = &asyncTransport{Conn: tcp}
		conn = async
		for i, id := range idents {
			cp := *id
			cp.Key = asyncSigner{id.Key}
			idents[i] = &cp
		}
	}

	// The verify callback of BoringSSL's shim: it runs on every full
	// handshake that brings a peer certificate, fails with -verify-fail,
	// and its failure is fatal only in SSL_VERIFY_PEER mode (a server
	// that requests certificates, a client with -verify-peer or
	// -require-any-client-certificate); a client otherwise only records
	// the result (-expect-verify-result). The legacy callback's failure is
	// handshake_failure, the custom callback's certificate_unknown.
	fatalVerify := f.server || f.verifyPeer || f.requireClientCert
	verifyAlert := alertHandshakeFailure
	if f.customVerify {
		verifyAlert = alertCertificateUnknown
	}
	verifyCallback := func() error {
		st.verifyFailed = f.verifyFail
		if f.verifyFail && fatalVerify {
			return &backends.SendAlertError{Alert: verifyAlert, Err: errors.New("verification failed (-verify-fail)")}
		}
		return nil
	}

	var c *Conn
	if f.server {
		cfg := &backends.ServerConfig{Options: opts, TicketKeys: testTicketKeys}
		cfg.Identities = idents
		switch {
		case f.selectALPN != "":
			cfg.ALPN = []string{f.selectALPN}
		case f.rejectALPN:
			cfg.ALPN = []string{"unnegotiableprotocol"}
		}
		if f.verifyPeer || f.requireClientCert {
			cfg.ClientAuth = backends.RequestClientCert
			if f.requireClientCert {
				cfg.ClientAuth = backends.RequireClientCert
			}
			// The runner passes -trust-cert whenever it holds a
			// credential; without one it has no certificate to send,
			// and an empty pool accepts none.
			cfg.ClientCAs = poolFromPEM(trust)
			cfg.VerifyClient = func(_ context.Context, chain [][]byte) error {
				if len(chain) == 0 {
					return nil // no certificate, no callback
				}
				return later(f.async, verifyCallback)
			}
		}
		var wantALPN []string
		if f.expectAdvertisedALPN != "" {
			if wantALPN, err = parseALPNList(f.expectAdvertisedALPN); err != nil {
				return err
			}
		}
		if f.expectAdvertisedALPN != "" || f.async || f.useEarlyCallback || f.failEarlyCallback ||
			f.failCertCallback || f.expectPeerVerifyPrefs != nil {
			// BoringSSL's early callback (select_certificate_cb) and, on
			// a server, its certificate callback: the ClientHello hook.
			// With -use-early-callback the certificates come from the
			// configuration the hook returns; with -async the hook
			// completes on another goroutine.
			full := *cfg
			if f.useEarlyCallback {
				cfg.Identities = nil
			}
			cfg.ClientHello = func(_ context.Context, h *backends.ClientHello) (*backends.ServerConfig, error) {
				err := later(f.async, func() error {
					switch {
					case f.failEarlyCallback:
						return &backends.SendAlertError{Alert: alertHandshakeFailure, Err: errors.New("-fail-early-callback")}
					case f.expectAdvertisedALPN != "" && !slices.Equal(h.ALPN, wantALPN):
						return fmt.Errorf("advertised ALPN %q, want %q", h.ALPN, wantALPN)
					case f.expectPeerVerifyPrefs != nil && !slices.Equal(h.SignatureSchemes, f.expectPeerVerifyPrefs):
						return fmt.Errorf("peer signature algorithms %x, want %x", h.SignatureSchemes, f.expectPeerVerifyPrefs)
					case f.failCertCallback:
						return &backends.SendAlertError{Alert: alertInternalError, Err: errors.New("-fail-cert-callback")}
					}
					return nil
				})
				if err != nil || !f.useEarlyCallback {
					return nil, err
				}
				return &full, nil
			}
		}
		if c, err = Server(conn, cfg); err != nil {
			return err
		}
		c.testSigningPrefs, c.testVerifyPrefs = f.signingPrefs, f.verifyPrefs
	} else {
		// BoringSSL's shim never checks host names (-host-name is only
		// sent as SNI); its verify callback accepts any chain. This shim
		// is stricter: given -trust-cert, the chain must lead to it.
		cfg := &backends.ClientConfig{Options: opts, ServerName: f.hostName, InsecureSkipVerify: true}
		var expectedCAs [][]byte
		if f.expectClientCAList != "" {
			for _, h := range strings.Split(f.expectClientCAList, ",") {
				name, err := hex.DecodeString(h)
				if err != nil {
					return fmt.Errorf("-expect-client-ca-list: %v", err)
				}
				expectedCAs = append(expectedCAs, name)
			}
		}
		var roots *x509.CertPool
		if trust != nil {
			roots = poolFromPEM(trust)
		}
		cfg.VerifyServer = func(_ context.Context, chain [][]byte) error {
			// The engine hands a resumption's chain to VerifyServer, as
			// crypto/tls does; BoringSSL does not call its callback then:
			// the session's result stands.
			if c.State().DidResume {
				return nil
			}
			// BoringSSL's shim checks that the stapled response is
			// there when its verify callback runs.
			if f.expectOCSP != nil && len(c.State().OCSPResponse) == 0 {
				return errors.New("OCSP response not available in the verify callback")
			}
			if roots != nil {
				certs, err := parseChain(chain, backends.DefaultMaxRSAKeyBits)
				if err != nil {
					return err
				}
				if err := verifyChain(certs, roots, "", x509.ExtKeyUsageServerAuth, nil); err != nil {
					return &backends.SendAlertError{Alert: certificateAlert(err), Err: err}
				}
			}
			return later(f.async, verifyCallback)
		}
		if f.advertiseALPN != "" {
			if cfg.ALPN, err = parseALPNList(f.advertiseALPN); err != nil {
				return err
			}
		}
		if len(idents) > 0 || f.failCertCallback || f.expectPeerVerifyPrefs != nil || f.expectClientCAList != "" {
			// BoringSSL's certificate callback on a client, which runs
			// when a CertificateRequest arrives: the ClientIdentity hook.
			cfg.ClientIdentity = func(_ context.Context, req *backends.IdentityRequest) ([]*backends.Identity, error) {
				return idents, later(f.async, func() error {
					switch {
					case f.expectPeerVerifyPrefs != nil && !slices.Equal(req.SignatureSchemes, f.expectPeerVerifyPrefs):
						return fmt.Errorf("peer signature algorithms %x, want %x", req.SignatureSchemes, f.expectPeerVerifyPrefs)
					case f.expectClientCAList != "" && !slices.EqualFunc(req.AcceptableCAs, expectedCAs, bytes.Equal):
						return fmt.Errorf("certificate_authorities %x, want %x", req.AcceptableCAs, expectedCAs)
					case f.failCertCallback:
						return &backends.SendAlertError{Alert: alertInternalError, Err: errors.New("-fail-cert-callback")}
					}
					return nil
				})
			}
		}
		if c, err = Client(conn, cfg); err != nil {
			return err
		}
		c.SetSessionCache(cache)
		c.testSigningPrefs, c.testVerifyPrefs = f.signingPrefs, f.verifyPrefs
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.Handshake(ctx); err != nil {
		return shutdownAfter(tcp, err)
	}
	if async != nil {
		async.established.Store(true)
	}
	if err := checkShimState(f, c, resumed, st); err != nil {
		return shutdownAfter(tcp, err)
	}
	if f.extraHandshake {
		// Handshake after a completed handshake does nothing and
		// succeeds (-no-op-extra-handshake, -handshake-twice).
		if err := c.Handshake(ctx); err != nil {
			return shutdownAfter(tcp, fmt.Errorf("extra Handshake: %v", err))
		}
	}
	if f.expectPeerCertFile != "" {
		if err := checkPeerChain(f.expectPeerCertFile, c.State().PeerChain); err != nil {
			return shutdownAfter(tcp, err)
		}
	}
	// read is the shim's SSL_read: with -async, it retries what would
	// block, as BoringSSL's shim does.
	read := func(p []byte) (int, error) {
		for {
			n, err := c.Read(p)
			if async == nil || !isTimeout(err) {
				return n, err
			}
		}
	}
	if f.exportLength > 0 {
		// TLS 1.3 has no "no context" exporter: a missing context is the
		// empty one (RFC 8446, Section 7.5).
		var context []byte
		if f.useExportContext {
			context = []byte(f.exportContext)
		}
		km, err := c.ExportKeyingMaterial(f.exportLabel, context, f.exportLength)
		if err != nil {
			return shutdownAfter(tcp, err)
		}
		if _, err := c.Write(km); err != nil {
			return shutdownAfter(tcp, err)
		}
	}
	if f.shimShutsDown {
		// Close first; with -check-close-notify, the runner's
		// close_notify must follow.
		if err := c.CloseWrite(); err != nil {
			return shutdownAfter(tcp, err)
		}
		if !f.checkCloseNotify {
			return nil
		}
		if _, err := read(make([]byte, 1)); err != io.EOF {
			return shutdownAfter(tcp, fmt.Errorf("after close_notify: %v, want the peer's close_notify", err))
		}
		return nil
	}
	if f.writeDifferentRecordSizes {
		// Records of every size around the record layer's limits.
		big := bytes.Repeat([]byte{0x42}, 32769)
		for _, n := range []int{0, 1, 255, 256, 257, 16383, 16384, 16385, 32767, 32768, 32769} {
			if _, err := c.Write(big[:n]); err != nil {
				return shutdownAfter(tcp, err)
			}
		}
		c.Close()
		return nil
	}
	if f.shimWritesFirst {
		for range f.repeatInitialWrite {
			if _, err := c.Write([]byte(f.initialWrite)); err != nil {
				return shutdownAfter(tcp, err)
			}
		}
	}
	// BoringSSL's shim reads at most 512 bytes at a time unless told
	// otherwise, so that records span reads.
	buf := make([]byte, f.readSize)
	for {
		if f.keyUpdateBeforeRead {
			if err := c.KeyUpdate(false); err != nil {
				return shutdownAfter(tcp, err)
			}
		}
		n, err := read(buf)
		if err == io.EOF {
			break
		}
		if err != nil {
			return shutdownAfter(tcp, err)
		}
		if f.keyUpdate {
			if err := c.KeyUpdate(false); err != nil {
				return shutdownAfter(tcp, err)
			}
		}
		if f.useExporterBetweenReads {
			if _, err := c.ExportKeyingMaterial("", nil, 1); err != nil {
				return shutdownAfter(tcp, err)
			}
		}
		for i := range buf[:n] {
			buf[i] ^= 0xff
		}
		if _, err := c.Write(buf[:n]); err != nil {
			return shutdownAfter(tcp, err)
		}
	}
	c.Close()
	// Tickets arrive after the handshake; a client keeps those it gets in
	// the cache, from which each connection took the one it offered.
	if f.expectNoSession && cachedSessions(cache) > 0 {
		return errors.New("a session was established, want none (-expect-no-session)")
	}
	return nil
}

// cachedSessions is how many tickets a client session cache holds.
func cachedSessions(sc *SessionCache) int { return sc.Len() }

// later runs fn as an asynchronous callback when async is set: on another
// goroutine, with the engine waiting in the hook, which is how a hook of
// this engine completes later (the wasi:tls host pauses the same way).
func later(async bool, fn func() error) error {
	if !async {
		return fn()
	}
	done := make(chan error, 1)
	go func() {
		runtime.Gosched()
		done <- fn()
	}()
	return <-done
}

// asyncSigner completes private key operations on another goroutine, the
// engine waiting in Sign (BoringSSL's -async private key method).
type asyncSigner struct{ crypto.Signer }

func (s asyncSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) (sig []byte, err error) {
	err = later(true, func() error {
		sig, err = s.Signer.Sign(r, digest, opts)
		return err
	})
	return sig, err
}

// asyncTransport is the shim's transport under -async, BoringSSL's async
// BIO as far as the engine's contract goes: every Read returns at most
// one byte, so every message and record arrives in pieces; once the
// handshake is done, every other Read would block instead (a timeout, as
// from a transport that never blocks, which the engine must survive and
// resume from; see [backends.NonblockingConn]). Handshake has no such
// resumption (a timeout in it is fatal, by design), and Write has none
// (a record goes whole or the connection fails), so neither is asked to.
type asyncTransport struct {
	net.Conn
	established atomic.Bool
	block       bool // the next Read blocks; used by the one reader only
}

func (a *asyncTransport) Read(p []byte) (int, error) {
	if a.established.Load() {
		if a.block = !a.block; a.block {
			return 0, errWouldBlock
		}
	}
	return a.Conn.Read(p[:min(len(p), 1)])
}

var errWouldBlock net.Error = wouldBlock{}

type wouldBlock struct{}

func (wouldBlock) Error() string   { return "read would block (-async)" }
func (wouldBlock) Timeout() bool   { return true }
func (wouldBlock) Temporary() bool { return true }

func checkShimState(f *shimFlags, c *Conn, resumed bool, st *shimSession) error {
	s := c.State()
	switch {
	case (!f.server || f.requireClientCert) && !f.expectNoPeerCert && len(s.PeerChain) == 0:
		return errors.New("no peer certificate")
	case f.expectCredential != nil && selectedCredential(f, s) != *f.expectCredential:
		return fmt.Errorf("credential %d was used, want %d", selectedCredential(f, s), *f.expectCredential)
	case f.expectVerifyResult && st.verifyFailed != f.verifyFail:
		return fmt.Errorf("verification failed %v, want %v", st.verifyFailed, f.verifyFail)
	case resumed && s.DidResume == f.expectSessionMiss:
		return fmt.Errorf("resumed connection: DidResume %v, want %v", s.DidResume, !f.expectSessionMiss)
	case !resumed && s.DidResume:
		return errors.New("the first connection resumed a session")
	case f.expectPeerSigAlg != 0 && !s.DidResume && int(c.peerSignatureScheme) != f.expectPeerSigAlg:
		return fmt.Errorf("peer signature scheme %#04x, want %#04x", c.peerSignatureScheme, f.expectPeerSigAlg)
	case f.expectNoPeerCert && len(s.PeerChain) > 0:
		return errors.New("unexpected peer certificate")
	case f.expectCipher != 0 && int(s.CipherSuite) != f.expectCipher:
		return fmt.Errorf("cipher suite %#04x, want %#04x", s.CipherSuite, f.expectCipher)
	case f.expectNoServerName && s.ServerName != "":
		return fmt.Errorf("server name %q, want none", s.ServerName)
	case f.expectVersion != 0 && int(s.Version) != f.expectVersion:
		return fmt.Errorf("version %#04x, want %#04x", s.Version, f.expectVersion)
	case f.expectCurve != 0 && int(s.Group) != f.expectCurve:
		return fmt.Errorf("group %d, want %d", s.Group, f.expectCurve)
	case f.expectALPN != "" && s.ALPN != f.expectALPN:
		return fmt.Errorf("ALPN %q, want %q", s.ALPN, f.expectALPN)
	case f.selectALPN != "" && s.ALPN != f.selectALPN:
		return fmt.Errorf("ALPN %q, want %q", s.ALPN, f.selectALPN)
	case f.declineALPN && s.ALPN != "":
		return fmt.Errorf("ALPN %q negotiated although declined", s.ALPN)
	case f.expectHRR && !c.didHRR:
		return errors.New("expected a HelloRetryRequest")
	case f.expectNoHRR && c.didHRR:
		return errors.New("unexpected HelloRetryRequest")
	case f.expectServerName != "" && s.ServerName != f.expectServerName:
		return fmt.Errorf("server name %q, want %q", s.ServerName, f.expectServerName)
	case f.expectOCSP != nil && !bytes.Equal(s.OCSPResponse, f.expectOCSP):
		return fmt.Errorf("OCSP response %x, want %x", s.OCSPResponse, f.expectOCSP)
	}
	return nil
}

// checkPeerChain compares the peer's chain with the certificates of a PEM
// file, leaf first (-expect-peer-cert-file).
func checkPeerChain(file string, chain [][]byte) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var want [][]byte
	for {
		var b *pem.Block
		if b, data = pem.Decode(data); b == nil {
			break
		}
		if b.Type == "CERTIFICATE" {
			want = append(want, b.Bytes)
		}
	}
	if !slices.EqualFunc(chain, want, bytes.Equal) {
		return fmt.Errorf("peer chain of %d certificates is not the %d of %s", len(chain), len(want), file)
	}
	return nil
}

// selectedCredential is the number BoringSSL's shim gives the credential a
// handshake used: its position among those -new-x509-credential added, or
// -1 for the default one, for none, and on resumption (no certificate is
// sent then).
func selectedCredential(f *shimFlags, s backends.State) int {
	if s.DidResume || s.LocalIdentity == nil {
		return -1
	}
	i := slices.Index(f.identities, s.LocalIdentity)
	if f.legacyCredential && i == len(f.identities)-1 {
		return -1
	}
	return i
}

// shutdownAfter lets the runner read the alert the engine sent before the
// connection goes: it half-closes, drains the peer, then returns err.
func shutdownAfter(conn net.Conn, err error) error {
	if tcp, ok := conn.(*net.TCPConn); ok {
		tcp.CloseWrite()
		tcp.SetReadDeadline(time.Now().Add(5 * time.Second))
		io.Copy(io.Discard, tcp)
	}
	return err
}

func poolFromPEM(pemData []byte) *x509.CertPool {
	p := x509.NewCertPool()
	identity.AppendTrustAnchorsFromPEM(p, pemData)
	return p
}

// shimIdentityFiles writes p's P-256 chain and key where the shim's
// -cert-file and -key-file flags can name them.
func shimIdentityFiles(t *testing.T, p *testCerts) (certFile, keyFile string) {
	t.Helper()
	dir := t.TempDir()
	certFile, keyFile = dir+"/cert.pem", dir+"/key.pem"
	if err := os.WriteFile(certFile, p.p256.ChainPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, p.p256.KeyPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// TestBogoShim runs the shim in-process against a stand-in runner
// (crypto/tls over loopback), in both roles, and checks that flags it does
// not know make a test unimplemented rather than pass.
func TestBogoShim(t *testing.T) {
	p := pki(t)
	certFile, keyFile := shimIdentityFiles(t, p)
	for _, tc := range []struct {
		name           string
		server, resume bool
		extra          []string
	}{
		{"server", true, false, nil},
		{"client", false, false, nil},
		{"server-resume", true, true, nil},
		{"client-resume", false, true, nil},
		// -async: one-byte reads, would-block reads after the handshake
		// and callbacks completed on other goroutines; the server's
		// certificates come from its ClientHello hook.
		{"server-async", true, true, []string{"-async", "-use-early-callback"}},
		{"client-async", false, true, []string{"-async", "-key-update"}},
		// BoringSSL's soft-fail client: the verify callback fails, the
		// handshake goes on, and the resumed connection reports the
		// session's result.
		{"client-verify-soft-fail", false, true, []string{"-verify-fail", "-expect-verify-result"}},
		{"client-on-resume-verify-fail", false, true, []string{"-verify-peer", "-on-resume-verify-fail"}},
	} {
		server := tc.server
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			runner := make(chan error, 1)
			go func() { runner <- fakeBogoRunner(ln, server, tc.resume, p, nil) }()
			_, port, _ := net.SplitHostPort(ln.Addr().String())
			args := []string{"-bogo-mode", "-port", port, "-shim-id", "7", "-curves", strconv.Itoa(int(X25519)),
				"-expect-curve-id", strconv.Itoa(int(X25519)), "-expect-version", strconv.Itoa(int(versionTLS13))}
			if server {
				args = append(args, "-server", "-cert-file", certFile, "-key-file", keyFile)
			}
			if tc.resume {
				args = append(args, "-resume-count", "1")
			}
			args = append(args, tc.extra...)
			if code := bogoShim(args); code != bogoExitOK {
				t.Errorf("shim exit status %d", code)
			}
			if err := <-runner; err != nil {
				t.Errorf("stand-in runner: %v", err)
			}
		})
	}
	for _, args := range [][]string{
		{"-port", "1", "-resume-count", "1", "-on-resume-some-future-flag"},
		{"-port", "1", "-on-retry-shim-writes-first"},
		{"-port", "1", "-no-key-shares"},
		{"-port", "1", "-curves", "29", "-curves", "23", "-key-shares", "23"},
		{"-port", "1", "-max-version", strconv.Itoa(int(versionTLS12))},
		{"-port", "1", "-some-future-flag"},
	} {
		if code := bogoShim(args); code != bogoExitUnimplemented {
			t.Errorf("bogoShim(%q) = %d; want %d (unimplemented)", args, code, bogoExitUnimplemented)
		}
	}
}

// TestBogoShimVerifyFail checks that -verify-fail with -verify-peer fails
// the handshake with the legacy callback's alert, handshake_failure.
func TestBogoShimVerifyFail(t *testing.T) {
	p := pki(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	runner := make(chan error, 1)
	go func() { runner <- fakeBogoRunner(ln, false, false, p, nil) }()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	if code := bogoShim([]string{"-bogo-mode", "-port", port, "-shim-id", "7", "-verify-peer", "-verify-fail"}); code != bogoExitFailed {
		t.Errorf("shim exit status %d; want %d", code, bogoExitFailed)
	}
	if err := <-runner; err == nil || !strings.Contains(err.Error(), "handshake failure") {
		t.Errorf("stand-in runner: %v; want the handshake_failure alert", err)
	}
}

// TestBogoShimOCSP runs the shim's OCSP flags against the stand-in runner:
// a server staples -ocsp-response, and a client checks the stapled
// response against -expect-ocsp-response, on the resumed connection too,
// and fails on any other.
func TestBogoShimOCSP(t *testing.T) {
	p := pki(t)
	certFile, keyFile := shimIdentityFiles(t, p)
	staple := []byte("an OCSP response, DER in real life")
	b64 := base64.StdEncoding.EncodeToString
	for _, tc := range []struct {
		name   string
		server bool
		args   []string
		want   int
	}{
		{"server", true, []string{"-cert-file", certFile, "-key-file", keyFile, "-ocsp-response", b64(staple)}, bogoExitOK},
		// BoringSSL's order: the response follows the default
		// credential's files or precedes them.
		{"server-flag-first", true, []string{"-ocsp-response", b64(staple), "-cert-file", certFile, "-key-file", keyFile}, bogoExitOK},
		{"server-new-credential", true, []string{"-new-x509-credential", "-cert-file", certFile, "-key-file", keyFile, "-ocsp-response", b64(staple)}, bogoExitOK},
		{"client", false, []string{"-enable-ocsp-stapling", "-expect-ocsp-response", b64(staple)}, bogoExitOK},
		{"client-mismatch", false, []string{"-enable-ocsp-stapling", "-expect-ocsp-response", b64([]byte("another response"))}, bogoExitFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			runner := make(chan error, 1)
			go func() {
				// Closing the listener when the runner stops refuses the
				// shim's next connection rather than leaving it waiting.
				err := fakeBogoRunner(ln, tc.server, tc.want == bogoExitOK, p, staple)
				ln.Close()
				runner <- err
			}()
			_, port, _ := net.SplitHostPort(ln.Addr().String())
			args := []string{"-bogo-mode", "-port", port, "-shim-id", "7"}
			if tc.server {
				args = append(args, "-server")
			}
			if tc.want == bogoExitOK {
				args = append(args, "-resume-count", "1")
			}
			if code := bogoShim(append(args, tc.args...)); code != tc.want {
				t.Errorf("shim exit status %d; want %d", code, tc.want)
			}
			if err := <-runner; err != nil && tc.want == bogoExitOK {
				t.Errorf("stand-in runner: %v", err)
			}
		})
	}
	if code := bogoShim([]string{"-port", "1", "-server", "-ocsp-response", b64(staple)}); code != bogoExitUnimplemented {
		t.Errorf("-ocsp-response without a credential: exit status %d; want %d (unimplemented)", code, bogoExitUnimplemented)
	}
}

// TestBogoShimConnectionArgs checks that -on-initial- and -on-resume-
// flags reach the right connections.
func TestBogoShimConnectionArgs(t *testing.T) {
	args := []string{"-server", "-on-initial-expect-hrr", "-on-resume-export-label", "x",
		"-on-resume-expect-session-miss", "-on-resume-future-flag", "-on-retry-expect-hrr"}
	for i, want := range [][]string{
		{"-server", "-expect-hrr", "-on-resume-future-flag", "-on-retry-expect-hrr"},
		{"-server", "-export-label", "x", "-expect-session-miss", "-on-resume-future-flag", "-on-retry-expect-hrr"},
		{"-server", "-export-label", "x", "-expect-session-miss", "-on-resume-future-flag", "-on-retry-expect-hrr"},
	} {
		if got := connectionArgs(args, i); !slices.Equal(got, want) {
			t.Errorf("connection %d: %q; want %q", i, got, want)
		}
	}
}

// fakeBogoRunner plays the runner's side of one test with crypto/tls: one
// connection, and with resume a second one that must resume the first's
// session. A non-nil ocsp is the response the runner's server staples, or
// the one its client must receive on every connection.
func fakeBogoRunner(ln net.Listener, shimIsServer, resume bool, p *testCerts, ocsp []byte) error {
	clientCfg := &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13,
		ClientSessionCache: tls.NewLRUClientSessionCache(4), ServerName: "a.test"}
	serverCfg := p.goServerConfig(p.p256)
	serverCfg.Certificates[0].OCSPStaple = ocsp
	n := 1
	if resume {
		n = 2
	}
	for i := 0; i < n; i++ {
		ln.(*net.TCPListener).SetDeadline(time.Now().Add(10 * time.Second))
		conn, err := ln.Accept()
		if err != nil {
			return err
		}
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		id := make([]byte, 8)
		if _, err := io.ReadFull(conn, id); err != nil || binary.LittleEndian.Uint64(id) != 7 {
			conn.Close()
			return fmt.Errorf("shim ID %x, %v", id, err)
		}
		var tc *tls.Conn
		if shimIsServer {
			tc = tls.Client(conn, clientCfg)
		} else {
			tc = tls.Server(conn, serverCfg)
		}
		err = echoInverted(tc)
		st := tc.ConnectionState()
		switch {
		case err != nil:
		case st.DidResume != (i > 0):
			err = fmt.Errorf("connection %d: DidResume %v", i, st.DidResume)
		case shimIsServer && ocsp != nil && !bytes.Equal(st.OCSPResponse, ocsp):
			err = fmt.Errorf("connection %d: OCSP response %q, want %q", i, st.OCSPResponse, ocsp)
		}
		conn.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

func echoInverted(tc *tls.Conn) error {
	if _, err := tc.Write([]byte("hello")); err != nil {
		return err
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(tc, buf); err != nil {
		return err
	}
	for i, b := range buf {
		if b != "hello"[i]^0xff {
			return fmt.Errorf("echo %x is not the inverted message", buf)
		}
	}
	return tc.Close()
}
