package circlpq

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/internal/testpki"
)

// phaPair connects an engine client whose ClientIdentity hook is identity
// (nil: no hook) to an engine server that requests nothing during the
// handshake.
func phaPair(t *testing.T, identity func(context.Context, *backends.IdentityRequest) ([]*backends.Identity, error), sc *backends.ServerConfig) (client, server *Conn) {
	t.Helper()
	craw, sraw := tcpPair(t)
	return phaPairOver(t, craw, sraw, identity, sc)
}

// phaPairOver is phaPair over the given transports.
func phaPairOver(t *testing.T, craw, sraw net.Conn, identity func(context.Context, *backends.IdentityRequest) ([]*backends.Identity, error), sc *backends.ServerConfig) (client, server *Conn) {
	t.Helper()
	p := pki(t)
	cc := p.clientConfig()
	cc.ClientIdentity = identity
	if sc == nil {
		sc = p.serverConfig(p.p256)
	}
	client, chs := engineClient(t, craw, cc)
	server, shs := engineServer(t, sraw, sc)
	if cerr, serr := both(chs, shs); cerr != nil || serr != nil {
		t.Fatalf("handshake: client %v, server %v", cerr, serr)
	}
	return client, server
}

func offer(ids ...*backends.Identity) func(context.Context, *backends.IdentityRequest) ([]*backends.Identity, error) {
	return func(context.Context, *backends.IdentityRequest) ([]*backends.Identity, error) { return ids, nil }
}

// clientReader reads everything the server sends until EOF, so that the
// client processes certificate requests.
func clientReader(c *Conn) <-chan error {
	done := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, c)
		done <- err
	}()
	return done
}

// requestInBackground starts s.RequestClientIdentity with no deadline of
// its own; its error arrives on the channel returned.
func requestInBackground(s *Conn) <-chan error {
	errc := make(chan error, 1)
	go func() {
		_, err := s.RequestClientIdentity(context.Background())
		errc <- err
	}()
	return errc
}

func requestIdentity(t *testing.T, s *Conn) ([][]byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return s.RequestClientIdentity(ctx)
}

// TestPostHandshakeAuthInterleaved has the client stream application data
// while the server authenticates it without a Read of its own: the data
// that arrived meanwhile is all there, in order, afterwards.
func TestPostHandshakeAuthInterleaved(t *testing.T) {
	p := pki(t)
	var gotReq *backends.IdentityRequest
	client, server := phaPair(t, func(_ context.Context, r *backends.IdentityRequest) ([]*backends.Identity, error) {
		gotReq = r
		return []*backends.Identity{p.client.Identity()}, nil
	}, nil)
	readDone := clientReader(client)
	const chunks = 200
	writeDone := make(chan error, 1)
	go func() {
		for i := 0; i < chunks; i++ {
			if _, err := client.Write(bytes.Repeat([]byte{byte(i)}, 1000)); err != nil {
				writeDone <- err
				return
			}
		}
		writeDone <- nil
	}()
	chain, err := requestIdentity(t, server)
	if err != nil {
		t.Fatalf("RequestClientIdentity: %v", err)
	}
	if len(chain) == 0 || !bytes.Equal(chain[0], p.client.Chain[0]) {
		t.Fatalf("RequestClientIdentity returned %d certificates, not the client's chain", len(chain))
	}
	if gotReq == nil || !gotReq.PostHandshake || !contains(gotReq.SignatureSchemes, ECDSAWithP256AndSHA256) {
		t.Errorf("ClientIdentity request = %+v", gotReq)
	}
	if got := server.State().PeerChain; len(got) == 0 || !bytes.Equal(got[0], p.client.Chain[0]) {
		t.Errorf("server State().PeerChain not updated")
	}
	if err := <-writeDone; err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1000)
	for i := 0; i < chunks; i++ {
		if _, err := io.ReadFull(server, buf); err != nil {
			t.Fatalf("chunk %d: %v", i, err)
		}
		if buf[0] != byte(i) || buf[999] != byte(i) {
			t.Fatalf("chunk %d holds %d: application data reordered or lost", i, buf[0])
		}
	}
	server.Close()
	<-readDone
}

