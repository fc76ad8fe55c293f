package bench

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/wasitls/wasitls/backends"
	_ "github.com/wasitls/wasitls/backends/circl-pq" // measured through wasi:tls
	_ "github.com/wasitls/wasitls/backends/stdtls"   // measured through wasi:tls
	"github.com/wasitls/wasitls/runtime/tlshost"
)

// Scenario names, for Options.Scenarios.
const (
	ScenarioBulk      = "bulk"
	ScenarioHandshake = "handshake"
	ScenarioEcho      = "echo"
	ScenarioIdle      = "idle"
)

// Scenarios lists every scenario in the order Run runs them.
var Scenarios = []string{ScenarioBulk, ScenarioHandshake, ScenarioEcho, ScenarioIdle}

// Termination checks (Options.Checks).
const (
	ChecksStopFlag = "stop-flag" // runtime.CompileModule under runtime.NewFastRuntimeConfig
	ChecksWazero   = "wazero"    // WithCloseOnContextDone(true)
	checksNone     = "none"
)

// Options select and size the scenarios. Zero fields take the defaults
// of DefaultOptions.
type Options struct {
	// Scenarios to run; empty means all.
	Scenarios []string
	// Backends measured through wasi:tls; empty means every registered
	// backend.
	Backends []string
	// Bytes is the bulk transfer size each way per subject; InGuestBytes
	// the (smaller) size for crypto/tls inside the guest, which is slow.
	Bytes, InGuestBytes int64
	// WriteSizes are the write (and read buffer) sizes of the bulk rows.
	WriteSizes []int
	// Groups are the key-exchange groups of the handshake rows; the bulk
	// and echo connections use the first.
	Groups []tls.CurveID
	// Handshakes per subject and group; InGuestHandshakes for crypto/tls
	// inside the guest.
	Handshakes, InGuestHandshakes int
	// Echoes is the number of one-byte round trips per subject.
	Echoes int
	// IdleConns is the number of idle connections a guest server holds;
	// NativeIdleConns the number the native baseline holds.
	IdleConns, NativeIdleConns int
	// NoTerminationChecks compiles the guests without any termination
	// check (WithCloseOnContextDone(false), no stop flag): a guest that
	// loops forever can then no longer be stopped by its context. It
	// measures what the checks cost, and overrides Checks.
	NoTerminationChecks bool
	// Checks is how guests are stopped when NoTerminationChecks is not
	// set: ChecksStopFlag (the default, as the wasitls command runs core
	// modules and components) or ChecksWazero (wazero's
	// WithCloseOnContextDone(true)); the component rows follow it too.
	Checks string
	// Peers are where the native end of the bulk, handshake and echo
	// scenarios runs (PeerInProcess, PeerSubprocess); empty means both.
	Peers []string
	// Progress, if set, receives a line per measurement as it starts.
	Progress io.Writer
}

// DefaultOptions are the sizes of the wasitls bench command.
func DefaultOptions() Options {
	return Options{
		Scenarios:         Scenarios,
		Backends:          backends.Names(),
		Bytes:             256 << 20,
		InGuestBytes:      32 << 20,
		WriteSizes:        []int{16 << 10, 64 << 10},
		Groups:            []tls.CurveID{tls.X25519MLKEM768, tls.X25519},
		Handshakes:        500,
		InGuestHandshakes: 100,
		Echoes:            20000,
		IdleConns:         10000,
		NativeIdleConns:   2000,
		Peers:             Peers,
	}
}

func (o Options) withDefaults() Options {
	d := DefaultOptions()
	if len(o.Scenarios) == 0 {
		o.Scenarios = d.Scenarios
	}
	if len(o.Backends) == 0 {
		o.Backends = d.Backends
	}
	if o.Bytes == 0 {
		o.Bytes = d.Bytes
	}
	if o.InGuestBytes == 0 {
		o.InGuestBytes = min(o.Bytes, d.InGuestBytes)
	}
	if len(o.WriteSizes) == 0 {
		o.WriteSizes = d.WriteSizes
	}
	if len(o.Groups) == 0 {
		o.Groups = d.Groups
	}
	if o.Handshakes == 0 {
		o.Handshakes = d.Handshakes
	}
	if o.InGuestHandshakes == 0 {
		o.InGuestHandshakes = min(o.Handshakes, d.InGuestHandshakes)
	}
	if o.Echoes == 0 {
		o.Echoes = d.Echoes
	}
	if o.IdleConns == 0 {
		o.IdleConns = d.IdleConns
	}
	if o.NativeIdleConns == 0 {
		o.NativeIdleConns = min(o.IdleConns, d.NativeIdleConns)
	}
	if len(o.Peers) == 0 {
		o.Peers = d.Peers
	}
	// Every run needs at least one handshake and round trip.
	o.Handshakes = max(o.Handshakes, rounds)
	o.InGuestHandshakes = max(o.InGuestHandshakes, rounds)
	o.Echoes = max(o.Echoes, rounds)
	return o
}

