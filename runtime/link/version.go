package link

import (
	"strconv"
	"strings"
)

// version is a parsed semantic version: MAJOR.MINOR.PATCH[-pre].
type version struct {
	major, minor, patch int
	pre                 string
}

// parseVersion parses a semantic version without build metadata.
func parseVersion(s string) (version, bool) {
	core, pre, _ := strings.Cut(s, "-")
	parts := strings.Split(core, ".")
	if len(parts) != 3 {
		return version{}, false
	}
	var n [3]int
	for i, p := range parts {
		if p == "" || len(p) > 1 && p[0] == '0' {
			return version{}, false
		}
		v, err := strconv.Atoi(p)
		if err != nil || v < 0 {
			return version{}, false
		}
		n[i] = v
	}
	return version{n[0], n[1], n[2], pre}, true
}

// serves reports whether an implementation at version impl serves imports
// at version want.
func (impl version) serves(want version) bool {
	if impl.pre != "" || want.pre != "" {
		return impl == want
	}
	return impl.major == want.major && impl.minor == want.minor
}

// newer orders versions, newest first; releases before pre-releases of the
// same numbers.
func (a version) newer(b version) bool {
	if a.major != b.major {
		return a.major > b.major
	}
	if a.minor != b.minor {
		return a.minor > b.minor
	}
	if a.patch != b.patch {
		return a.patch > b.patch
	}
	return a.pre == "" && b.pre != "" || a.pre != "" && b.pre != "" && a.pre > b.pre
}

// splitModule splits "ns:pkg/iface@1.2.3" into its interface and version.
func splitModule(module string) (iface, ver string) {
	i := strings.LastIndexByte(module, '@')
	if i < 0 {
		return module, ""
	}
	return module[:i], module[i+1:]
}
