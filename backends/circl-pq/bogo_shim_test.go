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
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
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

// A shimCredential is a certificate chain and key file pair.
type shimCredential struct{ certFile, keyFile string }

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
	onResumeFlags              []string
	resumeCount                int
}

// Flags with a value, and boolean flags. The ignored ones hold for this
// engine whatever their value: it never resumes, and speaks TLS 1.3 only.
var (
	shimValueFlags = map[string]bool{
		"-port": true, "-shim-id": true, "-key-file": true, "-cert-file": true, "-trust-cert": true,
		"-min-version": true, "-max-version": true, "-expect-version": true, "-curves": true,
		"-expect-curve-id": true, "-advertise-alpn": true, "-select-alpn": true, "-expect-alpn": true,
		"-expect-advertised-alpn": true, "-host-name": true, "-expect-server-name": true, "-resume-count": true,
		"-export-keying-material": true, "-export-label": true, "-export-context": true,
		"-signing-prefs": true, "-verify-prefs": true, "-expect-peer-signature-algorithm": true,
	}
	shimBoolFlags = map[string]bool{
		"-ipv6": true, "-server": true, "-decline-alpn": true, "-reject-alpn": true, "-shim-writes-first": true,
		"-expect-hrr": true, "-expect-no-hrr": true, "-verify-peer": true, "-bogo-mode": true,
		"-expect-session-miss": true, "-no-tls1": true, "-no-tls11": true, "-no-tls12": true,
		"-no-tls13": true, "-expect-no-session": true, "-new-x509-credential": true,
		"-shim-shuts-down": true, "-use-export-context": true, "-check-close-notify": true,
	}
)

