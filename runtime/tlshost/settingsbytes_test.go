package tlshost

import (
	"errors"
	"fmt"
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
	} else if want := "tlshost: client-identity-request.respond: connection closed: the answer is not kept"; refused.Error() != want {
		t.Errorf("respond after close: error %q, want %q", refused, want)
	}
	if got := budget.used.Load(); got != 0 {
		t.Errorf("after respond the guest's settings count %d bytes, want 0", got)
	}
}

// TestInCall: the error of a call names the host once, whether what
// failed is one of the host's own errors (each begins "tlshost: ") or
// not, and errors.Is and As see what failed.
func TestInCall(t *testing.T) {
	panicked := &BackendPanicError{Backend: "test", Op: "Handshake", Value: "boom"}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{errClosed, "tlshost: call: connection closed"},
		{fmt.Errorf("%w: past it", ErrSettingsBytes), "tlshost: call: settings bytes: past it"},
		{panicked, "tlshost: call: the test backend panicked in Handshake: boom"},
		{errors.New("stdtls: refused"), "tlshost: call: stdtls: refused"},
	} {
		err := inCall("call", tc.err)
		if err.Error() != tc.want {
			t.Errorf("inCall of %q: %q, want %q", tc.err, err, tc.want)
		}
		if !errors.Is(err, tc.err) {
			t.Errorf("inCall of %q does not wrap it", tc.err)
		}
	}
	var pe *BackendPanicError
	if !errors.As(inCall("call", panicked), &pe) || pe != panicked {
		t.Error("errors.As does not find the BackendPanicError through inCall")
	}
}
