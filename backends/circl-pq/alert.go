package circlpq

import (
	"errors"

	"github.com/wasitls/wasitls/backends"
)

// An Alert is a TLS alert description (RFC 8446, Section 6). The codes and
// their names are the one table in package backends.
type Alert = backends.Alert

// Alert levels (RFC 8446, Section 6). TLS 1.3 ignores the level of error
// alerts; it tells a warning-level user_canceled apart.
const (
	alertLevelWarning byte = 1
	alertLevelFatal   byte = 2
)

// Short names for the alerts this engine sends or recognises.
const (
	alertCloseNotify            = backends.AlertCloseNotify
	alertUnexpectedMessage      = backends.AlertUnexpectedMessage
	alertBadRecordMAC           = backends.AlertBadRecordMAC
	alertRecordOverflow         = backends.AlertRecordOverflow
	alertHandshakeFailure       = backends.AlertHandshakeFailure
	alertBadCertificate         = backends.AlertBadCertificate
	alertUnsupportedCertificate = backends.AlertUnsupportedCertificate
	alertCertificateRevoked     = backends.AlertCertificateRevoked
	alertCertificateExpired     = backends.AlertCertificateExpired
	alertCertificateUnknown     = backends.AlertCertificateUnknown
	alertIllegalParameter       = backends.AlertIllegalParameter
	alertUnknownCA              = backends.AlertUnknownCA
	alertAccessDenied           = backends.AlertAccessDenied
	alertDecodeError            = backends.AlertDecodeError
	alertDecryptError           = backends.AlertDecryptError
	alertProtocolVersion        = backends.AlertProtocolVersion
	alertInsufficientSecurity   = backends.AlertInsufficientSecurity
	alertInternalError          = backends.AlertInternalError
	alertInappropriateFallback  = backends.AlertInappropriateFallback
	alertUserCanceled           = backends.AlertUserCanceled
	alertMissingExtension       = backends.AlertMissingExtension
	alertUnsupportedExtension   = backends.AlertUnsupportedExtension
	alertUnrecognizedName       = backends.AlertUnrecognizedName
	alertBadCertificateStatus   = backends.AlertBadCertificateStatus
	alertUnknownPSKIdentity     = backends.AlertUnknownPSKIdentity
	alertCertificateRequired    = backends.AlertCertificateRequired
	alertNoApplicationProtocol  = backends.AlertNoApplicationProtocol
)

// An AlertError is the error of a connection that failed with an alert.
// Remote reports whether the peer sent it; otherwise this side sent it
// (or tried to) and Err says why.
type AlertError struct {
	Alert  Alert
	Remote bool
	Err    error
}

func (e *AlertError) Error() string {
	if e.Remote {
		return "tls: remote error: " + e.Alert.String()
	}
	if e.Err != nil {
		return e.Err.Error()
	}
	return "tls: local error: " + e.Alert.String()
}

func (e *AlertError) Unwrap() error { return e.Err }

// errorAlert returns the alert an error carries, and whether it carries one.
func errorAlert(err error) (Alert, bool) {
	var ae *AlertError
	if errors.As(err, &ae) {
		return ae.Alert, true
	}
	return 0, false
}
