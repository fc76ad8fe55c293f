package main

import (
	"reflect"
	"strings"
	"testing"

	"github.com/wasitls/wasitls/internal/capreport"
	"github.com/wasitls/wasitls/runtime"
	"github.com/wasitls/wasitls/runtime/tlshost"
)

// unreported are the caps of runtime.Limits and tlshost.Config (with a
// flag, in limitCaps and tlsCaps) that do not log through
// capreport, and why: each already tells the guest and the embedder, or
// refuses nothing.
var unreported = map[string]string{
	"runtime.Limits.TableEntries":      "applied when the module is compiled: wazero refuses table.grow past it with no host code run, and Instantiate refuses a module whose tables start above it, naming it",
	"runtime.Limits.CoreInstances":     "InstantiateComponent refuses the component, naming it",
	"runtime.Limits.SendLinger":        "bounds how long the host delivers what a dropped stream holds: no call of the guest is refused",
	"tlshost.Config.HandshakeTimeout":  "bounds a wait: the guest reads the timeout's error, and tlshost.Config.Logger gets the failure",
	"tlshost.Config.SessionCacheSize":  "an LRU cache: a full one forgets its oldest session, refusing nothing",
	"tlshost.Config.TicketKeyRotation": "a period, not something the guest makes the host hold",
	"tlshost.Config.KeyLogBytes":       "the host's key log, no guest's: past it lines are dropped, no call refused, and tlshost.Config.Logger gets one warning naming the field and the flag",
	"tlshost.Config.MaxPeerRSAKeyBits": "the peer's key, not the guest's: the handshake fails with an error the guest reads, and tlshost.Config.Logger gets the failure",
}

// TestEveryCapReports: every cap of runtime.Limits and tlshost.Config
// that TestEveryCapHasAFlag walks logs, through capreport, with its field
// and its flag, or is in unreported with why not. A cap added without
// either fails here.
func TestEveryCapReports(t *testing.T) {
	byField := map[string]capreport.Cap{}
	for _, c := range capreport.All() {
		byField[c.Field()] = c
	}
	check := func(field, flag string) {
		t.Helper()
		c, ok := byField[field]
		_, skipped := unreported[field]
		switch {
		case ok && skipped:
			t.Errorf("%s is reported and in unreported", field)
		case !ok && !skipped:
			t.Errorf("%s does not report the guests it stops (capreport), nor says why not (unreported)", field)
		case ok && c.Flag() != "--"+flag:
			t.Errorf("capreport names %s's flag %s, want --%s", field, c.Flag(), flag)
		}
		delete(byField, field)
	}
	for f := range reflect.TypeFor[runtime.Limits]().Fields() {
		check("runtime.Limits."+f.Name, limitCaps[f.Name].flag)
	}
	for f := range reflect.TypeFor[tlshost.Config]().Fields() {
		if c := tlsCaps[f.Name]; c.flag != "" {
			check("tlshost.Config."+f.Name, c.flag)
		}
	}
	for name, flag := range poolCaps {
		check("runtime.Config."+name, flag)
	}
	for field := range byField {
		t.Errorf("capreport reports %s, which is no cap of runtime.Limits, runtime.Config or tlshost.Config with a flag", field)
	}
	for field := range unreported {
		if !strings.HasPrefix(field, "runtime.Limits.") && !strings.HasPrefix(field, "tlshost.Config.") {
			t.Errorf("unreported names %s", field)
		}
	}
}

// TestRunReportsCaps: wasitls run logs to its stderr one record for a cap
// a guest crossed, naming its flag: --max-sockets, crossed twice (a guest
// can read new-socket-limit, but the operator saw nothing), and
// --max-stack, whose trap names it too; none for a guest under its caps.
func TestRunReportsCaps(t *testing.T) {
	hog := wasmFile(t, "../../runtime/testdata/hog")
	records := func(stderr string) (lines []string) {
		for line := range strings.SplitSeq(stderr, "\n") {
			if strings.Contains(line, capreport.Message) {
				lines = append(lines, line)
			}
		}
		return lines
	}
	code, stdout, stderr := runCLI(t, "--max-sockets", "3", hog, "sockets", "3")
	if code != 0 || stdout != "sockets 3\n" || len(records(stderr)) != 0 {
		t.Errorf("under --max-sockets 3: code %d, stdout %q, stderr %q; want no record", code, stdout, stderr)
	}
	code, stdout, stderr = runCLI(t, "--max-sockets", "3", hog, "sockets", "100")
	if r := records(stderr); code != 0 || !strings.Contains(stderr, "again: error") || len(r) != 1 ||
		!strings.Contains(r[0], "level=WARN") || !strings.Contains(r[0], "cap=runtime.Limits.Sockets flag=--max-sockets value=3") {
		t.Errorf("past --max-sockets 3 twice: code %d, stdout %q, stderr %q; want one record naming the flag", code, stdout, stderr)
	}
	code, _, stderr = runCLI(t, "--max-stack", "4MiB", hog, "recurse", "100000")
	if r := records(stderr); code != 1 || len(r) != 1 || !strings.Contains(r[0], "cap=runtime.Limits.Stack flag=--max-stack value=4194304") {
		t.Errorf("past --max-stack 4MiB: code %d, stderr %q; want one record naming the flag", code, stderr)
	}
}
