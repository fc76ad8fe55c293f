package main

import (
	"cmp"
	"crypto/x509"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/internal/hostfile"
	"github.com/wasitls/wasitls/runtime"
	"github.com/wasitls/wasitls/runtime/tlshost"
	"github.com/wasitls/wasitls/tlsnames"
)

// The durations the TLS flags accept. A handshake timeout under 100 ms
// fails handshakes a loaded host makes on loopback; a ticket key seals for
// a rotation and opens for two, and RFC 8446 (Section 4.6.1) bounds a
// ticket's life to 7 days, hence at most 84h.
var (
	handshakeTimeoutRange  = durationRange{lo: 100 * time.Millisecond, hi: 24 * time.Hour, zero: "no bound"}
	ticketKeyRotationRange = durationRange{lo: time.Second, hi: 84 * time.Hour, zero: "no tickets"}
)

// tlsRunFlags adds the wasi:tls host's settings to "wasitls run": the
// backend, and the trust decisions that belong to the host, never to the
// guest (trust anchors, turning validation off).
func tlsRunFlags(fs *flag.FlagSet) func() (runtime.Extension, error) {
	name := fs.String("backend", tlshost.DefaultBackend, "TLS `backend` for wasi:tls ("+strings.Join(backends.Names(), ", ")+")")
	var cas, clientCAs listFlag
	fs.Var(&cas, "ca", "PEM `file` of CA certificates trusted for servers, in addition to the system roots (repeatable)")
	fs.Var(&clientCAs, "client-ca", "PEM `file` of CA certificates that validate client certificates (repeatable; default: the system roots)")
	insecure := fs.Bool("insecure-skip-verify", false, "turn off default validation of server certificates (the guest's own verification still runs)")
	groups := fs.String("groups", "", "key-exchange `groups` allowed, in order, the most a guest may select from: names ("+groupList()+") or 0x code points, comma-separated (default: the backend's defaults; every group it implements is open to guests)")
	versions := fs.String("versions", "", "protocol `versions` allowed, the most a guest may select from: 1.2, 1.3 or 0x code points, comma-separated (default: every version the backend implements)")
	suites := fs.String("cipher-suites", "", "cipher `suites` allowed, in order, the most a guest may select from: IANA names (TLS_AES_128_GCM_SHA256) or 0x code points, comma-separated (default: every suite the backend implements)")
	logTLS := fs.Bool("log-tls", false, "log why TLS steps failed to stderr")
	keyLog := fs.String("keylog", "", "append the TLS secrets of every connection to `file` in the NSS key log format, for Wireshark (default: $SSLKEYLOGFILE if set); the guest cannot see or change it; debugging only")
	var identities listFlag
	fs.Var(&identities, "identity", "hold for the guest the identity `NAME=CERT,KEY[,OCSP]`, which it gets by NAME from host-identity: CERT and KEY are its PEM certificate chain and key files, OCSP a DER OCSP response a guest server staples with it (a path holding a comma in double quotes, as in CSV: NAME=\"a,b.pem\",KEY); the key never enters guest memory (repeatable)")
	pending := intVar(fs, "max-pending-handshakes", tlshost.DefaultPendingHandshakes, "most TLS `handshakes` the guest has pending at once, from connect or accept until they end or their connection is dropped (past it connect and accept fail)")
	conns := intVar(fs, "max-tls-connections", tlshost.DefaultConnections, "most TLS `connections` the guest holds at once, from their constructor until it drops them, established, failed or never used, whatever streams they were made over (past it the constructor traps)")
	idBytes := intVar(fs, "max-identity-bytes", tlshost.DefaultIdentityBytes, "most key and certificate chain `bytes` of the private identities the guest parsed that the host holds at once, the parsed keys and leaves as they hold the heap included (past it private-identity.parse fails)")
	peerBytes := intVar(fs, "max-peer-cert-bytes", tlshost.DefaultPeerCertBytes, "most `bytes` the guest's TLS peers sent in their handshakes (and post-handshake authentications), certificate chains above all, that the host holds at once, every connection together, in handshake and established (past it the handshake that would cross it fails); they return when the handshake fails or the connection is dropped")
	readAhead := intVar(fs, "max-read-ahead-bytes", tlshost.DefaultReadAheadBytes, "most `bytes` of application data the guest's TLS peers sent that backends read ahead of the guest's reads and hold for them, every connection together (circl-pq, while a server's post-handshake certificate request waits for its answer); past it they stop reading ahead and the request waits for the guest's reads, no connection fails")
	settingsBytes := intVar(fs, "max-tls-settings-bytes", tlshost.DefaultSettingsBytes, "most `bytes` of the settings the guest chose for its TLS connections (server names, ALPN IDs, protocol versions, cipher suites, groups, server identities, a client's answer to a certificate request) that the host keeps, every connection together, until the guest drops them (past it the call that would cross it fails)")
	hsTimeout := durationVar(fs, "handshake-timeout", tlshost.DefaultHandshakeTimeout, "bound every TLS handshake and post-handshake client authentication, client and server, to `duration` (0: no bound); on expiry the handshake fails and the host closes the connection. The default is in the range servers facing the Internet use: nginx 60s, Envoy 15s for reading the ClientHello, Go's HTTP client 10s")
	sessionCache := intVar(fs, "session-cache-size", tlshost.DefaultSessionCacheSize, "most client `sessions` the guest's cache keeps for resumption, one per server name and port (0: no client resumption); the sessions and their secrets stay in the host")
	ticketRotation := durationVar(fs, "ticket-key-rotation", tlshost.DefaultTicketKeyRotation, "a new session-ticket key seals the tickets guest servers issue every `duration`, and each key opens tickets for as long again (0: servers issue no tickets); the keys stay in the host")
	keyLogBytes := intVar(fs, "max-keylog-bytes", tlshost.DefaultKeyLogBytes, "most `bytes` of key log lines the host holds for a --keylog file that is behind, every connection together (past it lines are dropped, logged once; a handshake waits for its line at most 500ms)")
	maxRSA := intVar(fs, "max-peer-rsa-bits", backends.DefaultMaxRSAKeyBits, "largest RSA key, in `bits`, a peer's certificate chain may hold: a larger one is refused before anything is verified with it, since verifying costs the square of the key's size, which the peer chooses (stdtls: at most crypto/tls's own bound, 8192 unless GODEBUG=tlsmaxrsasize raises it)")
	return func() (runtime.Extension, error) {
		if _, err := backends.ByName(*name); err != nil {
			return nil, fmt.Errorf("--backend: %w", err)
		}
		if err := atLeast(1, flagInt{"max-pending-handshakes", *pending}, flagInt{"max-tls-connections", *conns},
			flagInt{"max-identity-bytes", *idBytes}, flagInt{"max-peer-cert-bytes", *peerBytes}, flagInt{"max-read-ahead-bytes", *readAhead},
			flagInt{"max-tls-settings-bytes", *settingsBytes}, flagInt{"max-keylog-bytes", *keyLogBytes}); err != nil {
			return nil, err
		}
		if err := atLeast(1024, flagInt{"max-peer-rsa-bits", *maxRSA}); err != nil {
			return nil, err
		}
		cfg := tlshost.Config{BackendName: *name, InsecureSkipVerify: *insecure, PendingHandshakes: *pending,
			Connections: *conns, IdentityBytes: *idBytes, PeerCertBytes: *peerBytes, ReadAheadBytes: *readAhead, SettingsBytes: *settingsBytes,
			HandshakeTimeout: *hsTimeout, MaxPeerRSAKeyBits: *maxRSA, KeyLogBytes: *keyLogBytes}
		if err := handshakeTimeoutRange.check("handshake-timeout", *hsTimeout); err != nil {
			return nil, err
		}
		if *hsTimeout == 0 {
			cfg.HandshakeTimeout = -1 // no bound
		}
		switch {
		case *sessionCache < 0:
			return nil, fmt.Errorf("--session-cache-size %d: want a positive size, or 0 for no client resumption", *sessionCache)
		case *sessionCache == 0:
			cfg.SessionCacheSize = -1
		default:
			cfg.SessionCacheSize = *sessionCache
		}
		if err := ticketKeyRotationRange.check("ticket-key-rotation", *ticketRotation); err != nil {
			return nil, err
		}
		cfg.TicketKeyRotation = *ticketRotation
		if *ticketRotation == 0 {
			cfg.TicketKeyRotation = -1
		}
		if len(cas) > 0 {
			pool, err := x509.SystemCertPool()
			if err != nil {
				pool = x509.NewCertPool()
			}
			if err := appendPEMFiles(pool, cas); err != nil {
				return nil, fmt.Errorf("--ca: %w", err)
			}
			cfg.RootCAs = pool
		}
		if len(clientCAs) > 0 {
			pool := x509.NewCertPool()
			if err := appendPEMFiles(pool, clientCAs); err != nil {
				return nil, fmt.Errorf("--client-ca: %w", err)
			}
			cfg.ClientCAs = pool
		}
		if *groups != "" {
			g, err := parseGroups(*groups)
			if err != nil {
				return nil, fmt.Errorf("--groups: %w", err)
			}
			cfg.Groups = g
		}
		for _, spec := range identities {
			name, parts, err := parseIdentity(spec)
			if err != nil {
				return nil, err
			}
			cert, key := parts[0], parts[1]
			if cfg.Identities == nil {
				cfg.Identities = map[string]*backends.Identity{}
			}
			if _, dup := cfg.Identities[name]; dup {
				return nil, fmt.Errorf("--identity: %q given twice", name)
			}
			id, err := tlshost.LoadIdentity(cfg, cert, key)
			if err != nil {
				return nil, fmt.Errorf("--identity %s: %w", name, err)
			}
			noteReadableByOthers("--identity "+name, "the private key", key)
			if len(parts) == 3 {
				if err := tlshost.LoadOCSP(id, parts[2]); err != nil {
					return nil, fmt.Errorf("--identity %s: %w", name, err)
				}
			}
			cfg.Identities[name] = id
		}
		if path := cmp.Or(*keyLog, os.Getenv("SSLKEYLOGFILE")); path != "" {
			source := "--keylog"
			if *keyLog == "" {
				source = "$SSLKEYLOGFILE (the default of --keylog)"
			}
			w, err := openKeyLog(path)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", source, err)
			}
			fmt.Fprintf(logOutput, "wasitls: writing TLS secrets to %s (key log); anyone who reads it can decrypt the traffic\n", path)
			noteReadableByOthers(source, "the key log", path)
			cfg.KeyLog = w
		}
		if *versions != "" {
			v, err := tlsnames.ParseList(tlsnames.ParseVersion, *versions)
			if err != nil {
				return nil, fmt.Errorf("--versions: %w; versions by name: 1.2, 1.3", err)
			}
			cfg.Versions = v
		}
		if *suites != "" {
			cs, err := tlsnames.ParseList(tlsnames.ParseCipherSuite, *suites)
			if err != nil {
				return nil, fmt.Errorf("--cipher-suites: %w; suites by their IANA names, such as TLS_AES_128_GCM_SHA256 or TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", err)
			}
			cfg.CipherSuites = cs
		}
		// Each list alone, against the backend, so that a mistake in it
		// (a code point named twice, one the backend does not implement)
		// names its flag as well as tlshost.Config's field.
		for _, l := range []struct {
			flag string
			cfg  tlshost.Config
		}{
			{"versions", tlshost.Config{BackendName: *name, Versions: cfg.Versions}},
			{"cipher-suites", tlshost.Config{BackendName: *name, CipherSuites: cfg.CipherSuites}},
			{"groups", tlshost.Config{BackendName: *name, Groups: cfg.Groups}},
		} {
			if _, err := tlshost.NewHost(l.cfg); err != nil {
				return nil, fmt.Errorf("--%s: %w", l.flag, err)
			}
		}
		if *logTLS {
			cfg.Logger = slog.New(slog.NewTextHandler(logOutput, nil))
		} else {
			cfg.Logger = newTLSHints(logOutput)
		}
		return tlshost.New(cfg), nil
	}
}

