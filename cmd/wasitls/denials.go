package main

import (
	"fmt"
	"io"
	"sync"

	"github.com/wasitls/wasitls/runtime/sockets"
)

// maxDenialNotes bounds the notes one run prints, so that a guest retrying
// in a loop, or walking addresses, cannot flood stderr or grow the set of
// notes already printed.
const maxDenialNotes = 20

// denialNotes returns a sockets.Policy OnDeny function that tells the user,
// on stderr, which access the network policy refused and the flag that
// allows it: the guest itself only sees access-denied. Each distinct note is
// printed once, and at most maxDenialNotes of them.
func denialNotes(stderr io.Writer) func(sockets.Denial) {
	var mu sync.Mutex
	seen := map[string]bool{}
	return func(d sockets.Denial) {
		note := denialNote(d)
		mu.Lock()
		defer mu.Unlock()
		if seen[note] || len(seen) > maxDenialNotes {
			return
		}
		seen[note] = true
		if len(seen) > maxDenialNotes {
			fmt.Fprintf(stderr, "wasitls: the network policy denied more; no further denials are reported\n")
			return
		}
		fmt.Fprintf(stderr, "wasitls: %s\n", note)
	}
}

// denialNote says what was denied and which flag would allow it.
func denialNote(d sockets.Denial) string {
	switch d.Op {
	case sockets.DenyResolve:
		note := fmt.Sprintf("the network policy denied looking up %q: allow connecting to it with --allow-connect %s:PORT", d.Name, d.Name)
		if d.Name == "localhost" {
			// Most often a guest listening on it, which --allow-listen,
			// taking addresses only, cannot allow.
			note += "; a guest listening on localhost looks it up too: listen on 127.0.0.1:PORT or [::1]:PORT, which --allow-listen allows, or allow the lookup"
		}
		return note
	case sockets.DenyConnect:
		if d.Name != "" {
			return fmt.Sprintf("the network policy denied connecting to %s, which the lookup of %q returned: a wildcard rule (*.DOMAIN, *) grants no loopback, link-local or unspecified address, nor an IPv6 one that embeds an IPv4 address (NAT64, SIIT, 6to4, Teredo); allow it with --allow-connect %s:%d (that name) or --allow-connect %s (that address)",
				d.Addr, d.Name, d.Name, d.Addr.Port(), d.Addr)
		}
		return fmt.Sprintf("the network policy denied connecting to %s: allow it with --allow-connect %s", d.Addr, d.Addr)
	case sockets.DenyListen:
		return fmt.Sprintf("the network policy denied binding to %s: allow it with --allow-listen %s", d.Addr, d.Addr)
	case sockets.DenyUDP:
		return fmt.Sprintf("the network policy denied sending UDP datagrams to %s: allow it with --allow-udp %s", d.Addr, d.Addr)
	case sockets.DenyUDPBind:
		return fmt.Sprintf("the network policy denied binding a UDP socket to %s: a guest may use UDP only with --allow-udp ADDR:PORT naming its peers", d.Addr)
	}
	return fmt.Sprintf("the network policy denied %s %s%s", d.Op, d.Name, d.Addr)
}