// Run builds the guest, runs the scenarios opts selects and returns the
// report. The caller must have called RunChildIfRequested at the start of
// the process when the idle scenario runs.
func Run(opts Options) (*Report, error) {
	opts = opts.withDefaults()
	for _, s := range opts.Scenarios {
		if !slices.Contains(Scenarios, s) {
			return nil, fmt.Errorf("bench: unknown scenario %q (have %v)", s, Scenarios)
		}
	}
	for _, b := range opts.Backends {
		if _, err := backends.ByName(b); err != nil {
			return nil, err
		}
	}
	for _, p := range opts.Peers {
		if !slices.Contains(Peers, p) {
			return nil, fmt.Errorf("bench: unknown peer place %q (have %v)", p, Peers)
		}
	}
	if opts.Checks != "" && opts.Checks != ChecksStopFlag && opts.Checks != ChecksWazero {
		return nil, fmt.Errorf("bench: unknown termination checks %q (want %q or %q)", opts.Checks, ChecksStopFlag, ChecksWazero)
	}
	e, err := newEnv()
	if err != nil {
		return nil, err
	}
	switch {
	case opts.NoTerminationChecks:
		e.checks = checksNone
	case opts.Checks == ChecksWazero:
		e.checks = ChecksWazero
	default:
		e.checks = ChecksStopFlag
	}
	defer e.close()
	r := &Report{Machine: ThisMachine(), Options: opts}
	if e.cErr != nil {
		r.Skipped = append(r.Skipped, "C GUEST ROWS SKIPPED: "+e.cErr.Error())
	}
	s := &suite{env: e, opts: opts, report: r}
	defer s.closePeer()
	for _, name := range opts.Scenarios {
		var err error
		if name == ScenarioIdle {
			err = s.idle()
		} else {
			for _, place := range opts.Peers {
				if err = s.usePeer(place); err != nil {
					break
				}
				switch name {
				case ScenarioBulk:
					err = s.bulk()
				case ScenarioHandshake:
					err = s.handshakes()
				case ScenarioEcho:
					err = s.echo()
				}
				if err != nil {
					break
				}
			}
		}
		if err != nil {
			return r, err
		}
	}
	return r, nil
}

type suite struct {
	env    *env
	opts   Options
	report *Report
	// place and peer are where the native end runs now; remote is the
	// subprocess peer once started.
	place  string
	peer   peer
	remote *remotePeer
}

func (s *suite) usePeer(place string) error {
	s.place = place
	if place == PeerInProcess {
		s.peer = localPeer{s.env}
		return nil
	}
	if s.remote == nil {
		p, err := startRemotePeer(s.env)
		if err != nil {
			return err
		}
		s.remote = p
	}
	s.peer = s.remote
	return nil
}

func (s *suite) closePeer() {
	if s.remote != nil {
		s.remote.close()
	}
}

// where names the peer's place in table titles.
func (s *suite) where() string {
	if s.place == PeerSubprocess {
		return "native peer in a subprocess"
	}
	return "native peer in-process"
}

func (s *suite) progress(format string, args ...any) {
	if s.opts.Progress != nil {
		fmt.Fprintf(s.opts.Progress, format+"\n", args...)
	}
}

// subjects lists native, each backend through wasi:tls, crypto/tls
// inside the guest, and the C guest on each backend (when it was built:
// its client, or its server in the server rows).
func (s *suite) subjects() []subject {
	out := []subject{nativeSubject()}
	for _, b := range s.opts.Backends {
		out = append(out, wasiSubject(b))
	}
	out = append(out, inGuestSubject(s.defaultBackend()))
	if s.env.cwasm != nil {
		for _, b := range s.opts.Backends {
			out = append(out, cSubject(b))
		}
	}
	return out
}

func (s *suite) defaultBackend() string {
	if slices.Contains(s.opts.Backends, tlshost.DefaultBackend) {
		return tlshost.DefaultBackend
	}
	return s.opts.Backends[0]
}

