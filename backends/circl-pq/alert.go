package circlpq

import (
	"errors"
	"strconv"
)

// An Alert is a TLS alert description (RFC 8446, Section 6).
type Alert uint8

// Alert descriptions this engine sends or recognises (RFC 8446, Section 6).
const (
	alertCloseNotify            Alert = 0
	alertUnexpectedMessage      Alert = 10
	alertBadRecordMAC           Alert = 20
	alertRecordOverflow         Alert = 22
	alertHandshakeFailure       Alert = 40
	alertBadCertificate         Alert = 42
	alertUnsupportedCertificate Alert = 43
	alertCertificateRevoked     Alert = 44
	alertCertificateExpired     Alert = 45
	alertCertificateUnknown     Alert = 46
	alertIllegalParameter       Alert = 47
	alertUnknownCA              Alert = 48
	alertAccessDenied           Alert = 49
	alertDecodeError            Alert = 50
	alertDecryptError           Alert = 51
	alertProtocolVersion        Alert = 70
	alertInsufficientSecurity   Alert = 71
	alertInternalError          Alert = 80
	alertInappropriateFallback  Alert = 86
	alertUserCanceled           Alert = 90
	alertMissingExtension       Alert = 109
	alertUnsupportedExtension   Alert = 110
	alertUnrecognizedName       Alert = 112
	alertBadCertificateStatus   Alert = 113
	alertUnknownPSKIdentity     Alert = 115
	alertCertificateRequired    Alert = 116
	alertNoApplicationProtocol  Alert = 120
)

var alertText = map[Alert]string{
	alertCloseNotify:            "close notify",
	alertUnexpectedMessage:      "unexpected message",
	alertBadRecordMAC:           "bad record MAC",
	alertRecordOverflow:         "record overflow",
	alertHandshakeFailure:       "handshake failure",
	alertBadCertificate:         "bad certificate",
	alertUnsupportedCertificate: "unsupported certificate",
	alertCertificateRevoked:     "revoked certificate",
	alertCertificateExpired:     "expired certificate",
	alertCertificateUnknown:     "unknown certificate",
	alertIllegalParameter:       "illegal parameter",
	alertUnknownCA:              "unknown certificate authority",
	alertAccessDenied:           "access denied",
	alertDecodeError:            "error decoding message",
	alertDecryptError:           "error decrypting message",
	alertProtocolVersion:        "protocol version not supported",
	alertInsufficientSecurity:   "insufficient security level",
	alertInternalError:          "internal error",
	alertInappropriateFallback:  "inappropriate fallback",
	alertUserCanceled:           "user canceled",
	alertMissingExtension:       "missing extension",
	alertUnsupportedExtension:   "unsupported extension",
	alertUnrecognizedName:       "unrecognized name",
	alertBadCertificateStatus:   "bad certificate status response",
	alertUnknownPSKIdentity:     "unknown PSK identity",
	alertCertificateRequired:    "certificate required",
	alertNoApplicationProtocol:  "no application protocol",
}

// String returns the alert's name as RFC 8446 spells it in prose.
func (a Alert) String() string {
	if s, ok := alertText[a]; ok {
		return s
	}
	return "alert(" + strconv.Itoa(int(a)) + ")"
}

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
