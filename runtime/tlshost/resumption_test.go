package tlshost

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/backends/stdtls"
)

// TestTicketKeys: a key seals for one rotation and opens for two; at most
// two keys are held; a host idle for long starts over with one key.
func TestTicketKeys(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	k := newTicketKeys(time.Hour, func() time.Time { return now })
	first := k.current()
	if len(first) != 1 {
		t.Fatalf("%d keys at first", len(first))
	}
	for _, step := range []struct {
		advance time.Duration
		want    int  // keys held
		fresh   bool // a new key seals
	}{
		{30 * time.Minute, 1, false},
		{40 * time.Minute, 2, true},  // 70 min: a second seals, the first opens only
		{40 * time.Minute, 2, false}, // 110 min
		{15 * time.Minute, 1, false}, // 125 min: the first is past two rotations
		{10 * time.Minute, 2, true},  // 135 min: a third seals, the second opens
		{10 * time.Hour, 1, true},    // idle: the old ones are gone
	} {
		prev := k.current()
		now = now.Add(step.advance)
		got := k.current()
		if len(got) != step.want || (got[0] != prev[0]) != step.fresh {
			t.Fatalf("after %v: %d keys (want %d), new sealing key %v (want %v)", step.advance, len(got), step.want, got[0] != prev[0], step.fresh)
		}
		if len(got) == 2 && got[1] != prev[0] && got[1] != prev[len(prev)-1] {
			t.Fatalf("after %v: the opening key is not one held before", step.advance)
		}
	}
}

// TestTicketKeysLongRotation: a rotation so long that two of them
// overflow a time.Duration (--ticket-key-rotation 2000000h) keeps its key,
// as any long rotation does. Before, the doubled rotation wrapped
// negative, every key was dropped as it was made, and servers issued no
// tickets: resumption off, by a setting meaning the opposite.
func TestTicketKeysLongRotation(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	for _, rotation := range []time.Duration{100_000 * time.Hour, 2_000_000 * time.Hour, math.MaxInt64} {
		k := newTicketKeys(rotation, func() time.Time { return now })
		first := k.current()
		if len(first) != 1 {
			t.Fatalf("rotation %v: %d keys at first, want 1", rotation, len(first))
		}
		if got := k.current(); len(got) != 1 || got[0] != first[0] {
			t.Errorf("rotation %v: the next call holds %d keys, the first one %v; want it alone", rotation, len(got), len(got) > 0 && got[0] == first[0])
		}
	}
}

// TestConfigureResumption: the guest turns resumption off and back on
// before the handshake starts; it cannot turn on what the host keeps off,
// nor change it once the handshake started.
func TestConfigureResumption(t *testing.T) {
	cache := backends.NewLRUSessionCache(1)
	s := newClientSession(stdtls.Backend{}, backends.ClientConfig{Sessions: cache}, newPipe(t))
	if err := s.Connect("localhost"); err != nil {
		t.Fatal(err)
	}
	for _, on := range []bool{false, true} {
		if err := s.ConfigureResumption(on); err != nil {
			t.Fatal(err)
		}
		if (s.cfg.Sessions != nil) != on {
			t.Fatalf("resumption %v: Sessions %v", on, s.cfg.Sessions)
		}
	}
	if _, err := s.VerifyServerIdentity(); err != nil { // starts the handshake
		t.Fatal(err)
	}
	if err := s.ConfigureResumption(false); err == nil || !strings.Contains(err.Error(), "already started") {
		t.Errorf("after the start: %v", err)
	}
	s.Close()

	off := newClientSession(stdtls.Backend{}, backends.ClientConfig{}, newPipe(t))
	off.Connect("localhost")
	if err := off.ConfigureResumption(true); !errors.Is(err, errNoResumption) {
		t.Errorf("client, host off: %v", err)
	}
	if err := off.ConfigureResumption(false); err != nil {
		t.Errorf("client, host off, turning off: %v", err)
	}
	off.Close()
	srv := newServerSession(stdtls.Backend{}, backends.ServerConfig{}, newPipe(t))
	srv.Accept()
	if err := srv.ConfigureResumption(true); !errors.Is(err, errNoResumption) {
		t.Errorf("server, host off: %v", err)
	}
	srv.Close()
}
