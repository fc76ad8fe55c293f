package bench

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Peer places, for Options.Peers: where the native servers and clients
// the subjects talk to run.
const (
	// PeerInProcess runs them in the benchmark's process, beside the
	// subjects: the host's overhead shows undiluted.
	PeerInProcess = "in-process"
	// PeerSubprocess runs them in a child process (the benchmark's
	// executable started again), as in any real deployment: what users
	// feel, kernel wake-ups included.
	PeerSubprocess = "subprocess"
)

// Peers lists the peer places in the order Run measures them.
var Peers = []string{PeerInProcess, PeerSubprocess}

// A peer runs the native end of the scenarios: the protocol server of the
// bulk and echo scenarios, the handshake server, and the native clients
// of the handshakes against a guest server.
type peer interface {
	// listen starts a protocol server for one session; accept waits for
	// the client's connection and handshake, abort gives up before.
	listen(group tls.CurveID) (addr string, accept func() (conductor, error), abort func(), err error)
	// server starts a handshake server: per connection, handshake, one
	// byte, hold until the client closes; with group 0, the same with no
	// TLS.
	server(group tls.CurveID) (addr string, stop func() error, err error)
	// handshakes runs n full handshakes from native clients to addr;
	// with group 0, n plain TCP connections (connect, one byte, close).
	handshakes(addr string, group tls.CurveID, n int) (time.Duration, error)
}

// A conductor is the server end of one protocol session: each command
// returns the time from sending it to its completion.
type conductor interface {
	upload(n uint64, w int) (time.Duration, error)
	download(n uint64, w int) (time.Duration, error)
	echo(n int) (time.Duration, error)
	quit() error
}

// localPeer runs the native end in this process.
type localPeer struct{ e *env }

func (p localPeer) listen(group tls.CurveID) (string, func() (conductor, error), func(), error) {
	ln, err := listenTLS(p.e.serverConfig(group))
	if err != nil {
		return "", nil, nil, err
	}
	accept := func() (conductor, error) {
		defer ln.Close()
		d, err := acceptDriver(ln, 60*time.Second)
		if err != nil {
			return nil, err
		}
		return d, nil
	}
	return ln.Addr().String(), accept, func() { ln.Close() }, nil
}

func (p localPeer) server(group tls.CurveID) (string, func() error, error) {
	return nativeServer(p.e.serverConfigOrTCP(group))
}

func (p localPeer) handshakes(addr string, group tls.CurveID, n int) (time.Duration, error) {
	return nativeHandshakes(addr, p.e.clientConfigOrTCP(group), n)
}

// The child process of a subprocess peer is this executable with peerEnv
// set; it reads the PKI from the other variables.
const (
	peerEnv      = "WASITLS_BENCH_PEER"
	peerKeyEnv   = "WASITLS_BENCH_PEER_KEY"
	peerChainEnv = "WASITLS_BENCH_PEER_CHAIN"
	peerCAEnv    = "WASITLS_BENCH_PEER_CA"
)

// remotePeer runs the native end in a child process, driven by one
// command per line on its stdin, answered by one line on its stdout:
//
//	listen GROUP            ok ID ADDR   a protocol server for one session
//	accept ID               ok           its client connected
//	upload|download ID N W  ok NANOS     a protocol command
//	echo ID N               ok NANOS
//	quit ID                 ok
//	server GROUP            ok ID ADDR   a handshake server
//	close ID                ok           stop it
//	handshakes ADDR GROUP N ok NANOS     N native client handshakes
//
// A failure answers "error: ...".
type remotePeer struct {
	mu    sync.Mutex
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
}

func startRemotePeer(e *env) (*remotePeer, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), peerEnv+"=1",
		peerKeyEnv+"="+string(e.leaf.KeyPEM()), peerChainEnv+"="+string(e.leaf.ChainPEM()),
		peerCAEnv+"="+string(e.ca.CertPEM()))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &remotePeer{cmd: cmd, stdin: stdin, out: bufio.NewReader(stdout)}
	if _, err := p.call("ping"); err != nil {
		p.close()
		return nil, err
	}
	return p, nil
}

// call sends one command and returns the fields of the answer after "ok".
func (p *remotePeer) call(format string, args ...any) ([]string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, err := fmt.Fprintf(p.stdin, format+"\n", args...); err != nil {
		return nil, fmt.Errorf("bench: peer process: %w", err)
	}
	line, err := p.out.ReadString('\n')
	if err != nil {
		return nil, fmt.Errorf("bench: peer process: %w", err)
	}
	line = strings.TrimSpace(line)
	if rest, ok := strings.CutPrefix(line, "ok"); ok {
		return strings.Fields(rest), nil
	}
	return nil, fmt.Errorf("bench: peer process: %s", line)
}

func (p *remotePeer) nanos(format string, args ...any) (time.Duration, error) {
	f, err := p.call(format, args...)
	if err != nil {
		return 0, err
	}
	if len(f) != 1 {
		return 0, fmt.Errorf("bench: peer process answered %q", f)
	}
	ns, err := strconv.ParseInt(f[0], 10, 64)
	return time.Duration(ns), err
}

func (p *remotePeer) close() error {
	p.stdin.Close()
	return p.cmd.Wait()
}

