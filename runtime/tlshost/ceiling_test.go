package tlshost

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/wasitls/wasitls/backends"
	circlpq "github.com/wasitls/wasitls/backends/circl-pq"
	"github.com/wasitls/wasitls/backends/stdtls"
)

// TestCeiling drives every configure call of both sides through the
// sessions, over both backends, with and without host lists: the guest
// selects from what the host allows, in its own order; an empty
// intersection is an error naming both lists and changes nothing.
func TestCeiling(t *testing.T) {
	type tc struct {
		name     string
		backend  backends.Backend
		host     backends.Options
		call     string // versions, suites, groups
		guest    []uint16
		shares   int
		want     []uint16
		wantKS   int
		wantErrs string
	}
	const x25519, mlkem768x, p256, p384 = 0x001d, 0x11ec, 0x0017, 0x0018
	cases := []tc{
		{name: "PQOnlyHostRefusesX25519", backend: stdtls.Backend{}, host: backends.Options{Groups: []uint16{mlkem768x}},
			call: "groups", guest: []uint16{x25519}, shares: 1,
			wantErrs: "the host allows none of the groups asked for|asked for X25519 (0x001d)|the host allows X25519MLKEM768 (0x11ec)"},
		{name: "PQOnlyHostRefusesX25519", backend: circlpq.Backend{}, host: backends.Options{Groups: []uint16{mlkem768x}},
			call: "groups", guest: []uint16{x25519}, shares: 1,
			wantErrs: "asked for X25519 (0x001d)|the host allows X25519MLKEM768 (0x11ec)"},
		{name: "NarrowedInGuestOrder", backend: circlpq.Backend{}, host: backends.Options{Groups: []uint16{mlkem768x, p384, x25519}},
			call: "groups", guest: []uint16{p256, x25519, mlkem768x, p384}, shares: 2, want: []uint16{x25519, mlkem768x, p384}, wantKS: 1},
		{name: "SharesFollowSurvivors", backend: circlpq.Backend{}, host: backends.Options{Groups: []uint16{mlkem768x}},
			call: "groups", guest: []uint16{x25519, mlkem768x}, shares: 1, want: []uint16{mlkem768x}, wantKS: 1},
		{name: "BackendSetWithoutHostList", backend: circlpq.Backend{}, call: "groups", guest: []uint16{0x0200, 0xfafa}, shares: 1,
			want: []uint16{0x0200}, wantKS: 1},
		{name: "BackendSetWithoutHostList", backend: stdtls.Backend{}, call: "groups", guest: []uint16{0x0200}, shares: 1,
			wantErrs: "asked for MLKEM512 (0x0200)|the host allows X25519MLKEM768 (0x11ec), SecP256r1MLKEM768 (0x11eb)"},
		{name: "VersionsBackendSet", backend: circlpq.Backend{}, call: "versions", guest: []uint16{0x0303},
			wantErrs: "the host allows none of the protocol versions asked for|asked for TLS 1.2 (0x0303)|the host allows TLS 1.3 (0x0304)"},
		{name: "VersionsHostList", backend: stdtls.Backend{}, host: backends.Options{Versions: []uint16{0x0304}}, call: "versions",
			guest: []uint16{0x0303}, wantErrs: "asked for TLS 1.2 (0x0303)|the host allows TLS 1.3 (0x0304)"},
		{name: "VersionsNarrowed", backend: stdtls.Backend{}, host: backends.Options{Versions: []uint16{0x0304}}, call: "versions",
			guest: []uint16{0x0303, 0x0304}, want: []uint16{0x0304}},
		{name: "SuitesHostList", backend: circlpq.Backend{}, host: backends.Options{CipherSuites: []uint16{0x1302}}, call: "suites",
			guest: []uint16{0x1301, 0x1303}, wantErrs: "asked for TLS_AES_128_GCM_SHA256 (0x1301), TLS_CHACHA20_POLY1305_SHA256 (0x1303)|the host allows TLS_AES_256_GCM_SHA384 (0x1302)"},
		{name: "SuitesNarrowed", backend: circlpq.Backend{}, host: backends.Options{CipherSuites: []uint16{0x1302, 0x1301}}, call: "suites",
			guest: []uint16{0x1303, 0x1301, 0x1302}, want: []uint16{0x1301, 0x1302}},
		{name: "SuitesBackendSet", backend: circlpq.Backend{}, call: "suites", guest: []uint16{0xc02f},
			wantErrs: "asked for TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 (0xc02f)"},
		{name: "UnknownCodePoint", backend: circlpq.Backend{}, call: "suites", guest: []uint16{0xfafa}, wantErrs: "asked for 0xfafa;"},
	}
	for _, c := range cases {
		for _, side := range []string{"client", "server"} {
			t.Run(c.name+"/"+c.backend.Name()+"/"+side, func(t *testing.T) {
				var r *rules
				var opts *backends.Options
				if side == "client" {
					s := newClientSession(c.backend, backends.ClientConfig{Options: c.host}, newPipe(t))
					defer s.Close()
					s.Connect("example.com")
					r, opts = &s.rules, &s.cfg.Options
				} else {
					s := newServerSession(c.backend, backends.ServerConfig{Options: c.host}, newPipe(t))
					defer s.Close()
					s.Accept()
					r, opts = &s.rules, &s.cfg.Options
				}
				before := *opts
				var err error
				var got *[]uint16
				shares := c.shares
				if side == "server" {
					shares = 0
				}
				switch c.call {
				case "versions":
					err, got = r.ConfigureVersions(c.guest), &opts.Versions
				case "suites":
					err, got = r.ConfigureCipherSuites(c.guest), &opts.CipherSuites
				case "groups":
					err, got = r.ConfigureGroups(c.guest, shares), &opts.Groups
				}
				if c.wantErrs != "" {
					if err == nil {
						t.Fatalf("guest %#04x under host %+v: no error; set %#04x", c.guest, c.host, *got)
					}
					for _, w := range strings.Split(c.wantErrs, "|") {
						if !strings.Contains(err.Error(), w) {
							t.Errorf("error %q lacks %q", err, w)
						}
					}
					if !slices.Equal(opts.Versions, before.Versions) || !slices.Equal(opts.CipherSuites, before.CipherSuites) ||
						!slices.Equal(opts.Groups, before.Groups) || opts.KeyShares != before.KeyShares {
						t.Errorf("a refused configure changed the settings: %+v, was %+v", *opts, before)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(*got, c.want) {
					t.Errorf("set %#04x; want %#04x", *got, c.want)
				}
				if c.call == "groups" && side == "client" && opts.KeyShares != c.wantKS {
					t.Errorf("key shares %d; want %d", opts.KeyShares, c.wantKS)
				}
			})
		}
	}
}

// TestNewHostChecksLists refuses host lists the backend cannot honour at
// start-up, naming the code point and what the backend implements.
func TestNewHostChecksLists(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{BackendName: "stdtls", Groups: []uint16{0x0201}}, "Config.Groups: MLKEM768 (0x0201) is not implemented by backend stdtls, which implements X25519MLKEM768 (0x11ec)"},
		{Config{BackendName: "circl-pq", Versions: []uint16{0x0303}}, "Config.Versions: TLS 1.2 (0x0303) is not implemented by backend circl-pq"},
		{Config{BackendName: "circl-pq", CipherSuites: []uint16{0xc02f}}, "Config.CipherSuites: TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 (0xc02f) is not implemented"},
		{Config{Versions: []uint16{0x0301}}, "unsupported protocol version 0x0301"},
		{Config{Groups: []uint16{0x1d, 0x1d}}, "duplicate group"},
		{Config{MaxPeerRSAKeyBits: 512}, "Config.MaxPeerRSAKeyBits is 512, want at least 1024"},
		// Lists each of which the backend implements, that together
		// leave no handshake: every connection would fail.
		{Config{BackendName: "stdtls", Versions: []uint16{0x0304}, CipherSuites: []uint16{0xc02f}}, "Config's Versions, CipherSuites and Groups leave backend stdtls no connection to make: stdtls: TLS 1.3 required but no TLS 1.3 cipher suite allowed"},
		{Config{BackendName: "stdtls", CipherSuites: []uint16{0x1301}}, "leave backend stdtls no connection to make: stdtls: crypto/tls cannot restrict the TLS 1.3 cipher suites"},
		{Config{BackendName: "stdtls", Versions: []uint16{0x0303}, CipherSuites: []uint16{0x1301, 0x1302, 0x1303}}, "leave backend stdtls no connection to make: stdtls: none of the cipher suites"},
	} {
		_, err := NewHost(tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewHost(%+v): %v; want an error containing %q", tc.cfg, err, tc.want)
		}
	}
	for _, cfg := range []Config{
		{BackendName: "circl-pq", Groups: []uint16{0x0201, 0x11ec}, Versions: []uint16{0x0304}},
		{BackendName: "circl-pq", CipherSuites: []uint16{0x1301}},
		{BackendName: "stdtls", Versions: []uint16{0x0303, 0x0304}, CipherSuites: []uint16{0xc02f}},
		{BackendName: "stdtls", CipherSuites: []uint16{0x1301, 0x1302, 0x1303}},
	} {
		if _, err := NewHost(cfg); err != nil {
			t.Errorf("a valid host list %+v: %v", cfg, err)
		}
	}
}

