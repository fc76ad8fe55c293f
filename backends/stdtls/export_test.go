package stdtls

// The transport's bound errors, for the package's external tests.
var (
	ErrHandshakeBytes     = errHandshakeBytes
	ErrPostHandshakeBytes = errPostHandshakeBytes
)