// TestPostHandshakeAuthAfterFullBuffer has the client send more
// application data than RequestClientIdentity keeps for Read
// (maxAuthBufferedInput) before it answers, and the server read exactly
// that data, then wait for the answer without reading: the request
// completes. Before, RequestClientIdentity with a full buffer left the
// answer to a Read, which the application had no reason to make: the
// request waited until its context ended.
func TestPostHandshakeAuthAfterFullBuffer(t *testing.T) {
	craw, sraw := tcpPair(t)
	requestBehindData(t, craw, sraw, maxAuthBufferedInput+64<<10, nil)
}

// requestBehindData has a server over sraw ask its client over craw for
// its certificate, the client sending size bytes of data before its
// answer, while the request is outstanding; once the data is out, the
// server reads it and not a byte more, the answer following it unread:
// the request must complete, and requestBehindData calls check (if not
// nil) before the server closes.
func requestBehindData(t *testing.T, craw, sraw net.Conn, size int, check func()) {
	t.Helper()
	p := pki(t)
	var writeErr error
	out := make(chan struct{})
	var client *Conn
	answer := func(context.Context, *backends.IdentityRequest) ([]*backends.Identity, error) {
		_, writeErr = client.Write(make([]byte, size))
		close(out)
		return []*backends.Identity{p.client.Identity()}, writeErr
	}
	client, server := phaPairOver(t, craw, sraw, answer, nil)
	readDone := clientReader(client)
	requested := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := server.RequestClientIdentity(ctx)
		requested <- err
	}()
	<-out
	if writeErr != nil {
		t.Fatalf("the client's write: %v", writeErr)
	}
	if _, err := io.ReadFull(server, make([]byte, size)); err != nil {
		t.Fatal(err)
	}
	if err := <-requested; err != nil {
		t.Fatalf("RequestClientIdentity: %v", err)
	}
	if check != nil {
		check()
	}
	server.Close()
	<-readDone
}

// TestPostHandshakeAuthDuringRead has a server Read in progress take the
// answer on its way.
func TestPostHandshakeAuthDuringRead(t *testing.T) {
	p := pki(t)
	craw, sraw := tcpPair(t)
	watched := &readWatcher{Conn: sraw}
	client, server := phaPairOver(t, craw, watched, offer(p.clientEd.Identity()), nil)
	readDone := clientReader(client)
	reading := watched.nextRead()
	serverRead := make(chan []byte, 1)
	go func() {
		buf := make([]byte, 5)
		io.ReadFull(server, buf)
		serverRead <- buf
	}()
	// The Read holds the read side once it reads the transport.
	select {
	case <-reading:
	case <-time.After(10 * time.Second):
		t.Fatal("the server Read never read its transport")
	}
	chain, err := requestIdentity(t, server)
	if err != nil || len(chain) == 0 || !bytes.Equal(chain[0], p.clientEd.Chain[0]) {
		t.Fatalf("RequestClientIdentity = %d certificates, %v", len(chain), err)
	}
	if _, err := client.Write([]byte("after")); err != nil {
		t.Fatal(err)
	}
	if got := <-serverRead; string(got) != "after" {
		t.Errorf("server Read = %q", got)
	}
	server.Close()
	<-readDone
}

// TestPostHandshakeAuthMLDSA authenticates a client with ML-DSA after the
// handshake.
func TestPostHandshakeAuthMLDSA(t *testing.T) {
	m := mldsaTestPKI(t)
	root := m.roots[testpki.MLDSA87]
	id := m.clients[testpki.MLDSA87].Identity()
	id.Chain = pqServerChain(m.clients[testpki.MLDSA87], root)
	p := pki(t)
	sc := p.serverConfig(p.p256)
	sc.ClientCAs = poolOf(root)
	client, server := phaPair(t, offer(id), sc)
	readDone := clientReader(client)
	chain, err := requestIdentity(t, server)
	if err != nil || len(chain) == 0 || !bytes.Equal(chain[0], id.Chain[0]) {
		t.Fatalf("RequestClientIdentity = %d certificates, %v", len(chain), err)
	}
	server.Close()
	<-readDone
}

