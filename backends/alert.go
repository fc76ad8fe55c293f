package backends

import (
	"fmt"
	"strconv"
)

// An Alert is a TLS alert description (RFC 8446, Section 6). This is the
// one table of alert codes and names; backends use it for the alerts they
// send and receive.
type Alert uint8

// Alert descriptions (RFC 8446, Section 6).
const (
	AlertCloseNotify            Alert = 0
	AlertUnexpectedMessage      Alert = 10
	AlertBadRecordMAC           Alert = 20
	AlertRecordOverflow         Alert = 22
	AlertHandshakeFailure       Alert = 40
	AlertBadCertificate         Alert = 42
	AlertUnsupportedCertificate Alert = 43
	AlertCertificateRevoked     Alert = 44
	AlertCertificateExpired     Alert = 45
	AlertCertificateUnknown     Alert = 46
	AlertIllegalParameter       Alert = 47
	AlertUnknownCA              Alert = 48
	AlertAccessDenied           Alert = 49
	AlertDecodeError            Alert = 50
	AlertDecryptError           Alert = 51
	AlertProtocolVersion        Alert = 70
	AlertInsufficientSecurity   Alert = 71
	AlertInternalError          Alert = 80
	AlertInappropriateFallback  Alert = 86
	AlertUserCanceled           Alert = 90
	AlertMissingExtension       Alert = 109
	AlertUnsupportedExtension   Alert = 110
	AlertUnrecognizedName       Alert = 112
	AlertBadCertificateStatus   Alert = 113
	AlertUnknownPSKIdentity     Alert = 115
	AlertCertificateRequired    Alert = 116
	AlertNoApplicationProtocol  Alert = 120
)

// alertText spells the alerts as crypto/tls does in its errors, so that
// the same words appear whichever backend failed.
var alertText = map[Alert]string{
	AlertCloseNotify:            "close notify",
	AlertUnexpectedMessage:      "unexpected message",
	AlertBadRecordMAC:           "bad record MAC",
	AlertRecordOverflow:         "record overflow",
	AlertHandshakeFailure:       "handshake failure",
	AlertBadCertificate:         "bad certificate",
	AlertUnsupportedCertificate: "unsupported certificate",
	AlertCertificateRevoked:     "revoked certificate",
	AlertCertificateExpired:     "expired certificate",
	AlertCertificateUnknown:     "unknown certificate",
	AlertIllegalParameter:       "illegal parameter",
	AlertUnknownCA:              "unknown certificate authority",
	AlertAccessDenied:           "access denied",
	AlertDecodeError:            "error decoding message",
	AlertDecryptError:           "error decrypting message",
	AlertProtocolVersion:        "protocol version not supported",
	AlertInsufficientSecurity:   "insufficient security level",
	AlertInternalError:          "internal error",
	AlertInappropriateFallback:  "inappropriate fallback",
	AlertUserCanceled:           "user canceled",
	AlertMissingExtension:       "missing extension",
	AlertUnsupportedExtension:   "unsupported extension",
	AlertUnrecognizedName:       "unrecognized name",
	AlertBadCertificateStatus:   "bad certificate status response",
	AlertUnknownPSKIdentity:     "unknown PSK identity",
	AlertCertificateRequired:    "certificate required",
	AlertNoApplicationProtocol:  "no application protocol",
}

// String returns the alert's name as crypto/tls spells it.
func (a Alert) String() string {
	if s, ok := alertText[a]; ok {
		return s
	}
	return "alert(" + strconv.Itoa(int(a)) + ")"
}

// A SendAlertError is an error a hook returns to have the backend abort
// the handshake with a specific alert instead of the default one of the
// step. It says nothing about alerts a connection received: backends
// report those with their own error types.
type SendAlertError struct {
	Alert Alert
	Err   error
}

func (e *SendAlertError) Error() string {
	return fmt.Sprintf("tls: alert %d: %v", uint8(e.Alert), e.Err)
}

func (e *SendAlertError) Unwrap() error { return e.Err }