func (p *remotePeer) listen(group tls.CurveID) (string, func() (conductor, error), func(), error) {
	f, err := p.call("listen %d", uint16(group))
	if err != nil {
		return "", nil, nil, err
	}
	if len(f) != 2 {
		return "", nil, nil, fmt.Errorf("bench: peer process answered %q", f)
	}
	id := f[0]
	accept := func() (conductor, error) {
		if _, err := p.call("accept %s", id); err != nil {
			return nil, err
		}
		return remoteConductor{p, id}, nil
	}
	abort := func() { p.call("accept %s", id) } // times out in the child
	return f[1], accept, abort, nil
}

func (p *remotePeer) server(group tls.CurveID) (string, func() error, error) {
	f, err := p.call("server %d", uint16(group))
	if err != nil {
		return "", nil, err
	}
	if len(f) != 2 {
		return "", nil, fmt.Errorf("bench: peer process answered %q", f)
	}
	stop := func() error {
		_, err := p.call("close %s", f[0])
		return err
	}
	return f[1], stop, nil
}

func (p *remotePeer) handshakes(addr string, group tls.CurveID, n int) (time.Duration, error) {
	return p.nanos("handshakes %s %d %d", addr, uint16(group), n)
}

type remoteConductor struct {
	p  *remotePeer
	id string
}

func (c remoteConductor) upload(n uint64, w int) (time.Duration, error) {
	return c.p.nanos("upload %s %d %d", c.id, n, w)
}

func (c remoteConductor) download(n uint64, w int) (time.Duration, error) {
	return c.p.nanos("download %s %d %d", c.id, n, w)
}

func (c remoteConductor) echo(n int) (time.Duration, error) {
	return c.p.nanos("echo %s %d", c.id, n)
}

func (c remoteConductor) quit() error {
	_, err := c.p.call("quit %s", c.id)
	return err
}

// runPeer is the child's side: it serves the commands of remotePeer.
func runPeer(stdin io.Reader, stdout io.Writer) error {
	cert, err := tls.X509KeyPair([]byte(os.Getenv(peerChainEnv)), []byte(os.Getenv(peerKeyEnv)))
	if err != nil {
		return err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM([]byte(os.Getenv(peerCAEnv))) {
		return errors.New("bench: peer: no CA certificate")
	}
	e := &env{cert: cert, roots: roots}
	type pending struct {
		ch chan struct {
			d   *driver
			err error
		}
	}
	var (
		next     int
		accepts  = map[string]pending{}
		sessions = map[string]*driver{}
		servers  = map[string]func() error{}
	)
	in := bufio.NewScanner(stdin)
	for in.Scan() {
		f := strings.Fields(in.Text())
		if len(f) == 0 {
			continue
		}
		num := func(i int) int64 {
			if i >= len(f) {
				return -1
			}
			v, err := strconv.ParseInt(f[i], 10, 64)
			if err != nil {
				return -1
			}
			return v
		}
		answer, err := func() (string, error) {
			switch f[0] {
			case "ping":
				return "", nil
			case "listen", "server":
				group := tls.CurveID(num(1))
				next++
				id := strconv.Itoa(next)
				if f[0] == "server" {
					addr, stop, err := nativeServer(e.serverConfigOrTCP(group))
					if err != nil {
						return "", err
					}
					servers[id] = stop
					return id + " " + addr, nil
				}
				ln, err := listenTLS(e.serverConfig(group))
				if err != nil {
					return "", err
				}
				p := pending{make(chan struct {
					d   *driver
					err error
				}, 1)}
				go func() {
					d, err := acceptDriver(ln, 60*time.Second)
					ln.Close()
					p.ch <- struct {
						d   *driver
						err error
					}{d, err}
				}()
				accepts[id] = p
				return id + " " + ln.Addr().String(), nil
			case "accept":
				p, ok := accepts[f[1]]
				if !ok {
					return "", fmt.Errorf("no listener %s", f[1])
				}
				delete(accepts, f[1])
				r := <-p.ch
				if r.err != nil {
					return "", r.err
				}
				sessions[f[1]] = r.d
				return "", nil
			case "upload", "download", "echo", "quit":
				d, ok := sessions[f[1]]
				if !ok {
					return "", fmt.Errorf("no session %s", f[1])
				}
				var t time.Duration
				var err error
				switch f[0] {
				case "upload":
					t, err = d.upload(uint64(num(2)), int(num(3)))
				case "download":
					t, err = d.download(uint64(num(2)), int(num(3)))
				case "echo":
					t, err = d.echo(int(num(2)))
				case "quit":
					delete(sessions, f[1])
					return "", d.quit()
				}
				return strconv.FormatInt(t.Nanoseconds(), 10), err
			case "close":
				stop, ok := servers[f[1]]
				if !ok {
					return "", fmt.Errorf("no server %s", f[1])
				}
				delete(servers, f[1])
				return "", stop()
			case "handshakes":
				t, err := nativeHandshakes(f[1], e.clientConfigOrTCP(tls.CurveID(num(2))), int(num(3)))
				return strconv.FormatInt(t.Nanoseconds(), 10), err
			}
			return "", fmt.Errorf("unknown command %q", f[0])
		}()
		if err != nil {
			fmt.Fprintf(stdout, "error: %v\n", strings.ReplaceAll(err.Error(), "\n", " "))
			continue
		}
		fmt.Fprintf(stdout, "ok %s\n", answer)
	}
	return in.Err()
}

var _ conductor = (*driver)(nil)
var _ peer = localPeer{}
var _ peer = (*remotePeer)(nil)
