package tlshost

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/wasitls/wasitls/internal/capreport"
	"github.com/wasitls/wasitls/runtime"
)

// Settings bytes.
//
// A guest chooses the size of some of what the host keeps for each of its
// connections, from connect or accept until it drops the connection,
// established or not: the server name it connects to (connect, the
// draft's client-handshake), its ALPN IDs (configure-alpn-ids, up to
// 65,535 bytes of IDs on a server, 32,767 of them; 49,152 on a client),
// its protocol versions, cipher suites and groups (the
// configure-*-protocol-versions, -cipher-suites and -groups of the
// extensions, each code point at most once), its server identities
// (configure-server-identities, a list of borrowed handles as long as the
// guest likes, each a reference the host and the backend keep) and the
// identities a client answers a certificate request with
// (client-identity-request.respond, kept to answer a post-handshake
// request). Each was bounded alone, if at all: 32,767 one-byte ALPN IDs
// hold 512 KiB of string headers (and as much again in crypto/tls's
// copy), 2 GiB over the 4,096 sockets a guest has by default, and a list
// naming one identity a million times 8 MiB a connection (three times
// that once the handshake runs). So these settings are counted, per guest, every
// connection together: a call that would take the count past
// Config.SettingsBytes fails with an error naming the limit (wrapping
// ErrSettingsBytes), which the guest reads with client-last-error or
// server-last-error, and the setting stays as it was; a respond past it
// fails the handshake with that error. A setting that replaces another
// counts the difference. The bytes return when the guest drops the
// connection, and nothing more is kept for it: a respond after it (the
// request outlives a finished or aborted handshake) is refused.
//
// The count is of the host's own representation: a server name or an
// ALPN ID its bytes, an ALPN ID's string header settingsEntryBytes, a
// reference to an identity identityRefBytes, a code point 2 bytes. The
// backend's copy of the ALPN list (crypto/tls's NextProtos) shares the
// IDs' bytes and comes on top: 200 IDs of 255 bytes take about their
// count (TestGuestSettingsBytesLimit: 96 connections configuring them made
// the heap grow by 5.6 MiB, 1.7 MiB under a 1 MiB limit), one-byte IDs up
// to about twice it.
//
// What else a guest hands a connection is not kept or is bounded by the
// host: the exporter's label and context are used by the call and let go
// (its length is at most maxExport); resumption is on or off; trust
// anchors (RootCAs, ClientCAs) are the host's alone; the client's sessions
// are its peers' and bounded by Config.SessionCacheSize; a private
// identity's own bytes count against Config.IdentityBytes.

// DefaultSettingsBytes is the default of Config.SettingsBytes: 8 MiB,
// about 2 KiB for each of the 4,096 sockets a guest has by default, where
// an ordinary connection's settings (a server name, two or three ALPN IDs,
// an identity) take some 100 bytes; or some 120 servers accepting the
// most ALPN IDs they may (65,535 bytes, in IDs of 255 bytes), 160 clients
// offering the most they may (49,152 bytes), and 15 and 20 with one-byte
// IDs, whose string headers count too.
const DefaultSettingsBytes = 8 << 20

// ErrSettingsBytes is wrapped by the error of a call that failed because
// the settings of the guest's connections would take the host past
// Config.SettingsBytes.
var ErrSettingsBytes = errors.New("tlshost: settings bytes")

// settingsEntryBytes is what each ALPN ID counts beside its bytes: its
// string header.
const settingsEntryBytes = 16

// identityRefBytes is what each reference to an identity in a list
// setting counts: three pointers, the host's list, the configuration a
// server's handshake hands the backend, and the backend's own.
const identityRefBytes = 24

// A setting is one kind of setting a connection counts.
type setting int

const (
	settingServerName setting = iota
	settingALPN
	settingVersions
	settingCipherSuites
	settingGroups
	settingIdentities
	settingResponse
	settingKinds
)

type settingsBytesKey struct{ h *Host }

func (h *Host) settingsBytesLimit() int64 {
	if h.cfg.SettingsBytes > 0 {
		return int64(h.cfg.SettingsBytes)
	}
	return DefaultSettingsBytes
}

// settingsOf returns a new connection's share of the count of the guest
// of a host call (NewGuest made the count; a guest instantiated without
// that hook gets it on first use), or nil for a call outside any
// runtime.Guest, whose settings are not counted.
func (h *Host) settingsOf(ctx context.Context) *settingsHold {
	g := runtime.GuestFrom(ctx)
	if g == nil {
		return nil
	}
	return &settingsHold{b: guestValue(g, settingsBytesKey{h}, h.newSettingsBytes)}
}

// newSettingsBytes is a guest's count of settings bytes.
func (h *Host) newSettingsBytes(g *runtime.Guest) *byteBudget {
	return &byteBudget{limit: h.settingsBytesLimit(), caps: capreport.From(g), cap: capreport.SettingsBytes}
}

// A settingsHold is what one connection's settings count; nil counts
// nothing.
type settingsHold struct {
	b        *byteBudget
	mu       sync.Mutex
	n        [settingKinds]int64
	released bool
}

// set makes setting k count n bytes instead of what it counted, or fails
// naming the limit and leaves the count as it was. After release it fails
// with errClosed: what the caller would keep would count against nothing.
func (s *settingsHold) set(k setting, n int64) error {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.released {
		return errClosed
	}
	d := n - s.n[k]
	if used, ok := s.b.take(d); !ok {
		return fmt.Errorf("%w: the guest's TLS connections' settings (server names, ALPN IDs, protocol versions, cipher suites, groups, identities) would make the host hold %d bytes, more than the %d allowed (tlshost.Config.SettingsBytes, wasitls run --max-tls-settings-bytes)", ErrSettingsBytes, used, s.b.limit)
	}
	s.n[k] = n
	return nil
}

// release gives back what the connection's settings count; nothing
// counts after it.
func (s *settingsHold) release() {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.released {
		return
	}
	s.released = true
	var total int64
	for _, n := range s.n {
		total += n
	}
	s.b.give(total)
}

// alpnBytes is what ALPN IDs count.
func alpnBytes(ids [][]byte) int64 {
	n := int64(len(ids)) * settingsEntryBytes
	for _, id := range ids {
		n += int64(len(id))
	}
	return n
}