// TestPostHandshakeAuthRepeatedAndOverlapping sends requests one after the
// other and several at once; each gets its answer.
func TestPostHandshakeAuthRepeatedAndOverlapping(t *testing.T) {
	p := pki(t)
	var mu sync.Mutex
	calls := 0
	client, server := phaPair(t, func(context.Context, *backends.IdentityRequest) ([]*backends.Identity, error) {
		mu.Lock()
		calls++
		mu.Unlock()
		return []*backends.Identity{p.client.Identity()}, nil
	}, nil)
	readDone := clientReader(client)
	for i := 0; i < 3; i++ {
		if _, err := requestIdentity(t, server); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err := server.RequestClientIdentity(ctx)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("overlapping request: %v", err)
		}
	}
	if calls != 7 {
		t.Errorf("ClientIdentity ran %d times for 7 requests", calls)
	}
	server.Close()
	<-readDone
}

// TestPostHandshakeAuthDeclined: a client without a fitting identity sends
// an empty Certificate; the server gets an empty chain, and VerifyClient
// sees it.
func TestPostHandshakeAuthDeclined(t *testing.T) {
	p := pki(t)
	sc := p.serverConfig(p.p256)
	verified := false
	sc.VerifyClient = func(_ context.Context, chain [][]byte) error {
		verified = chain == nil
		return nil
	}
	client, server := phaPair(t, offer(), sc)
	readDone := clientReader(client)
	chain, err := requestIdentity(t, server)
	if err != nil || chain != nil {
		t.Fatalf("RequestClientIdentity = %v, %v; want no chain, no error", chain, err)
	}
	if !verified {
		t.Errorf("VerifyClient did not see the empty answer")
	}
	// The connection goes on.
	if _, err := client.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1)
	if _, err := io.ReadFull(server, buf); err != nil {
		t.Fatal(err)
	}
	server.Close()
	<-readDone
}

// TestPostHandshakeAuthRejected: a certificate not for client use or a
// VerifyClient refusal ends the connection with the step's alert; a client
// whose only identity comes from a CA the request does not name declines.
func TestPostHandshakeAuthRejected(t *testing.T) {
	p := pki(t)
	untrusted, err := p.other.Issue(testpki.LeafOptions{CommonName: "stranger", Usage: testpki.ClientAuth})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("UnnamedCA", func(t *testing.T) {
		client, server := phaPair(t, offer(untrusted.Identity()), nil)
		readDone := clientReader(client)
		if chain, err := requestIdentity(t, server); chain != nil || err != nil {
			t.Errorf("RequestClientIdentity = %d certificates, %v; want a declined request", len(chain), err)
		}
		server.Close()
		<-readDone
	})
	for _, tc := range []struct {
		name   string
		id     *backends.Identity
		verify func(context.Context, [][]byte) error
		alert  Alert
	}{
		{"ServerCertificate", p.p256.Identity(), nil, alertBadCertificate},
		{"RefusedByApplication", p.client.Identity(), func(context.Context, [][]byte) error {
			return &backends.SendAlertError{Alert: backends.AlertAccessDenied, Err: errors.New("no")}
		}, alertAccessDenied},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := p.serverConfig(p.p256)
			sc.VerifyClient = tc.verify
			client, server := phaPair(t, offer(tc.id), sc)
			readDone := clientReader(client)
			_, err := requestIdentity(t, server)
			var ae *AlertError
			if !errors.As(err, &ae) || ae.Remote || ae.Alert != tc.alert {
				t.Fatalf("RequestClientIdentity = %v; want local alert %v", err, tc.alert)
			}
			if err := <-readDone; !errors.As(err, &ae) || !ae.Remote || ae.Alert != tc.alert {
				t.Errorf("client Read = %v; want remote alert %v", err, tc.alert)
			}
		})
	}
}

// TestPostHandshakeAuthNotOffered: a server does not ask a client that did
// not offer post_handshake_auth, and a client refuses a request it did not
// invite with unexpected_message (RFC 8446, Section 4.6.2).
func TestPostHandshakeAuthNotOffered(t *testing.T) {
	client, server := phaPair(t, nil, nil)
	if _, err := requestIdentity(t, server); err == nil {
		t.Fatal("RequestClientIdentity succeeded with a client that did not offer post_handshake_auth")
	}
	readDone := clientReader(client)
	// Ask anyway, as a misbehaving server would.
	server.auth.offered = true
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := server.RequestClientIdentity(ctx)
	var ae *AlertError
	if !errors.As(err, &ae) || !ae.Remote || ae.Alert != alertUnexpectedMessage {
		t.Errorf("server: %v; want remote unexpected_message", err)
	}
	if err := <-readDone; !errors.As(err, &ae) || ae.Remote || ae.Alert != alertUnexpectedMessage {
		t.Errorf("client: %v; want local unexpected_message", err)
	}
}