// rounds is how many slices each measurement is cut into. The subjects
// take turns slice by slice (A B C A B C ...), in rotating order, so that
// a change in the machine's load (other processes) affects each of them
// alike; each slice is one run, and the tables give the median of the
// runs and their spread.
const rounds = 8

// interleave calls measure(j, r) for each subject j in each round r, in
// rotating order, and returns each subject's time per round.
func interleave(subjects int, measure func(j, r int) (time.Duration, error)) ([][]time.Duration, error) {
	times := make([][]time.Duration, subjects)
	for j := range times {
		times[j] = make([]time.Duration, rounds)
	}
	for r := range rounds {
		for k := range subjects {
			j := (k + r) % subjects
			d, err := measure(j, r)
			if err != nil {
				return nil, err
			}
			times[j][r] = d
		}
	}
	return times, nil
}

// rates turns per-round times into per-round rates of units(r) per second
// (or, with perUnit, into microseconds per unit).
func rates(times []time.Duration, units func(r int) float64, perUnit bool) []float64 {
	out := make([]float64, len(times))
	for r, d := range times {
		if perUnit {
			out[r] = float64(d.Nanoseconds()) / 1e3 / units(r)
		} else {
			out[r] = units(r) / d.Seconds()
		}
	}
	return out
}

// share is round r's part of n.
func share(n int64, r int) int64 {
	if r == 0 {
		return n/rounds + n%rounds
	}
	return n / rounds
}

// openSessions connects every subject's client to its own native server
// at the current peer.
func (s *suite) openSessions(subs []subject) ([]*session, func(), error) {
	sessions := make([]*session, 0, len(subs))
	closeAll := func() {
		for _, sess := range sessions {
			sess.close()
		}
	}
	for _, sub := range subs {
		sess, err := s.env.openSession(s.peer, sub, s.opts.Groups[0])
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		sessions = append(sessions, sess)
	}
	return sessions, closeAll, nil
}

func (s *suite) bulk() error {
	subs := s.subjects()
	size := func(sub subject) int64 {
		if sub.impl == implGo {
			return s.opts.InGuestBytes
		}
		return s.opts.Bytes
	}
	s.progress("bulk: connecting %d subjects", len(subs))
	sessions, closeAll, err := s.openSessions(subs)
	if err != nil {
		return err
	}
	defer closeAll()
	for _, sess := range sessions {
		// Warm up: the first transfers of a connection grow buffers.
		if _, err := sess.upload(1<<20, 16<<10); err != nil {
			return err
		}
		if _, err := sess.download(1<<20, 16<<10); err != nil {
			return err
		}
	}
	for _, w := range s.opts.WriteSizes {
		for _, dir := range []string{"upload", "download"} {
			// The stricter of two targets: the first round's (0.8x, and
			// 0.9x with 64 KiB writes) and the later 0.85x in every row.
			target, minNative := "wasi:tls at least 0.85x native and 20x in-guest", 0.85
			if w >= 64<<10 {
				target, minNative = "wasi:tls at least 0.9x native and 20x in-guest", 0.9
			}
			arrow := map[string]string{"upload": "→", "download": "←"}[dir]
			t := &Table{Title: fmt.Sprintf("bulk %s, %s writes (guest %s native server), %s", dir, sizeName(w), arrow, s.where()),
				Unit: "MB/s", Target: target, MinVsNative: minNative, MinVsInGuest: 20,
				CTarget: "C guest at least 0.95x native", CMin: map[string]float64{}}
			for _, b := range s.opts.Backends {
				t.CMin[cSubject(b).name] = 0.95
			}
			s.progress("bulk: %s with %s writes, %d bytes per subject (%d in-guest), %s", dir, sizeName(w), s.opts.Bytes, s.opts.InGuestBytes, s.where())
			times, err := interleave(len(subs), func(j, r int) (time.Duration, error) {
				n := uint64(share(size(subs[j]), r))
				if dir == "upload" {
					return sessions[j].upload(n, w)
				}
				return sessions[j].download(n, w)
			})
			if err != nil {
				return err
			}
			for j, sub := range subs {
				t.addRuns(sub.name, rates(times[j], func(r int) float64 { return float64(share(size(sub), r)) / 1e6 }, false))
			}
			t.finish()
			s.report.Tables = append(s.report.Tables, t)
		}
	}
	return nil
}

