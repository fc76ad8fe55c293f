package runtime_test

import (
	"encoding/binary"
	"testing"

	"github.com/wasitls/wasitls/runtime"
)

// TestPreview1NoSockets: wasi_snapshot_preview1's socket functions reach
// no socket. The runtime preopens none, so sock_accept, sock_recv,
// sock_send and sock_shutdown on every descriptor a guest has (the
// standard streams, a preopened directory) and past them answer an errno
// and write nothing, whatever the network policy allows through
// wasi:sockets.
func TestPreview1NoSockets(t *testing.T) {
	network := policy(t, []string{"127.0.0.1:*"}, []string{"127.0.0.1:*", "0.0.0.0:*"})
	inst := forwarder(t, runtime.Config{Network: network}, runtime.ModuleConfig{Dirs: []runtime.Dir{{Host: t.TempDir(), Guest: "/d"}}},
		"sock_accept", "sock_recv", "sock_send", "sock_shutdown")
	mem := inst.Module().Memory()
	// An iovec at 0 of 16 bytes at 64; results at 128 and 132, marked.
	iov := make([]byte, 8)
	binary.LittleEndian.PutUint32(iov, 64)
	binary.LittleEndian.PutUint32(iov[4:], 16)
	mem.Write(0, iov)
	const mark = 0xdeadbeef
	for fd := uint64(0); fd < 8; fd++ {
		for _, c := range []struct {
			fn   string
			args []uint64
		}{
			{"sock_accept", []uint64{fd, 0, 128}},
			{"sock_recv", []uint64{fd, 0, 1, 0, 128, 132}},
			{"sock_send", []uint64{fd, 0, 1, 0, 128}},
			{"sock_shutdown", []uint64{fd, 3}},
		} {
			mem.WriteUint32Le(128, mark)
			mem.WriteUint32Le(132, mark)
			res, err := inst.Module().ExportedFunction(c.fn).Call(inst.Context(), c.args...)
			if err != nil {
				t.Fatalf("%s(%d): %v", c.fn, fd, err)
			}
			a, _ := mem.ReadUint32Le(128)
			b, _ := mem.ReadUint32Le(132)
			if res[0] == 0 || a != mark || b != mark {
				t.Errorf("%s(%d): errno %d, results %#x %#x; want an errno and nothing written", c.fn, fd, res[0], a, b)
			}
		}
	}
}
