package tlshost

import (
	"errors"
	"testing"

	"github.com/wasitls/wasitls/backends"
)

// TestClientRespondAfterCloseKeepsNothing: a guest that answers a
// client-identity-request after it dropped the connection (it finished
// or aborted the handshake, which detaches the request, and keeps a
// resource that reaches the session, such as the request's future) has
// its answer refused and kept nowhere. The connection's settings went
// back to the guest's budget when it closed, so an answer kept then
// (a list as long as the guest likes, a reference each) counted against
// nothing.
func TestClientRespondAfterCloseKeepsNothing(t *testing.T) {
	checkNoLeak(t)
	budget := &byteBudget{limit: 1 << 20}
	b := &fakeBackend{serverChain: [][]byte{[]byte("leaf")}, certRequest: true}
	s := newClientSession(b, backends.ClientConfig{}, newPipe(t))
	s.settings = &settingsHold{b: budget}
	defer s.Close()
	if err := s.Connect("example.com"); err != nil {
		t.Fatal(err)
	}
	rf, err := s.ReceiveClientIdentityRequest()
	if err != nil {
		t.Fatal(err)
	}
	req, err := await(t, rf)
	if err != nil || req == nil {
		t.Fatalf("request future: %v, %v", req, err)
	}
	s.Close()
	if got := budget.used.Load(); got != 0 {
		t.Fatalf("after close the guest's settings count %d bytes, want 0", got)
	}
	// Four times the budget's worth of references.
	ids := make([]*backends.Identity, 4*budget.limit/identityRefBytes)
	id := &backends.Identity{Chain: [][]byte{[]byte("client")}}
	for i := range ids {
		ids[i] = id
	}
	req.Respond(ids)
	s.d.mu.Lock()
	kept, refused := len(req.ids), req.err
	s.d.mu.Unlock()
	if kept != 0 {
		t.Errorf("respond after close kept %d identities (%d bytes) while the guest's settings count %d bytes", kept, int64(kept)*identityRefBytes, budget.used.Load())
	}
	if !errors.Is(refused, errClosed) {
		t.Errorf("respond after close: error %v, want one wrapping %v", refused, errClosed)
	}
	if got := budget.used.Load(); got != 0 {
		t.Errorf("after respond the guest's settings count %d bytes, want 0", got)
	}
}