// TestPostHandshakeAuthCancel: cancelling the wait leaves the connection
// usable; the late answer is checked and dropped, and a new request works.
func TestPostHandshakeAuthCancel(t *testing.T) {
	p := pki(t)
	release := make(chan struct{})
	first := true
	client, server := phaPair(t, func(ctx context.Context, _ *backends.IdentityRequest) ([]*backends.Identity, error) {
		if first {
			first = false
			select {
			case <-release:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		return []*backends.Identity{p.client.Identity()}, nil
	}, nil)
	readDone := clientReader(client)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := server.RequestClientIdentity(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("RequestClientIdentity = %v; want the deadline", err)
	}
	if _, err := server.Write([]byte("still here")); err != nil {
		t.Fatalf("server Write after a cancelled request: %v", err)
	}
	close(release)
	chain, err := requestIdentity(t, server)
	if err != nil || len(chain) == 0 {
		t.Fatalf("second RequestClientIdentity = %d certificates, %v", len(chain), err)
	}
	if _, err := client.Write([]byte("ok")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2)
	if _, err := io.ReadFull(server, buf); err != nil || string(buf) != "ok" {
		t.Fatalf("server Read = %q, %v", buf, err)
	}
	server.Close()
	<-readDone
}

// TestPostHandshakeAuthClose: closing the connection fails a waiting
// request and releases a client hook in progress.
func TestPostHandshakeAuthClose(t *testing.T) {
	hookStarted, hookCancelled := make(chan struct{}), make(chan struct{})
	client, server := phaPair(t, func(ctx context.Context, _ *backends.IdentityRequest) ([]*backends.Identity, error) {
		close(hookStarted)
		<-ctx.Done()
		close(hookCancelled)
		return nil, ctx.Err()
	}, nil)
	readDone := clientReader(client)
	errc := requestInBackground(server)
	select {
	case <-hookStarted:
	case <-time.After(10 * time.Second):
		t.Fatal("the client hook never ran")
	}
	client.Close()
	select {
	case <-hookCancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("client hook still running after Close")
	}
	<-readDone
	select {
	case err := <-errc:
		if err == nil {
			t.Error("RequestClientIdentity succeeded against a closed client")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("RequestClientIdentity still waiting after the client closed")
	}
	server.Close()
}

// readWatcher is a transport that reports the first Read after nextRead.
type readWatcher struct {
	net.Conn
	mu      sync.Mutex
	reading chan struct{}
}

// nextRead returns a channel closed when the next Read of the transport
// starts.
func (w *readWatcher) nextRead() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.reading = make(chan struct{})
	return w.reading
}

func (w *readWatcher) Read(b []byte) (int, error) {
	w.mu.Lock()
	if w.reading != nil {
		close(w.reading)
		w.reading = nil
	}
	w.mu.Unlock()
	return w.Conn.Read(b)
}

// corruptSigner signs with its key and then flips the last byte of the
// signature, as a client with a broken CertificateVerify would.
type corruptSigner struct{ crypto.Signer }

func (s corruptSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	sig, err := s.Signer.Sign(r, digest, opts)
	if err == nil && len(sig) > 0 {
		sig[len(sig)-1] ^= 0x01
	}
	return sig, err
}

// TestPostHandshakeAuthCorrupted: a client answer with a CertificateVerify
// that does not verify, or a Finished whose MAC is wrong, ends the
// connection with decrypt_error (RFC 8446, Sections 4.4.3 and 4.4.4) and
// never hands the chain to the server.
func TestPostHandshakeAuthCorrupted(t *testing.T) {
	p := pki(t)
	for _, tc := range []struct {
		name    string
		id      func() *backends.Identity
		corrupt func(client *Conn)
	}{
		{"CertificateVerify", func() *backends.Identity {
			id := p.client.Identity()
			id.Key = corruptSigner{id.Key}
			return id
		}, nil},
		{"Finished", p.client.Identity, func(client *Conn) {
			// The Finished MAC key comes from the client's application
			// traffic secret; the record keys are already derived, so
			// only the Finished changes.
			secret := bytes.Clone(client.out.trafficSecret)
			secret[0] ^= 0x01
			client.out.trafficSecret = secret
		}},
		{"DeclinedFinished", nil, func(client *Conn) {
			secret := bytes.Clone(client.out.trafficSecret)
			secret[len(secret)-1] ^= 0x80
			client.out.trafficSecret = secret
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ids []*backends.Identity
			if tc.id != nil {
				ids = append(ids, tc.id())
			}
			sc := p.serverConfig(p.p256)
			verified := false
			sc.VerifyClient = func(context.Context, [][]byte) error {
				verified = true
				return nil
			}
			client, server := phaPair(t, offer(ids...), sc)
			if tc.corrupt != nil {
				tc.corrupt(client)
			}
			readDone := clientReader(client)
			chain, err := requestIdentity(t, server)
			var ae *AlertError
			if !errors.As(err, &ae) || ae.Remote || ae.Alert != alertDecryptError {
				t.Fatalf("RequestClientIdentity = %d certificates, %v; want local alert decrypt_error", len(chain), err)
			}
			if verified {
				t.Error("VerifyClient ran for an answer that does not verify")
			}
			if got := server.State().PeerChain; len(got) != 0 {
				t.Error("server State().PeerChain holds the chain of an answer that does not verify")
			}
			if err := <-readDone; !errors.As(err, &ae) || !ae.Remote || ae.Alert != alertDecryptError {
				t.Errorf("client Read = %v; want remote decrypt_error", err)
			}
		})
	}
}

// readAheadTransport counts the read-ahead it is told of
// (backends.ReadAheadCounter) as count counts a backlog; it is no
// PeerBacklogCounter.
type readAheadTransport struct {
	net.Conn
	count *backlogTransport
}

func (r readAheadTransport) HoldReadAhead(n int64) error { return r.count.HoldPeerBacklog(n) }

// TestReadAheadCounted: the application data a server's
// RequestClientIdentity reads ahead of its Reads, while the client sends
// 256 KiB before its answer, is told to the transport's
// backends.ReadAheadCounter before each record is read, and stays
// within what the counter takes (64 KiB) however much the client sends:
// the request then reads no further and completes once the server's
// Reads drain the data, and the count is back at 0 once they did.
func TestReadAheadCounted(t *testing.T) {
	const limit, size = 64 << 10, 256 << 10
	craw, sraw := tcpPair(t)
	counter := &backlogTransport{limit: limit}
	requestBehindData(t, craw, readAheadTransport{Conn: sraw, count: counter}, size, func() {
		// The request read its answer, behind the data, itself.
		if held, most := counter.state(); held != 0 || most == 0 {
			t.Errorf("once the server read the data the counter holds %d bytes and took %d at most; want 0, and some taken", held, most)
		}
	})
}

// stuckWrites is a transport that counts the peer's backlog (as the
// wasi:tls host's does) and whose writes, once stuck is set, wait for
// release: a write that waits for the peer (a socket's send queue short
// of room when the peer does not read).
type stuckWrites struct {
	backlogTransport
	stuck   atomic.Bool
	entered chan struct{}
	release chan struct{}
	fail    error // what a stuck write returns once released; nil: it writes
}

func (s *stuckWrites) Write(p []byte) (int, error) {
	if s.stuck.Load() {
		s.entered <- struct{}{}
		<-s.release
		if s.fail != nil {
			return 0, s.fail
		}
	}
	return s.backlogTransport.Write(p)
}

// TestStuckRequestWriteFails: a certificate request whose CertificateRequest
// failed to go out is no longer outstanding (it was queued before it was
// written): the server expects no answer to it.
func TestStuckRequestWriteFails(t *testing.T) {
	craw, sraw := tcpPair(t)
	sw := &stuckWrites{backlogTransport: backlogTransport{Conn: sraw, limit: 1 << 20},
		entered: make(chan struct{}, 1), release: make(chan struct{}), fail: errors.New("test transport: write failed")}
	_, server := phaPairOver(t, craw, sw, offer(), nil)
	sw.stuck.Store(true)
	done := requestInBackground(server)
	<-sw.entered
	if !server.auth.waiting() {
		t.Error("the request being written is not outstanding")
	}
	close(sw.release)
	if err := <-done; !errors.Is(err, sw.fail) {
		t.Fatalf("the request whose write failed returned %v, want the write's error", err)
	}
	if server.auth.waiting() {
		t.Error("the request whose CertificateRequest failed to go out is still outstanding")
	}
}

// TestReadDuringStuckRequest: while a post-handshake certificate request
// is stuck writing its CertificateRequest (the peer reads nothing), the
// server's Read of what the client sends meanwhile (a KeyUpdate, one
// asking for an update, a record that fails the connection) returns:
// it waits for nothing but the transport: not for the lock of the
// outstanding requests, which the read takes for any handshake record
// (holdBacklog), nor for the write side's, for a KeyUpdate asking for one
// or an alert. Otherwise a client of a guest server that asked it for its
// certificate would freeze the guest's read, on the guest's call, until
// the request was given up on.
func TestReadDuringStuckRequest(t *testing.T) {
	for _, tc := range []struct {
		name string
		send func(t *testing.T, client *Conn, craw net.Conn)
		fail bool // the record fails the connection
	}{
		{"KeyUpdate", func(t *testing.T, client *Conn, _ net.Conn) { client.KeyUpdate(false) }, false},
		{"KeyUpdate requested", func(t *testing.T, client *Conn, _ net.Conn) { client.KeyUpdate(true) }, false},
		{"bad record", func(t *testing.T, _ *Conn, craw net.Conn) {
			craw.Write([]byte{byte(recordTypeApplicationData), 3, 3, 0, 32})
			craw.Write(make([]byte, 32))
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			craw, sraw := tcpPair(t)
			sw := &stuckWrites{backlogTransport: backlogTransport{Conn: sraw, limit: 1 << 20},
				entered: make(chan struct{}, 1), release: make(chan struct{})}
			client, server := phaPairOver(t, craw, sw, offer(), nil)
			defer close(sw.release)
			sw.stuck.Store(true)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go server.RequestClientIdentity(ctx)
			<-sw.entered
			tc.send(t, client, craw)
			if !tc.fail {
				if _, err := client.Write([]byte("x")); err != nil {
					t.Fatal(err)
				}
			}
			read := readAsync(server, "x")
			select {
			case err := <-read:
				if tc.fail != (err != nil) {
					t.Fatalf("the server's Read returned %v", err)
				}
			case <-time.After(10 * time.Second): // a hang guard only
				t.Fatal("the server's Read waited for the stuck request's write")
			}
		})
	}
}

// TestReadAheadCountsHeld: what the counter is told of data read ahead is
// what the connection holds of it: the whole buffer it is kept in (its
// capacity, not the bytes in it) and the pooled record buffer while it
// holds the start of a record read ahead, until Read took the last of the
// data; and what it holds never passes what the counter took. The client
// sends 400 KiB while the server reads ahead for a request never answered,
// under a counter of 160 KiB. The bytes of data alone would tell too
// little: the buffer, grown by appending, has up to twice their capacity,
// and a record's start in the record buffer is 33 KiB more.
func TestReadAheadCountsHeld(t *testing.T) {
	const limit, size = 160 << 10, 400 << 10
	craw, sraw := tcpPair(t)
	counter := &backlogTransport{limit: limit}
	client, server := phaPairOver(t, craw, readAheadTransport{Conn: sraw, count: counter}, nil, nil)
	wrote := make(chan error, 1)
	go func() {
		_, err := client.Write(make([]byte, size))
		wrote <- err
	}()
	// held is what the server holds of data read ahead, from its fields:
	// c.input starts at its buffer's start until Read takes some.
	held := func() int64 {
		n := int64(cap(server.input))
		if cap(server.rawIn) == rawInLen && server.rawOff < len(server.rawIn) {
			n += rawInLen
		}
		return n
	}
	req := &authRequest{done: make(chan struct{})}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		server.in.Lock()
		how, err := server.readForAuth(ctx, req)
		got, want := counter.held, held()
		server.in.Unlock()
		if err != nil {
			t.Fatalf("readForAuth: %v", err)
		}
		t.Logf("stopped with %d bytes of data in a buffer of %d, told %d, holding %d", len(server.input), cap(server.input), got, want)
		if got != want {
			t.Errorf("the counter is told %d bytes; the connection holds %d", got, want)
		}
		if want > limit {
			t.Errorf("the connection holds %d bytes read ahead, past the counter's %d", want, limit)
		}
		if how == authFull {
			break
		}
	}
	// Read drains the data: the buffer is held whole until the last byte.
	buf := make([]byte, 1000)
	if _, err := io.ReadFull(server, buf); err != nil {
		t.Fatal(err)
	}
	if got, _ := counter.state(); got == 0 || got > limit {
		t.Errorf("after a Read of part of the data the counter holds %d, want what it held", got)
	}
	rest := make([]byte, size-len(buf))
	if _, err := io.ReadFull(server, rest); err != nil {
		t.Fatal(err)
	}
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	if got, _ := counter.state(); got != 0 {
		t.Errorf("once Read took every byte the counter holds %d, want 0", got)
	}
}

// notifyingCounter is a backends.ReadAheadCounter under a limit that is
// also a backends.ReadAheadNotifier: its channel is closed when the count
// goes down or the limit goes up (raise, as another connection's refund
// would). It counts the asks it refuses.
type notifyingCounter struct {
	net.Conn
	mu      sync.Mutex
	limit   int64
	held    int64
	refused int
	freed   chan struct{}
}

func (n *notifyingCounter) HoldReadAhead(v int64) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if v > n.limit {
		n.refused++
		return fmt.Errorf("test counter: %d bytes read ahead, over %d", v, n.limit)
	}
	if v < n.held {
		n.wakeLocked()
	}
	n.held = v
	return nil
}

