package generator

import "testing"

func TestExportedNames(t *testing.T) {
	for in, want := range map[string]string{
		"ip-address":         "IPAddress",
		"configure-alpn-ids": "ConfigureALPNIDs",
		"alpn-ids":           "ALPNIDs",
		"ids":                "IDs",
		"export-X509-chain":  "ExportX509Chain",
		"tls":                "TLS",
		"os":                 "OS",
		"bytes":              "Bytes",
		"oks":                "OKs",
		"%type":              "Type",
	} {
		if got := exported(in); got != want {
			t.Errorf("exported(%q) = %q, want %q", in, got, want)
		}
	}
}