// keyLogFile appends each Write to a file opened for that Write alone, so
// that nothing stays open after the run and each line lands whole
// (O_APPEND). The file must be a regular file: opening a named pipe
// waits for a reader, and writing to one waits for the reader to take
// it, each write in a TLS handshake (hostfile.OpenAppend).
type keyLogFile string

func openKeyLog(path string) (keyLogFile, error) {
	if err := hostfile.CheckAppendable(path); err != nil {
		return "", err
	}
	return keyLogFile(path), nil
}

func (k keyLogFile) Write(p []byte) (int, error) {
	f, err := hostfile.OpenAppend(string(k)) // removed meanwhile: begun again
	if err != nil {
		return 0, err
	}
	n, err := f.Write(p)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return n, err
}

// noteReadableByOthers warns, on logOutput, when the secret file at path
// (what it is, given by flag) can be read by every user of the system.
// A warning, not a refusal: crypto/tls, nginx and curl do not check, and
// group-readable keys (Debian's ssl-cert group) are common practice.
func noteReadableByOthers(flag, what, path string) {
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o004 != 0 {
		fmt.Fprintf(logOutput, "wasitls: %s: warning: %s %s can be read by every user (mode %04o); chmod o-r %s\n", flag, what, path, fi.Mode().Perm(), path)
	}
}