func (n *notifyingCounter) ReadAheadFreed() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.freed == nil {
		n.freed = make(chan struct{})
	}
	return n.freed
}

func (n *notifyingCounter) wakeLocked() {
	if n.freed != nil {
		close(n.freed)
		n.freed = nil
	}
}

func (n *notifyingCounter) raise(limit int64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.limit = limit
	n.wakeLocked()
}

func (n *notifyingCounter) state() (held int64, refused int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.held, n.refused
}

// TestReadAheadWaitWakesOnRefund: a request whose read-ahead the counter
// refused waits, asking nothing, until the counter tells it bytes were
// given back (backends.ReadAheadNotifier), then reads on and finds its
// answer without a Read of the server's. The client sends 256 KiB before
// its answer under a counter of 64 KiB, raised to 1 MiB once the request
// waits. A request asking the counter again on a timer, up to every
// maxAuthPoll, would be refused again in the 300 ms the test watches.
func TestReadAheadWaitWakesOnRefund(t *testing.T) {
	const size = 256 << 10
	p := pki(t)
	craw, sraw := tcpPair(t)
	counter := &notifyingCounter{Conn: sraw, limit: 64 << 10}
	var client *Conn
	answer := func(context.Context, *backends.IdentityRequest) ([]*backends.Identity, error) {
		_, err := client.Write(make([]byte, size))
		return []*backends.Identity{p.client.Identity()}, err
	}
	client, server := phaPairOver(t, craw, counter, answer, nil)
	readDone := clientReader(client)
	defer func() {
		server.Close()
		<-readDone
	}()
	requested := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		_, err := server.RequestClientIdentity(ctx)
		requested <- err
	}()
	// A hang guard only: the request reads a record and is refused more.
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(time.Millisecond) {
		if _, refused := counter.state(); refused > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the counter refused nothing")
		}
	}
	// Nothing is given back: the request asks no more, however long it
	// waits (the count can only show a timer that woke it).
	time.Sleep(300 * time.Millisecond)
	_, before := counter.state()
	time.Sleep(300 * time.Millisecond)
	if _, after := counter.state(); after != before {
		t.Errorf("with nothing given back the request asked the counter %d times more in 300 ms", after-before)
	}
	select {
	case err := <-requested:
		t.Fatalf("RequestClientIdentity returned %v with its answer behind data it could not read", err)
	default:
	}
	counter.raise(1 << 20)
	select {
	case err := <-requested:
		if err != nil {
			t.Fatalf("RequestClientIdentity: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the request did not read on once the counter had room")
	}
	if _, err := io.ReadFull(server, make([]byte, size)); err != nil {
		t.Fatal(err)
	}
	if held, _ := counter.state(); held != 0 {
		t.Errorf("once Read took every byte the counter holds %d, want 0", held)
	}
}

