package wasiio

import (
	"io"
	"net"
	"testing"
	"time"
)

// TestTransportCloseEndsRead: a transport over a socket's streams is
// closed while a Read of it waits for a peer that sends nothing, the
// guest's tcp-socket still holding the socket (closing the streams leaves
// it open). The Read returns, as a net.Conn's Close promises: with inline
// streams (a socket that can be non-blocking) and with goroutine streams
// (one that cannot, as where the platform does not allow it), whose
// transport reads the socket directly. Before, the latter's Read went on
// until the peer sent something or the socket closed.
func TestTransportCloseEndsRead(t *testing.T) {
	for _, tc := range []struct {
		name string
		conn func(*net.TCPConn) net.Conn
	}{
		{"inline", func(c *net.TCPConn) net.Conn { return c }},
		{"goroutine", func(c *net.TCPConn) net.Conn { return struct{ net.Conn }{c} }}, // no syscall.Conn
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, _ := silentPair(t)
			in, out, _ := SocketStreams(tc.conn(a), io.NopCloser(nil), func() error { return nil })
			tr, err := Transport(in, out)
			if err != nil {
				t.Fatal(err)
			}
			read := make(chan error, 1)
			go func() {
				_, err := tr.Read(make([]byte, 10))
				read <- err
			}()
			time.Sleep(20 * time.Millisecond) // the Read waits, most likely; either way it must end
			tr.Close()
			select {
			case err := <-read:
				if err == nil {
					t.Fatal("the Read returned no error after Close")
				}
			case <-time.After(10 * time.Second): // a hang guard only
				t.Fatal("the Read still waits after the transport closed")
			}
			if _, err := tr.Read(make([]byte, 10)); err == nil {
				t.Fatal("a Read after Close returned no error")
			}
		})
	}
}