// logOutput is where --log-tls writes.
var logOutput io.Writer = os.Stderr

func appendPEMFiles(pool *x509.CertPool, files []string) error {
	for _, f := range files {
		// Read up to a cap (a device such as /dev/zero is an error, not
		// a read until memory runs out), and registered as trust anchors
		// too, so that circl-pq finds ML-DSA roots the peer does not send
		// (a CertPool cannot be listed).
		if err := tlshost.LoadTrustAnchors(pool, f); err != nil {
			return err
		}
	}
	return nil
}

// parseIdentity parses --identity NAME=CERT,KEY[,OCSP]. The files are a
// comma-separated record as CSV writes one (RFC 4180), the syntax
// "docker run --mount" uses too: a path holding a comma, or beginning
// with a double quote, is given in double quotes ("a,b.pem"), a double
// quote in a quoted path doubled. Paths without commas or quotes are
// given as they are, as before.
func parseIdentity(spec string) (name string, files []string, err error) {
	name, list, ok := strings.Cut(spec, "=")
	bad := func(why string) error {
		return fmt.Errorf("--identity %q: %swant NAME=CERT,KEY or NAME=CERT,KEY,OCSP (a path holding a comma in double quotes: NAME=\"a,b.pem\",KEY)", spec, why)
	}
	if !ok || name == "" {
		return "", nil, bad("")
	}
	r := csv.NewReader(strings.NewReader(list))
	r.FieldsPerRecord = -1
	r.LazyQuotes = true // a quote inside an unquoted path is itself
	files, err = r.Read()
	if err == nil {
		if _, more := r.Read(); more != io.EOF {
			return "", nil, bad("a line break in a path must be in double quotes; ")
		}
	}
	switch {
	case errors.Is(err, io.EOF):
		return "", nil, bad("")
	case err != nil:
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return "", nil, bad(err.Error() + "; ")
	case len(files) < 2 || len(files) > 3 || slices.Contains(files, ""):
		return "", nil, bad("")
	}
	return name, files, nil
}

// parseGroups parses --groups; its error lists the names it knows.
func parseGroups(s string) ([]uint16, error) {
	g, err := tlsnames.ParseList(tlsnames.ParseGroup, s)
	if err != nil {
		return nil, fmt.Errorf("%w; groups by name: %s", err, groupList())
	}
	return g, nil
}

func groupList() string {
	return "X25519MLKEM768, SecP256r1MLKEM768, SecP384r1MLKEM1024, MLKEM512/768/1024, X25519, P256, P384, P521"
}