// TestPostHandshakeAuthClosedDuringVerify: a connection closed while the
// server's VerifyClient hook looks at the client's chain, the hook then
// accepting it, fails the request with the close: the request Close
// failed is not taken out of the outstanding requests again (the emptied
// queue sliced past its end would panic the host).
func TestPostHandshakeAuthClosedDuringVerify(t *testing.T) {
	p := pki(t)
	inHook, closed := make(chan struct{}), make(chan struct{})
	sc := p.serverConfig(p.p256)
	sc.VerifyClient = func(context.Context, [][]byte) error {
		close(inHook)
		<-closed
		return nil
	}
	client, server := phaPair(t, offer(p.client.Identity()), sc)
	readDone := clientReader(client)
	errc := requestInBackground(server)
	select {
	case <-inHook:
	case <-time.After(10 * time.Second):
		t.Fatal("VerifyClient never ran")
	}
	server.Close()
	close(closed)
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("RequestClientIdentity = %v; want net.ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("RequestClientIdentity still waiting after Close")
	}
	<-readDone
}

// trickleCounter is a backends.ReadAheadCounter under a limit that a test
// raises a record at a time, as a guest's budget nearly full would be by
// its other connections giving bytes back. It counts the buffers the
// connection made: each time it took more than it ever held (the buffer
// read ahead into grew, and only a new buffer grows it).
type trickleCounter struct {
	net.Conn
	mu           sync.Mutex
	limit, held  int64
	most         int64
	grown, asked int
}