// TestConfigureRepeats: a list of protocol versions, cipher suites or
// groups that names a code point twice is refused, on either side, with
// an error naming the call, the code point and both places, and the
// setting stays as it was; the same from the host's Config.
func TestConfigureRepeats(t *testing.T) {
	for _, side := range []string{"client", "server"} {
		var r *rules
		var opts *backends.Options
		if side == "client" {
			s := newClientSession(stdtls.Backend{}, backends.ClientConfig{}, newPipe(t))
			defer s.Close()
			s.Connect("example.com")
			r, opts = &s.rules, &s.cfg.Options
		} else {
			s := newServerSession(stdtls.Backend{}, backends.ServerConfig{}, newPipe(t))
			defer s.Close()
			s.Accept()
			r, opts = &s.rules, &s.cfg.Options
		}
		shares := 1
		if side == "server" {
			shares = 0
		}
		for _, c := range []struct {
			err  error
			want string
		}{
			{r.ConfigureVersions([]uint16{0x0304, 0x0304}), "configure-" + side + "-protocol-versions: duplicate protocol version TLS 1.3 (0x0304) in the list, at 0 and 1: each may be named once"},
			// A repeat is refused before the list is narrowed: TLS 1.2 is
			// the backend's, not the host's.
			{r.ConfigureVersions([]uint16{0x0303, 0x0304, 0x0303}), "duplicate protocol version TLS 1.2 (0x0303) in the list, at 0 and 2"},
			{r.ConfigureCipherSuites([]uint16{0x1301, 0x1302, 0x1302}), "configure-" + side + "-cipher-suites: duplicate cipher suite TLS_AES_256_GCM_SHA384 (0x1302) in the list, at 1 and 2: each may be named once"},
			{r.ConfigureGroups([]uint16{0x001d, 0x11ec, 0x001d}, shares), "configure-" + side + "-groups: duplicate group X25519 (0x001d) in the list, at 0 and 2: each may be named once"},
		} {
			wantErr(t, c.err, c.want)
		}
		if opts.Versions != nil || opts.CipherSuites != nil || opts.Groups != nil {
			t.Errorf("%s: a refused list changed the settings: %+v", side, *opts)
		}
		// The same lists without the repeat are taken.
		if err := r.ConfigureGroups([]uint16{0x001d, 0x11ec}, shares); err != nil || !slices.Equal(opts.Groups, []uint16{0x001d, 0x11ec}) {
			t.Errorf("%s: groups %#04x, %v", side, opts.Groups, err)
		}
	}
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{Versions: []uint16{0x0304, 0x0303, 0x0304}}, "tlshost: Config.Versions: duplicate protocol version TLS 1.3 (0x0304) in the list, at 0 and 2"},
		{Config{CipherSuites: []uint16{0x1301, 0x1301}}, "tlshost: Config.CipherSuites: duplicate cipher suite TLS_AES_128_GCM_SHA256 (0x1301) in the list, at 0 and 1"},
		{Config{Groups: []uint16{0x11ec, 0x11ec}}, "tlshost: Config.Groups: duplicate group X25519MLKEM768 (0x11ec) in the list, at 0 and 1"},
	} {
		_, err := NewHost(c.cfg)
		wantErr(t, err, c.want)
	}
}

