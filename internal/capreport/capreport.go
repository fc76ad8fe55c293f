// Package capreport tells the operator which cap refused a guest's call,
// and which flag raises it. Many caps answer the guest with a generic
// error (temporary-resolver-failure, EDQUOT, a trap) that names no cap,
// and the embedder sees nothing: each guest has a Reporter, and the code
// that refuses a call past a cap calls Refused, which logs one record
// (level Warn) naming the cap's field, its flag of "wasitls run" and its
// value, the first time the guest crosses that cap. A guest hammering a
// cap costs one record and one bit: the caps a guest crossed are a fixed
// bitset.
package capreport

import (
	"log/slog"
	"sync/atomic"

	"github.com/wasitls/wasitls/internal/safelog"
)

// A Cap is one cap a Reporter reports.
type Cap uint8

// The caps routed through a Reporter: fields of runtime.Limits and of
// tlshost.Config, and the pools of runtime.Config that the guests of a
// process share.
const (
	MemoryPages Cap = iota
	Handles
	Sockets
	Files
	DiskBytes
	DiskFiles
	Datagram
	DatagramQueue
	DatagramBytes
	Lookups
	LookupGrants
	LookupAddrs
	NestedCalls
	Stack
	PendingHandshakes
	IdentityBytes
	PeerCertBytes
	ReadAheadBytes
	SettingsBytes
	UnsentBytes
	PollSubscriptions
	Connections
	SocketPool
	LookupPool
	numCaps
)

var names = [numCaps]struct{ field, flag string }{
	MemoryPages:       {"runtime.Limits.MemoryPages", "--max-memory"},
	Handles:           {"runtime.Limits.Handles", "--max-handles"},
	Sockets:           {"runtime.Limits.Sockets", "--max-sockets"},
	Files:             {"runtime.Limits.Files", "--max-files"},
	DiskBytes:         {"runtime.Limits.DiskBytes", "--max-disk-bytes"},
	DiskFiles:         {"runtime.Limits.DiskFiles", "--max-disk-files"},
	Datagram:          {"runtime.Limits.Datagram", "--max-datagram"},
	DatagramQueue:     {"runtime.Limits.DatagramQueue", "--max-datagram-queue"},
	DatagramBytes:     {"runtime.Limits.DatagramBytes", "--max-datagram-bytes"},
	Lookups:           {"runtime.Limits.Lookups", "--max-lookups"},
	LookupGrants:      {"runtime.Limits.LookupGrants", "--max-lookup-grants"},
	LookupAddrs:       {"runtime.Limits.LookupAddrs", "--max-lookup-addrs"},
	NestedCalls:       {"runtime.Limits.NestedCalls", "--max-nested-calls"},
	Stack:             {"runtime.Limits.Stack", "--max-stack"},
	PendingHandshakes: {"tlshost.Config.PendingHandshakes", "--max-pending-handshakes"},
	IdentityBytes:     {"tlshost.Config.IdentityBytes", "--max-identity-bytes"},
	PeerCertBytes:     {"tlshost.Config.PeerCertBytes", "--max-peer-cert-bytes"},
	ReadAheadBytes:    {"tlshost.Config.ReadAheadBytes", "--max-read-ahead-bytes"},
	SettingsBytes:     {"tlshost.Config.SettingsBytes", "--max-tls-settings-bytes"},
	UnsentBytes:       {"runtime.Limits.UnsentBytes", "--max-unsent-bytes"},
	PollSubscriptions: {"runtime.Limits.PollSubscriptions", "--max-poll-subscriptions"},
	Connections:       {"tlshost.Config.Connections", "--max-tls-connections"},
	SocketPool:        {"runtime.Config.SocketPool", "--process-sockets"},
	LookupPool:        {"runtime.Config.LookupPool", "--process-lookups"},
}

// The bitset of a Reporter holds every cap.
var _ [64 - numCaps]struct{}

// All returns every cap, in order.
func All() []Cap {
	all := make([]Cap, numCaps)
	for i := range all {
		all[i] = Cap(i)
	}
	return all
}

// Field is the cap's field, such as "runtime.Limits.Lookups".
func (c Cap) Field() string { return names[c].field }

// Flag is the cap's flag of "wasitls run", such as "--max-lookups".
func (c Cap) Flag() string { return names[c].flag }

// Message is the message of a Reporter's records.
const Message = "runtime: a guest reached a cap; raise it if the guest needs more"

// A Reporter logs, once per cap, that a cap refused one guest's call. Its
// methods are safe for concurrent use, and on a nil Reporter do nothing.
type Reporter struct {
	log   *slog.Logger
	attrs []any
	seen  atomic.Uint64 // bit c: cap c was reported
}

// New returns the Reporter of one guest, logging to log (nil:
// slog.Default()) with attrs, which name the guest.
func New(log *slog.Logger, attrs ...any) *Reporter {
	return &Reporter{log: safelog.OrDefault(log), attrs: attrs}
}

// Refused reports that c, whose value is value, refused a call of the
// guest: the first time for c, it logs a record naming c's field, flag
// and value, and the guest. A panic of the logger is recovered
// (safelog.Log): the record is lost, and no other is tried.
func (r *Reporter) Refused(c Cap, value any) {
	if r == nil || c >= numCaps {
		return
	}
	bit := uint64(1) << c
	if r.seen.Load()&bit != 0 || r.seen.Or(bit)&bit != 0 {
		return
	}
	args := append([]any{"cap", c.Field(), "flag", c.Flag(), "value", value}, r.attrs...)
	safelog.Log(r.log, slog.LevelWarn, Message, args...)
}

// key is the key of a guest's Reporter among its values
// (runtime.Guest.SetValue).
type key struct{}

// Key is the key under which the runtime keeps a guest's Reporter with
// its values, for extensions (From).
var Key any = key{}

// From returns the Reporter a guest keeps under Key, or nil.
func From(g interface{ Value(key any) any }) *Reporter {
	if g == nil {
		return nil
	}
	r, _ := g.Value(Key).(*Reporter)
	return r
}
