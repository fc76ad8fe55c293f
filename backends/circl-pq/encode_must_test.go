package circlpq

// Tests build messages they know fit, as a hostile peer would send them,
// with marshal: encode that panics on an error. These methods exist in
// tests only, so that the engine has no encoder that can panic (see the
// package documentation, "Encoding").

func mustEncode(m encoder) []byte {
	out, err := m.encode()
	if err != nil {
		panic(err)
	}
	return out
}

func (m *clientHelloMsg) marshal() []byte         { return mustEncode(m) }
func (m *serverHelloMsg) marshal() []byte         { return mustEncode(m) }
func (m *encryptedExtensionsMsg) marshal() []byte { return mustEncode(m) }
func (m *certificateRequestMsg) marshal() []byte  { return mustEncode(m) }
func (m *certificateMsg) marshal() []byte         { return mustEncode(m) }
func (m *certificateVerifyMsg) marshal() []byte   { return mustEncode(m) }
func (m *finishedMsg) marshal() []byte            { return mustEncode(m) }
func (m *keyUpdateMsg) marshal() []byte           { return mustEncode(m) }
func (m *newSessionTicketMsg) marshal() []byte    { return mustEncode(m) }