func parseShimFlags(args []string) (*shimFlags, error) {
	f := &shimFlags{minVersion: -1, maxVersion: -1}
	for i := 0; i < len(args); i++ {
		name := args[i]
		// Without resumption (-resume-count is unimplemented) every
		// connection is the initial one: -on-initial-X is -X, and
		// -on-resume-X never applies.
		if rest, ok := strings.CutPrefix(name, "-on-initial-"); ok {
			name = "-" + rest
		} else if rest, ok := strings.CutPrefix(name, "-on-resume-"); ok {
			if shimValueFlags["-"+rest] {
				i++
			} else if !shimBoolFlags["-"+rest] {
				return nil, errUnimplemented("flag " + name)
			}
			f.onResumeFlags = append(f.onResumeFlags, name)
			continue
		}
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
			case "-expect-session-miss":
				f.expectSessionMiss = true
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
			}
			continue
		}
		if !shimValueFlags[name] {
			return nil, errUnimplemented("flag " + name)
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
		case "-curves":
			var n int
			if n, err = num(); err == nil {
				f.curves = append(f.curves, uint16(n))
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
	case f.maxVersion >= 0 && f.maxVersion < int(versionTLS13):
		return nil, errUnimplemented(fmt.Sprintf("only TLS 1.3 is implemented (-max-version %#04x)", f.maxVersion))
	case f.minVersion > int(versionTLS13):
		return nil, errUnimplemented(fmt.Sprintf("-min-version %#04x", f.minVersion))
	case f.resumeCount > 0 && len(f.onResumeFlags) > 0:
		return nil, errUnimplemented("flags for resumed connections " + strings.Join(f.onResumeFlags, " "))
	case f.server && f.verifyPeer && f.trustCert == "":
		return nil, errUnimplemented("accepting client certificates without validation (-verify-peer without -trust-cert)")
	}
	for _, g := range f.curves {
		if !isGroupSupported(g) {
			return nil, errUnimplemented(fmt.Sprintf("group %d", g))
		}
	}
	return f, nil
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
	f, err := parseShimFlags(args)
	if err == nil {
		err = runShim(f)
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

func runShim(f *shimFlags) error {
	var idents []*backends.Identity
	for _, cred := range f.credentials {
		key, err := os.ReadFile(cred.keyFile)
		if err != nil {
			return err
		}
		chain, err := os.ReadFile(cred.certFile)
		if err != nil {
			return err
		}
		ident, err := ParseIdentity(key, [][]byte{chain})
		if err != nil {
			return errUnimplemented(fmt.Sprintf("identity: %v", err))
		}
		idents = append(idents, ident)
	}
	var trust []byte
	if f.trustCert != "" {
		var err error
		if trust, err = os.ReadFile(f.trustCert); err != nil {
			return err
		}
	}

	// One connection, then -resume-count more that resume its session
	// (RFC 8446, Section 2.2), unless -expect-session-miss.
	cache := NewSessionCache(0)
	for i := 0; i <= f.resumeCount; i++ {
		if err := runShimConn(f, idents, trust, cache, i > 0); err != nil {
			return err
		}
	}
	return nil
}

// runShimConn runs one connection of a test.
func runShimConn(f *shimFlags, idents []*backends.Identity, trust []byte, cache *SessionCache, resumed bool) error {
	opts := backends.Options{Groups: f.curves}
	host := "127.0.0.1"
	if f.ipv6 {
		host = "::1"
	}
	conn, err := net.Dial("tcp", net.JoinHostPort(host, f.port))
	if err != nil {
		return err
	}
	defer conn.Close()
	id, err := strconv.ParseUint(f.shimID, 10, 64)
	if err != nil {
		return fmt.Errorf("-shim-id: %v", err)
	}
	if _, err := conn.Write(binary.LittleEndian.AppendUint64(nil, id)); err != nil {
		return err
	}

	var c *Conn
	if f.server {
		cfg := &backends.ServerConfig{Options: opts}
		cfg.Identities = idents
		switch {
		case f.selectALPN != "":
			cfg.ALPN = []string{f.selectALPN}
		case f.rejectALPN:
			cfg.ALPN = []string{"unnegotiableprotocol"}
		}
		if f.verifyPeer {
			cfg.ClientAuth = backends.RequestClientCert
			cfg.ClientCAs = poolFromPEM(trust)
		}
		if f.expectAdvertisedALPN != "" {
			want, err := parseALPNList(f.expectAdvertisedALPN)
			if err != nil {
				return err
			}
			cfg.ClientHello = func(_ context.Context, h *backends.ClientHello) (*backends.ServerConfig, error) {
				if !slices.Equal(h.ALPN, want) {
					return nil, fmt.Errorf("advertised ALPN %q, want %q", h.ALPN, want)
				}
				return nil, nil
			}
		}
		if c, err = Server(conn, cfg); err != nil {
			return err
		}
		c.testSigningPrefs, c.testVerifyPrefs = f.signingPrefs, f.verifyPrefs
	} else {
		// BoringSSL's shim verifies nothing unless given -trust-cert, and
		// never checks host names (-host-name is only sent as SNI).
		cfg := &backends.ClientConfig{Options: opts, ServerName: f.hostName, InsecureSkipVerify: true}
		if trust != nil {
			roots := poolFromPEM(trust)
			cfg.VerifyServer = func(_ context.Context, chain [][]byte) error {
				certs, err := parseChain(chain)
				if err != nil {
					return err
				}
				if err := verifyChain(certs, roots, "", x509.ExtKeyUsageServerAuth, nil); err != nil {
					return &backends.SendAlertError{Alert: certificateAlert(err), Err: err}
				}
				return nil
			}
		}
		if f.advertiseALPN != "" {
			if cfg.ALPN, err = parseALPNList(f.advertiseALPN); err != nil {
				return err
			}
		}
		if len(idents) > 0 {
			cfg.ClientIdentity = func(context.Context, *backends.IdentityRequest) ([]*backends.Identity, error) {
				return idents, nil
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
		return shutdownAfter(conn, err)
	}
	if err := checkShimState(f, c, resumed); err != nil {
		return shutdownAfter(conn, err)
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
			return shutdownAfter(conn, err)
		}
		if _, err := c.Write(km); err != nil {
			return shutdownAfter(conn, err)
		}
	}
	if f.shimShutsDown {
		// Close first; with -check-close-notify, the runner's
		// close_notify must follow.
		if err := c.CloseWrite(); err != nil {
			return shutdownAfter(conn, err)
		}
		if !f.checkCloseNotify {
			return nil
		}
		if _, err := c.Read(make([]byte, 1)); err != io.EOF {
			return shutdownAfter(conn, fmt.Errorf("after close_notify: %v, want the peer's close_notify", err))
		}
		return nil
	}
	if f.shimWritesFirst {
		if _, err := c.Write([]byte("hello")); err != nil {
			return shutdownAfter(conn, err)
		}
	}
	buf := make([]byte, 500)
	for {
		n, err := c.Read(buf)
		if err == io.EOF {
			c.Close()
			return nil
		}
		if err != nil {
			return shutdownAfter(conn, err)
		}
		for i := range buf[:n] {
			buf[i] ^= 0xff
		}
		if _, err := c.Write(buf[:n]); err != nil {
			return shutdownAfter(conn, err)
		}
	}
}

func checkShimState(f *shimFlags, c *Conn, resumed bool) error {
	s := c.State()
	switch {
	case resumed && s.DidResume == f.expectSessionMiss:
		return fmt.Errorf("resumed connection: DidResume %v, want %v", s.DidResume, !f.expectSessionMiss)
	case !resumed && s.DidResume:
		return errors.New("the first connection resumed a session")
	case f.expectPeerSigAlg != 0 && !s.DidResume && int(c.peerSignatureScheme) != f.expectPeerSigAlg:
		return fmt.Errorf("peer signature scheme %#04x, want %#04x", c.peerSignatureScheme, f.expectPeerSigAlg)
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
	}
	return nil
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

// TestBogoShim runs the shim in-process against a stand-in runner
// (crypto/tls over loopback), in both roles, and checks that flags it does
// not know make a test unimplemented rather than pass.
func TestBogoShim(t *testing.T) {
	p := pki(t)
	dir := t.TempDir()
	certFile, keyFile := dir+"/cert.pem", dir+"/key.pem"
	if err := os.WriteFile(certFile, p.p256.ChainPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, p.p256.KeyPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name           string
		server, resume bool
	}{
		{"server", true, false},
		{"client", false, false},
		{"server-resume", true, true},
		{"client-resume", false, true},
	} {
		server := tc.server
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			runner := make(chan error, 1)
			go func() { runner <- fakeBogoRunner(ln, server, tc.resume, p) }()
			_, port, _ := net.SplitHostPort(ln.Addr().String())
			args := []string{"-bogo-mode", "-port", port, "-shim-id", "7", "-curves", strconv.Itoa(int(X25519)),
				"-expect-curve-id", strconv.Itoa(int(X25519)), "-expect-version", strconv.Itoa(int(versionTLS13))}
			if server {
				args = append(args, "-server", "-cert-file", certFile, "-key-file", keyFile)
			}
			if tc.resume {
				args = append(args, "-resume-count", "1")
			}
			if code := bogoShim(args); code != bogoExitOK {
				t.Errorf("shim exit status %d", code)
			}
			if err := <-runner; err != nil {
				t.Errorf("stand-in runner: %v", err)
			}
		})
	}
	for _, args := range [][]string{
		{"-port", "1", "-resume-count", "1", "-on-resume-shim-writes-first"},
		{"-port", "1", "-max-version", strconv.Itoa(int(versionTLS12))},
		{"-port", "1", "-some-future-flag"},
	} {
		if code := bogoShim(args); code != bogoExitUnimplemented {
			t.Errorf("bogoShim(%q) = %d; want %d (unimplemented)", args, code, bogoExitUnimplemented)
		}
	}
}

// fakeBogoRunner plays the runner's side of one test with crypto/tls: one
// connection, and with resume a second one that must resume the first's
// session.
func fakeBogoRunner(ln net.Listener, shimIsServer, resume bool, p *testCerts) error {
	clientCfg := &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13,
		ClientSessionCache: tls.NewLRUClientSessionCache(4), ServerName: "a.test"}
	serverCfg := p.goServerConfig(p.p256)
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
		if err == nil && tc.ConnectionState().DidResume != (i > 0) {
			err = fmt.Errorf("connection %d: DidResume %v", i, tc.ConnectionState().DidResume)
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