// TestConfigureLongList: a guest's list of every code point outside the
// ceiling is refused at once, with an error that names 32 of them and
// counts the rest (the connection keeps it as its last error). Before, the
// error named all 65,000-odd, half a megabyte built in some 13 seconds of
// host CPU.
func TestConfigureLongList(t *testing.T) {
	for _, side := range []string{"client", "server"} {
		var r *rules
		if side == "client" {
			s := newClientSession(stdtls.Backend{}, backends.ClientConfig{}, newPipe(t))
			defer s.Close()
			s.Connect("example.com")
			r = &s.rules
		} else {
			s := newServerSession(stdtls.Backend{}, backends.ServerConfig{}, newPipe(t))
			defer s.Close()
			s.Accept()
			r = &s.rules
		}
		outside := func(allowed []uint16) []uint16 {
			var out []uint16
			for c := range 1 << 16 {
				if !slices.Contains(allowed, uint16(c)) {
					out = append(out, uint16(c))
				}
			}
			return out
		}
		suites, groups := outside(r.ceiling.cipherSuites), outside(r.ceiling.groups)
		for _, c := range []struct {
			err        error
			kind, more string
		}{
			{r.ConfigureCipherSuites(suites), "cipher-suites: the host allows none of the cipher suites", fmt.Sprintf(" and %d more; the host allows ", len(suites)-listedAtMost)},
			{r.ConfigureGroups(groups, 1), "groups: the host allows none of the groups", fmt.Sprintf(" and %d more; the host allows ", len(groups)-listedAtMost)},
		} {
			if c.err == nil {
				t.Fatalf("%s: a list outside the ceiling was taken", side)
			}
			msg := c.err.Error()
			if !strings.Contains(msg, "configure-"+side+"-"+c.kind+" asked for: asked for 0x0000, 0x0001, ") || !strings.Contains(msg, c.more) {
				t.Errorf("%s: error %.300q…, want it to name the first %d and count the rest", side, msg, listedAtMost)
			}
			if len(msg) > 4<<10 {
				t.Errorf("%s: the error takes %d bytes", side, len(msg))
			}
		}
	}
}