func (n *trickleCounter) HoldReadAhead(v int64) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.asked++
	if v > n.limit {
		return fmt.Errorf("test counter: %d bytes read ahead, over %d", v, n.limit)
	}
	if v > n.most {
		n.most = v
		n.grown++
	}
	n.held = v
	return nil
}

// TestReadAheadGrowthUnderTightBudget: a server reading ahead 1 MiB for a
// request never answered, under a counter that refuses the doubling of
// its buffer and gives one record more each time it was refused, makes a
// number of buffers logarithmic in what it holds, and the counter holds
// what it does. Growing by one record at a time would make a new buffer
// and a copy of the whole one for each record past 64 KiB: 63 buffers and
// some 32 MiB copied.
func TestReadAheadGrowthUnderTightBudget(t *testing.T) {
	const size = maxAuthBufferedInput + 64<<10
	craw, sraw := tcpPair(t)
	counter := &trickleCounter{Conn: sraw, limit: 64<<10 + rawInLen}
	client, server := phaPairOver(t, craw, counter, nil, nil)
	wrote := make(chan error, 1)
	go func() {
		_, err := client.Write(make([]byte, size))
		wrote <- err
	}()
	req := &authRequest{done: make(chan struct{})}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for len(server.input) < maxAuthBufferedInput {
		server.in.Lock()
		how, err := server.readForAuth(ctx, req)
		want := int64(cap(server.aheadBuf)) + server.rawHeld()
		server.in.Unlock()
		if err != nil {
			t.Fatalf("readForAuth: %v", err)
		}
		counter.mu.Lock()
		if counter.held != want || want > counter.limit {
			t.Errorf("the counter holds %d under %d; the connection holds %d", counter.held, counter.limit, want)
		}
		if how == authFull {
			counter.limit += maxPlaintext
		}
		counter.mu.Unlock()
		if t.Failed() {
			return
		}
	}
	// Growing by half at least, from one record to 64: 11 buffers at most
	// (the first of one record, 1.5^10 > 64).
	const most = 11
	t.Logf("%d bytes read ahead into a buffer of %d; %d buffers made, %d asks", len(server.input), cap(server.input), counter.grown, counter.asked)
	if counter.grown > most {
		t.Errorf("reading ahead %d bytes made %d buffers, want %d at most", len(server.input), counter.grown, most)
	}
	if _, err := io.ReadFull(server, make([]byte, size)); err != nil {
		t.Fatal(err)
	}
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	counter.mu.Lock()
	defer counter.mu.Unlock()
	if counter.held != 0 {
		t.Errorf("once Read took every byte the counter holds %d, want 0", counter.held)
	}
}
