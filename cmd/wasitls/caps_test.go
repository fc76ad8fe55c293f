package main

import (
	"flag"
	"io"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/cabi"
	"github.com/wasitls/wasitls/runtime"
	"github.com/wasitls/wasitls/runtime/component"
	"github.com/wasitls/wasitls/runtime/filesystem"
	"github.com/wasitls/wasitls/runtime/sockets"
	"github.com/wasitls/wasitls/runtime/stopcheck"
	"github.com/wasitls/wasitls/runtime/tlshost"
	"github.com/wasitls/wasitls/runtime/wasiio"
)

// limitCaps names, for each field of runtime.Limits, its "wasitls run"
// flag, the field's default (what a zero field means), and a value for
// the flag with the field it makes.
var limitCaps = map[string]struct {
	flag string
	def  any
	arg  string
	want any
}{
	"MemoryPages":       {"max-memory", uint32(runtime.DefaultMemoryPages), "128KiB", uint32(2)},
	"Handles":           {"max-handles", cabi.DefaultHandleLimit, "7", 7},
	"Sockets":           {"max-sockets", sockets.DefaultSocketLimit, "7", 7},
	"Files":             {"max-files", filesystem.DefaultFileLimit, "7", 7},
	"DiskBytes":         {"max-disk-bytes", int64(filesystem.DefaultDiskBytes), "7KiB", int64(7 << 10)},
	"DiskFiles":         {"max-disk-files", filesystem.DefaultDiskFiles, "7", 7},
	"Datagram":          {"max-datagram", sockets.DefaultMaxDatagram, "7", 7},
	"DatagramQueue":     {"max-datagram-queue", sockets.DefaultDatagramQueue, "7", 7},
	"DatagramBytes":     {"max-datagram-bytes", sockets.DefaultDatagramBytes, "7", 7},
	"Lookups":           {"max-lookups", sockets.DefaultLookupLimit, "7", 7},
	"LookupGrants":      {"max-lookup-grants", sockets.DefaultGrantLimit, "7", 7},
	"LookupAddrs":       {"max-lookup-addrs", sockets.DefaultLookupAddrLimit, "7", 7},
	"NestedCalls":       {"max-nested-calls", cabi.DefaultNestingLimit, "7", 7},
	"TableEntries":      {"max-table-entries", stopcheck.DefaultTableEntries, "7", 7},
	"CoreInstances":     {"max-core-instances", component.DefaultCoreInstances, "7", 7},
	"Stack":             {"max-stack", int64(stopcheck.DefaultStackBytes), "7MiB", int64(7 << 20)},
	"SendLinger":        {"send-linger", wasiio.DefaultSendLinger, "7s", 7 * time.Second},
	"UnsentBytes":       {"max-unsent-bytes", int64(wasiio.DefaultUnsentBytes), "7MiB", int64(7 << 20)},
	"PollSubscriptions": {"max-poll-subscriptions", runtime.DefaultPollSubscriptions, "7", 7},
}

// poolCaps names, for each budget of runtime.Config that the guests of
// a process share, its "wasitls run" flag.
var poolCaps = map[string]string{"SocketPool": "process-sockets", "LookupPool": "process-lookups"}

// heldTLS are the caps of tlshost.Config on what a guest makes the host
// hold, which the usage of "wasitls run" lists beside runtime.Limits'.
var heldTLS = []string{"Connections", "PendingHandshakes", "IdentityBytes", "PeerCertBytes", "ReadAheadBytes", "SettingsBytes", "SessionCacheSize"}

// tlsCaps names, for each field of tlshost.Config, its "wasitls run"
// flag and the default the flag shows, or, for a field that bounds
// nothing a guest makes the host hold, "" and why.
var tlsCaps = map[string]struct{ flag, def string }{
	"Connections":       {"max-tls-connections", strconv.Itoa(tlshost.DefaultConnections)},
	"PendingHandshakes": {"max-pending-handshakes", strconv.Itoa(tlshost.DefaultPendingHandshakes)},
	"IdentityBytes":     {"max-identity-bytes", strconv.Itoa(tlshost.DefaultIdentityBytes)},
	"PeerCertBytes":     {"max-peer-cert-bytes", strconv.Itoa(tlshost.DefaultPeerCertBytes)},
	"ReadAheadBytes":    {"max-read-ahead-bytes", strconv.Itoa(tlshost.DefaultReadAheadBytes)},
	"SettingsBytes":     {"max-tls-settings-bytes", strconv.Itoa(tlshost.DefaultSettingsBytes)},
	"HandshakeTimeout":  {"handshake-timeout", tlshost.DefaultHandshakeTimeout.String()},
	"SessionCacheSize":  {"session-cache-size", strconv.Itoa(tlshost.DefaultSessionCacheSize)},
	"TicketKeyRotation": {"ticket-key-rotation", tlshost.DefaultTicketKeyRotation.String()},
	"MaxPeerRSAKeyBits": {"max-peer-rsa-bits", strconv.Itoa(backends.DefaultMaxRSAKeyBits)},
	"KeyLogBytes":       {"max-keylog-bytes", strconv.Itoa(tlshost.DefaultKeyLogBytes)},

	"Backend":            {"", "a Go value: an embedder's own backend (--backend names a registered one)"},
	"BackendName":        {"", "--backend, a choice, not a cap"},
	"RootCAs":            {"", "--ca, a trust decision"},
	"ClientCAs":          {"", "--client-ca, a trust decision"},
	"InsecureSkipVerify": {"", "--insecure-skip-verify, a trust decision"},
	"Versions":           {"", "--versions, a ceiling on what guests choose"},
	"CipherSuites":       {"", "--cipher-suites, a ceiling on what guests choose"},
	"Groups":             {"", "--groups, a ceiling on what guests choose"},
	"Identities":         {"", "--identity, what the host holds, not the guest"},
	"Time":               {"", "a Go function, for tests"},
	"KeyLog":             {"", "--keylog, the host's debugging output"},
	"Logger":             {"", "--log-tls, the host's log"},
}

