package tlshost

import (
	"fmt"

	"github.com/wasitls/wasitls/backends"
)

// rules is what client and server sessions share about the guest's calls
// on a handshake before it ends: the configure-* calls, accepted while
// they can still take effect and only within the host's ceiling, and the
// ordering and at-most-once rules of the optional steps. It is the one
// place that enforces the ceiling (see ceiling).
//
// Its fields, and what opts points to, are guarded by e.d.mu.
type rules struct {
	side    string            // "client" or "server", as in the extension functions' names
	begin   string            // "connect" or "accept"
	e       *ending           // the session's
	opts    *backends.Options // the session's configuration, before the handshake runs
	ceiling ceiling

	// session's fixedLocked reports why the settings can no longer
	// change though the handshake is neither consumed nor closed, if they
	// cannot (client: the handshake started; server: the ClientHello hook
	// returned). An interface rather than a method value: no allocation
	// per connection.
	session interface{ fixedLocked(what string) error }

	begun bool // connect or accept was called

	// changed: a setting was applied since the backend's connection was
	// made (the server clears it then): the server's ClientHello hook
	// hands the backend a replacement configuration only if it is set.
	changed bool
}

func newRules(side, begin string, b backends.Backend, e *ending, opts *backends.Options, session interface{ fixedLocked(string) error }) rules {
	return rules{side: side, begin: begin, e: e, opts: opts, ceiling: newCeiling(b, opts), session: session}
}

// configurableLocked reports why the handshake can no longer be
// configured, if it cannot. d.mu must be held.
func (r *rules) configurableLocked(what string) error {
	switch {
	case r.e.closed:
		return errClosed
	case r.e.consumed:
		return fmt.Errorf("tlshost: %s: the handshake was already finished or aborted", what)
	}
	return r.session.fixedLocked(what)
}

// configure applies a setting, already validated, if the handshake may
// still be configured; the setting counts nothing against the guest's
// budget (configureCounted).
func (r *rules) configure(what string, set func()) error {
	return r.configureCounted(what, uncounted, 0, set)
}

// uncounted is the kind of a setting configure applies: one whose size
// the guest does not choose.
const uncounted setting = -1

// configureCounted is configure for a setting of kind k whose size the
// guest chooses: it counts n bytes, in place of what the kind counted,
// against the guest's budget (settingsbytes.go), or fails naming it.
func (r *rules) configureCounted(what string, k setting, n int64, set func()) error {
	r.e.d.mu.Lock()
	defer r.e.d.mu.Unlock()
	if err := r.configurableLocked(what); err != nil {
		return err
	}
	if k != uncounted {
		if err := r.e.settings.set(k, n); err != nil {
			return err
		}
	}
	set()
	r.changed = true
	return nil
}

// ConfigureALPN sets the ALPN IDs to offer (client) or accept (server), in
// preference order, within the bound of the side (see maxClientALPNBytes).
// The host sets no ALPN of its own: there is no ceiling.
func (r *rules) ConfigureALPN(ids [][]byte) error {
	alpn, err := alpnStrings(r.side, ids)
	if err != nil {
		return err
	}
	return r.configureCounted("configure-alpn-ids", settingALPN, alpnBytes(ids), func() { r.opts.ALPN = alpn })
}

// ConfigureVersions sets the protocol versions allowed, narrowed to the
// ceiling.
func (r *rules) ConfigureVersions(vs []uint16) error {
	what := "configure-" + r.side + "-protocol-versions"
	vs, err := checkVersions(vs)
	if err != nil {
		return fmt.Errorf("tlshost: %s: %w", what, err)
	}
	if vs, err = narrow(what, versionKind, vs, r.ceiling.versions); err != nil {
		return err
	}
	return r.configureCounted(what, settingVersions, 2*int64(len(vs)), func() { r.opts.Versions = vs })
}

// ConfigureCipherSuites sets the cipher suites allowed, in preference
// order, narrowed to the ceiling.
func (r *rules) ConfigureCipherSuites(cs []uint16) error {
	what := "configure-" + r.side + "-cipher-suites"
	cs, err := checkCodePoints(suiteKind, cs)
	if err != nil {
		return fmt.Errorf("tlshost: %s: %w", what, err)
	}
	if cs, err = narrow(what, suiteKind, cs, r.ceiling.cipherSuites); err != nil {
		return err
	}
	return r.configureCounted(what, settingCipherSuites, 2*int64(len(cs)), func() { r.opts.CipherSuites = cs })
}

// ConfigureGroups sets the key-exchange groups allowed, in preference
// order, narrowed to the ceiling. A client sends key shares for the first
// keyShares groups of the guest's list; those the ceiling drops lose their
// share, and when none is left the first remaining group gets one. A
// server passes keyShares 0.
func (r *rules) ConfigureGroups(gs []uint16, keyShares int) error {
	what := "configure-" + r.side + "-groups"
	gs, err := checkCodePoints(groupKind, gs)
	if err != nil {
		return fmt.Errorf("tlshost: %s: %w", what, err)
	}
	if r.side == "client" && (keyShares < 1 || keyShares > len(gs)) {
		return fmt.Errorf("tlshost: %s: key-shares is %d, want 1 to %d", what, keyShares, len(gs))
	}
	narrowed, err := narrow(what, groupKind, gs, r.ceiling.groups)
	if err != nil {
		return err
	}
	if keyShares > 0 {
		shared := 0
		for _, g := range gs[:keyShares] {
			if contains(narrowed, g) {
				shared++
			}
		}
		keyShares = max(shared, 1)
	}
	return r.configureCounted(what, settingGroups, 2*int64(len(narrowed)), func() { r.opts.Groups, r.opts.KeyShares = narrowed, keyShares })
}

// stepCheckLocked enforces the proposal's ordering and at-most-once rules
// for the optional step p, named what; called says whether the guest
// already took it. d.mu must be held.
func (r *rules) stepCheckLocked(what string, called bool, p step) error {
	switch {
	case r.e.closed:
		return errClosed
	case !r.begun:
		return fmt.Errorf("tlshost: %s: no handshake (call %s first)", what, r.begin)
	case r.e.consumed:
		return fmt.Errorf("tlshost: %s: the handshake was already finished or aborted", what)
	case called:
		return fmt.Errorf("tlshost: %s may be called at most once per handshake", what)
	case r.e.d.target >= p:
		return fmt.Errorf("tlshost: %s: the handshake has already progressed past this step", what)
	}
	return nil
}
