package main

import (
	"strings"
	"testing"
)

// TestRunCeilingFlags: --versions, --cipher-suites and --groups set what a
// guest may select from, and the guest reads them back
// (allowed-algorithms); lists the backend cannot honour, or naming a code
// point twice, are refused at start-up, naming the flag and the field.
func TestRunCeilingFlags(t *testing.T) {
	guest := wasmFile(t, "../../runtime/tlshost/testdata/ext02")
	code, stdout, stderr := runCLI(t, "--backend", "circl-pq", "--versions", "1.3", "--cipher-suites", "TLS_AES_256_GCM_SHA384,0x1303",
		"--groups", "X25519MLKEM768", guest, "algorithms")
	if code != 0 || !strings.Contains(stdout, "allowed versions=[0x0304] suites=[0x1302 0x1303] groups=[0x11ec]") ||
		!strings.Contains(stdout, "default versions=[0x0304] suites=[0x1302 0x1303] groups=[0x11ec]") {
		t.Errorf("code %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--versions", "1.1"}, `--versions: unknown version "1.1" (want a name or a 0x code point); versions by name: 1.2, 1.3`},
		{[]string{"--cipher-suites", "TLS_NOPE"}, `--cipher-suites: unknown cipher suite "TLS_NOPE"`},
		{[]string{"--backend", "circl-pq", "--versions", "1.2"}, "--versions: tlshost: Config.Versions: TLS 1.2 (0x0303) is not implemented by backend circl-pq"},
		{[]string{"--backend", "stdtls", "--groups", "mlkem768"}, "--groups: tlshost: Config.Groups: MLKEM768 (0x0201) is not implemented by backend stdtls"},
		{[]string{"--versions", "1.3,0x0304"}, "--versions: tlshost: Config.Versions: duplicate protocol version TLS 1.3 (0x0304) in the list, at 0 and 1"},
		{[]string{"--cipher-suites", "0x1301,TLS_AES_128_GCM_SHA256"}, "--cipher-suites: tlshost: Config.CipherSuites: duplicate cipher suite TLS_AES_128_GCM_SHA256 (0x1301) in the list, at 0 and 1"},
		{[]string{"--groups", "x25519,X25519"}, "--groups: tlshost: Config.Groups: duplicate group X25519 (0x001d) in the list, at 0 and 1"},
		// Lists the backend implements one by one that leave no handshake.
		{[]string{"--backend", "stdtls", "--cipher-suites", "TLS_AES_128_GCM_SHA256"}, "Config's Versions, CipherSuites and Groups leave backend stdtls no connection to make: stdtls: crypto/tls cannot restrict the TLS 1.3 cipher suites"},
		{[]string{"--backend", "stdtls", "--versions", "1.2", "--cipher-suites", "TLS_AES_128_GCM_SHA256,TLS_AES_256_GCM_SHA384,TLS_CHACHA20_POLY1305_SHA256"}, "leave backend stdtls no connection to make: stdtls: none of the cipher suites"},
	} {
		code, _, stderr := runCLI(t, append(tc.args, guest, "algorithms")...)
		if code == 0 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%q: code %d, stderr %q; want %q", tc.args, code, stderr, tc.want)
		}
	}
}