func (s *suite) handshakes() error {
	count := func(sub subject) int {
		if sub.impl == implGo {
			return s.opts.InGuestHandshakes
		}
		return s.opts.Handshakes
	}
	for _, group := range s.opts.Groups {
		for _, side := range []string{"client", "server"} {
			subs := s.subjects()
			// The first round's target, stricter than the later 0.8x.
			t := &Table{
				Title:       fmt.Sprintf("full TLS 1.3 handshakes, %s, ECDSA P-256, subject as %s against native %s, %s", group, side, map[string]string{"client": "server", "server": "clients"}[side], s.where()),
				Unit:        "handshakes/s",
				Target:      "wasi:tls at least 0.85x native and 5x in-guest",
				MinVsNative: 0.85, MinVsInGuest: 5,
			}
			if side == "client" {
				t.CTarget, t.CMin = "C guest at least 0.95x native on stdtls", map[string]float64{cSubject("stdtls").name: 0.95}
				if group == tls.X25519MLKEM768 {
					t.CTarget += ", 1.0x on circl-pq"
					t.CMin[cSubject("circl-pq").name] = 1.0
				}
			} else {
				// The C guest's server (cguest/cserver.c) serves one
				// connection at a time, its handshake on its own call.
				t.CTarget, t.CMin = "C guest at least 0.9x native", map[string]float64{}
				for _, b := range s.opts.Backends {
					t.CMin[cSubject(b).name] = 0.9
				}
			}
			s.progress("handshakes: %s, subjects as %s, %d each (%d in-guest), %s", group, side, s.opts.Handshakes, s.opts.InGuestHandshakes, s.where())
			open := s.env.clientHandshaker
			if side == "server" {
				open = s.env.serverHandshaker
			}
			var hs []*handshaker
			closeAll := func() {
				for _, h := range hs {
					h.close()
				}
			}
			for _, sub := range subs {
				h, err := open(s.peer, sub, group)
				if err != nil {
					closeAll()
					return err
				}
				hs = append(hs, h)
				if _, err := h.run(max(2, count(sub)/20)); err != nil { // warm up
					closeAll()
					return err
				}
			}
			times, err := interleave(len(subs), func(j, r int) (time.Duration, error) {
				return hs[j].run(int(share(int64(count(subs[j])), r)))
			})
			closeAll()
			if err != nil {
				return err
			}
			for j, sub := range subs {
				t.addRuns(sub.name, rates(times[j], func(r int) float64 { return float64(share(int64(count(sub)), r)) }, false))
			}
			t.finish()
			s.report.Tables = append(s.report.Tables, t)
		}
	}
	return nil
}

func (s *suite) echo() error {
	t := &Table{Title: "1-byte echo round trip over an established connection (guest client, native server), " + s.where(),
		Unit: "µs/round trip", LowerIsBetter: true,
		Target: "wasi:tls at least 0.4x native", MinVsNative: 0.4}
	if s.place == PeerInProcess {
		t.CTarget, t.CMin = "C guest at least 0.6x native", map[string]float64{}
		for _, b := range s.opts.Backends {
			t.CMin[cSubject(b).name] = 0.6
		}
	}
	subs := s.subjects()
	s.progress("echo: %d round trips per subject, %s", s.opts.Echoes, s.where())
	sessions, closeAll, err := s.openSessions(subs)
	if err != nil {
		return err
	}
	defer closeAll()
	for _, sess := range sessions {
		if _, err := sess.echo(max(10, s.opts.Echoes/20)); err != nil {
			return err
		}
	}
	times, err := interleave(len(subs), func(j, r int) (time.Duration, error) {
		return sessions[j].echo(int(share(int64(s.opts.Echoes), r)))
	})
	if err != nil {
		return err
	}
	for j, sub := range subs {
		t.addRuns(sub.name, rates(times[j], func(r int) float64 { return float64(share(int64(s.opts.Echoes), r)) }, true))
	}
	t.finish()
	s.report.Tables = append(s.report.Tables, t)
	return nil
}

func (s *suite) idle() error {
	group := s.opts.Groups[0]
	subs := []subject{nativeSubject()}
	for _, b := range s.opts.Backends {
		subs = append(subs, wasiSubject(b))
	}
	for _, sub := range subs {
		n := s.opts.IdleConns
		if sub.native {
			n = s.opts.NativeIdleConns
		}
		s.progress("idle: %s holding %d connections", sub.name, n)
		res, err := s.env.idle(sub, n, group)
		if err != nil {
			return err
		}
		s.report.Idle = append(s.report.Idle, res)
	}
	if len(s.report.Idle) == 0 {
		return errors.New("bench: idle: nothing measured")
	}
	return nil
}