// capDocs returns README.md and docs/security.md, which name each cap's
// flag.
func capDocs(t *testing.T) (readme, security string) {
	t.Helper()
	r, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.ReadFile("../../docs/security.md")
	if err != nil {
		t.Fatal(err)
	}
	return string(r), string(s)
}

// runFlagSet returns the flags of "wasitls run" on limits and TLS, and
// what reads runtime.Limits from them once parsed.
func runFlagSet() (*flag.FlagSet, func() (runtime.Limits, error)) {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	limits := limitFlags(fs)
	poolFlags(fs)
	tlsRunFlags(fs)
	return fs, limits
}

// TestEveryCapHasAFlag: every field of runtime.Limits, and every cap of
// tlshost.Config, is a flag of "wasitls run" with a one-line usage that
// shows its default; the flag's default is the field's (a run without the
// flag gets it) and the flag sets the field; the usage of "wasitls run"
// lists the flags of what a guest makes the host hold; README.md names
// the flag, and docs/security.md names it with its field on one line. A cap
// added to either struct without a flag, or a flag missing from the
// docs, fails here.
func TestEveryCapHasAFlag(t *testing.T) {
	readme, security := capDocs(t)
	fs, readLimits := runFlagSet()
	defaults, err := readLimits()
	if err != nil {
		t.Fatal(err)
	}
	documented := func(flagName, field string) {
		t.Helper()
		f := fs.Lookup(flagName)
		if f == nil {
			t.Errorf("%s has no flag --%s", field, flagName)
			return
		}
		if f.Usage == "" || strings.Contains(f.Usage, "\n") {
			t.Errorf("--%s: usage %q, want one line", flagName, f.Usage)
		}
		if !strings.Contains(readme, "`--"+flagName+"`") && !strings.Contains(readme, "`--"+flagName+" ") {
			t.Errorf("README.md does not name --%s (%s)", flagName, field)
		}
		found := false
		for line := range strings.SplitSeq(security, "\n") {
			if strings.Contains(line, "`--"+flagName+"`") && strings.Contains(line, "`"+field+"`") {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("docs/security.md has no line naming both `--%s` and `%s`", flagName, field)
		}
	}

	lt := reflect.TypeFor[runtime.Limits]()
	for i := range lt.NumField() {
		name := lt.Field(i).Name
		c, ok := limitCaps[name]
		if !ok {
			t.Errorf("runtime.Limits.%s has no flag in this test's table: give it a flag of wasitls run (limitflags.go), then a row here", name)
			continue
		}
		documented(c.flag, "runtime.Limits."+name)
		if !strings.Contains(runUsage, "--"+c.flag+",") && !strings.Contains(runUsage, "--"+c.flag+")") {
			t.Errorf("wasitls run's usage does not list --%s among the limits", c.flag)
		}
		if got := reflect.ValueOf(defaults).Field(i).Interface(); got != c.def {
			t.Errorf("without --%s, runtime.Limits.%s = %v, want its default %v", c.flag, name, got, c.def)
		}
		fs, read := runFlagSet()
		if err := fs.Parse([]string{"--" + c.flag, c.arg}); err != nil {
			t.Errorf("--%s %s: %v", c.flag, c.arg, err)
			continue
		}
		l, err := read()
		if got := reflect.ValueOf(l).Field(i).Interface(); err != nil || got != c.want {
			t.Errorf("--%s %s: runtime.Limits.%s = %v, %v; want %v", c.flag, c.arg, name, got, err, c.want)
		}
	}
	for name := range limitCaps {
		if _, ok := lt.FieldByName(name); !ok {
			t.Errorf("this test's table names runtime.Limits.%s, which is no field", name)
		}
	}

	for name, flagName := range poolCaps {
		if _, ok := reflect.TypeFor[runtime.Config]().FieldByName(name); !ok {
			t.Errorf("this test's table names runtime.Config.%s, which is no field", name)
		}
		documented(flagName, "runtime.Config."+name)
		if !strings.Contains(runUsage, "--"+flagName+",") && !strings.Contains(runUsage, "--"+flagName+")") {
			t.Errorf("wasitls run's usage does not list --%s", flagName)
		}
	}

	ct := reflect.TypeFor[tlshost.Config]()
	for i := range ct.NumField() {
		name := ct.Field(i).Name
		c, ok := tlsCaps[name]
		switch {
		case !ok:
			t.Errorf("tlshost.Config.%s is not in this test's table: a cap needs a flag of wasitls run (tlsflags.go) and a row here; anything else, a row saying why not", name)
		case c.flag != "":
			documented(c.flag, "tlshost.Config."+name)
			if f := fs.Lookup(c.flag); f != nil && f.DefValue != c.def {
				t.Errorf("--%s shows the default %q, want tlshost's %q", c.flag, f.DefValue, c.def)
			}
		}
	}
	for _, name := range heldTLS {
		if c := tlsCaps[name]; !strings.Contains(runUsage, "--"+c.flag+",") {
			t.Errorf("wasitls run's usage does not list --%s among the limits", c.flag)
		}
	}
	for name := range tlsCaps {
		if _, ok := ct.FieldByName(name); !ok {
			t.Errorf("this test's table names tlshost.Config.%s, which is no field", name)
		}
	}
}

// TestDocumentedDefaults: the default each cap's flag shows is the one
// README.md quotes beside it ("`--max-handles` (262144", "`--session-cache-size
// 64`") and, where docs/security.md's tables give it a default column,
// the one quoted there, so that changing a default in the code without
// the docs (or the docs alone) fails here. TestEveryCapHasAFlag checks
// that the docs name each flag; this checks the figure they give.
func TestDocumentedDefaults(t *testing.T) {
	readme, security := capDocs(t)
	fs, _ := runFlagSet()
	var flags []string
	for _, c := range limitCaps {
		flags = append(flags, c.flag)
	}
	for _, c := range tlsCaps {
		if c.flag != "" {
			flags = append(flags, c.flag)
		}
	}
	// A quantity as the docs write it: 262144, 10,000,000, 4GiB, 16 MiB,
	// 30s, 30 s, 24h.
	quantity := regexp.MustCompile(`^(\d[\d,]*)\s?(GiB|MiB|KiB|ms|s|m|h)?\b`)
	value := func(s string) (float64, bool) {
		m := quantity.FindStringSubmatch(s)
		if m == nil {
			return 0, false
		}
		n, err := strconv.ParseFloat(strings.ReplaceAll(m[1], ",", ""), 64)
		if err != nil {
			return 0, false
		}
		unit := map[string]float64{"": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30,
			"ms": float64(time.Millisecond), "s": float64(time.Second), "m": float64(time.Minute), "h": float64(time.Hour)}[m[2]]
		return n * unit, true
	}
	text := strings.Join(strings.Fields(readme), " ") // README.md, its lines joined
	for _, name := range flags {
		f := fs.Lookup(name)
		if f == nil {
			t.Errorf("no flag --%s", name)
			continue
		}
		want, ok := value(f.DefValue)
		if d, err := time.ParseDuration(f.DefValue); err == nil {
			want, ok = float64(d), true
		}
		if !ok {
			t.Errorf("--%s: its default %q is no quantity", name, f.DefValue)
			continue
		}

		// README.md: "`--NAME` (VALUE" or "`--NAME VALUE`".
		quoted := ""
		if _, after, ok := strings.Cut(text, "`--"+name+"` ("); ok {
			quoted = strings.TrimPrefix(after, "default ")
		} else if _, after, ok := strings.Cut(text, "`--"+name+" "); ok {
			quoted = after
		}
		switch got, ok := value(quoted); {
		case quoted == "":
			t.Errorf("README.md quotes no default for --%s, as `--%s` (VALUE or `--%s VALUE`", name, name, name)
		case !ok || got != want:
			t.Errorf("README.md quotes --%s's default as %.20q, the flag's is %s", name, quoted, f.DefValue)
		}

		// docs/security.md: a table row whose flag column names it, in a
		// table with a default column.
		var header []string
		for line := range strings.SplitSeq(security, "\n") {
			switch {
			case strings.HasPrefix(line, "|---"):
				continue
			case !strings.HasPrefix(line, "| "):
				header = nil
				continue
			}
			cells := strings.Split(strings.Trim(line, "| "), " | ")
			if header == nil {
				header = cells
				continue
			}
			def := slices.Index(header, "default")
			if def < 0 || def+1 >= len(cells) || !strings.Contains(cells[def+1], "`--"+name+"`") {
				continue
			}
			// A row of two flags quotes their defaults in their order,
			// comma-separated.
			k := strings.Count(cells[def+1][:strings.Index(cells[def+1], "`--"+name+"`")], "`--")
			parts := strings.Split(cells[def], ", ")
			if k >= len(parts) {
				t.Errorf("docs/security.md: the row of --%s gives no default for it: %.40q", name, cells[def])
				continue
			}
			if got, ok := value(parts[k]); !ok || got != want {
				t.Errorf("docs/security.md quotes --%s's default as %.30q, the flag's is %s", name, parts[k], f.DefValue)
			}
		}
	}
}
