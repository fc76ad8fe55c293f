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

// TestPackageNameLocals checks that an interface named like a local of
// the generated bodies, or a package they import, gets its WIT package's
// name as prefix, and that other names are left alone.
func TestPackageNameLocals(t *testing.T) {
	names := []string{"p0", "p17", "r1", "x2", "runtime", "strconv", "unsafe", "witval", "cabi", "api", "wazero", "context", "errors", "fmt", "math"}
	for n := range glueLocals {
		names = append(names, n)
	}
	for _, n := range names {
		if got := packageName("edge", n); got != "edge"+n {
			t.Errorf("packageName(edge, %s) = %s, want edge%s", n, got, n)
		}
	}
	for _, n := range []string{"streams", "poll", "p", "px", "pa1", "xr", "types", "tls"} {
		want := n
		if n == "p" {
			want = "edgep"
		}
		if got := packageName("edge", n); got != want {
			t.Errorf("packageName(edge, %s) = %s, want %s", n, got, want)
		}
	}
}
