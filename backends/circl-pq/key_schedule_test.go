package circlpq

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

func fromHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// TestKeyScheduleACVP checks the schedule against NIST's ACVP TLS 1.3 KDF
// vectors (TLS-v1.3-KDF-RFC8446, the case crypto/tls also uses): the
// "random" values are written to the transcript in sequence.
func TestKeyScheduleACVP(t *testing.T) {
	s := cipherSuiteByID(TLS_AES_128_GCM_SHA256)
	psk := fromHex("56288B726C73829F7A3E47B103837C8139ACF552E7530C7A710B35ED41191698")
	dhe := fromHex("EFFE9EC26AA29FD750DFA6A10B944D74071595B27EE88887D5E11C84590B5CC3")
	transcript := sha256.New()

	early := s.extract(psk, nil)
	transcript.Write(fromHex("E9137679E582BA7C1DB41CF725F86C6D09C8C05F297BAD9A65B552EAF524FDE4"))
	check := func(name string, got []byte, want string) {
		t.Helper()
		if !bytes.Equal(got, fromHex(want)) {
			t.Errorf("%s = %x, want %s", name, got, want)
		}
	}
	check("client early traffic secret", s.deriveSecret(early, "c e traffic", transcript),
		"3272189698C3594D18F58EFA3F12B638A249515099BE7A2FA9836BABE74F0111")

	hs := s.extract(dhe, s.deriveSecret(early, labelDerived, nil))
	transcript.Write(fromHex("23ECCFD030790748C8F8D8A656FD98D717F1B62AF3712F97211D2070B499F98A"))
	check("client handshake traffic secret", s.deriveSecret(hs, labelClientHandshake, transcript),
		"B32306C3CE9932C460A1FE6C0F060593974842036B96FA45049B7352E71C2AD2")
	check("server handshake traffic secret", s.deriveSecret(hs, labelServerHandshake, transcript),
		"22787F8CA269D34BC549AC8BA19F2040938A3AA370D7CC9D60F720882B88D01B")

	ms := s.masterSecret(hs)
	transcript.Write(fromHex("C750EDA6696CD101B142BD79E00E6AC8C5F2C0ABC78DD64F4D991326659E9299"))
	check("client application traffic secret", s.deriveSecret(ms, labelClientApplication, transcript),
		"47D7EA08397B5871154B0FE85584BCC30A87C69E84D69B56007C5B21F76493BA")
	check("server application traffic secret", s.deriveSecret(ms, labelServerApplication, transcript),
		"EFBDB0C873C0480DA57307083839A8984BE25B9A8545E4FCA029940FE2800565")
	check("exporter master secret", s.deriveSecret(ms, labelExporter, transcript),
		"8A43D787EE3804EAD4A2A5B32972F9896B696295645D7222E1FD081DDD939834")

	transcript.Write(fromHex("62A62FA75563ED4FDCAA0BC16567B314871C304ACF06B0FFC3F08C1797594D43"))
	check("resumption master secret", s.deriveSecret(ms, labelResumption, transcript),
		"5F4C961329C91044011ACBECB0B289282E0E3FED045CB3EA924DFFE5FE654B3D")
}

// TestTrafficKey checks key and IV derivation against
// draft-ietf-tls-tls13-vectors-07 (the simple 1-RTT trace).
func TestTrafficKey(t *testing.T) {
	s := cipherSuiteByID(TLS_AES_128_GCM_SHA256)
	key, iv := s.trafficKey(fromHex("b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38"))
	if !bytes.Equal(key, fromHex("3fce516009c21727d0f2e4e86ee403bc")) || !bytes.Equal(iv, fromHex("5d313eb2671276ee13000b30")) {
		t.Errorf("traffic key %x, iv %x", key, iv)
	}
}

// TestZeroPSKHandshakeSecret checks the no-PSK path (RFC 8448, Section 3:
// the early secret of an all-zero PSK, and the handshake secret of its
// X25519 exchange).
func TestZeroPSKHandshakeSecret(t *testing.T) {
	s := cipherSuiteByID(TLS_AES_128_GCM_SHA256)
	if got := s.extract(nil, nil); !bytes.Equal(got, fromHex("33ad0a1c607ec03b09e6cd9893680ce210adf300aa1f2660e1b22e10f170f92a")) {
		t.Errorf("early secret %x", got)
	}
	shared := fromHex("8bd4054fb55b9d63fdfbacf9f04b9f0d35e6d63f537563efd46272900f89492d")
	if got := s.handshakeSecret(shared); !bytes.Equal(got, fromHex("1dc826e93606aa6fdc0aadc12f741b01046aa6b99f691ed221a9f0ca043fbeac")) {
		t.Errorf("handshake secret %x", got)
	}
}
