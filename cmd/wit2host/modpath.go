package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

// checkPkg reports an error when pkg is not the Go import path of out as
// the Go module holding out says: the generated packages import each other
// under pkg, so a wrong -pkg builds only until one interface uses another's
// types, and then fails with "no required module provides package". Out
// outside any module (no go.mod above it) is not checked.
func checkPkg(out, pkg string) error {
	dir, err := filepath.Abs(out)
	if err != nil {
		return nil
	}
	for rel := ""; ; {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil {
			mod, ok := modulePath(data)
			if !ok {
				return nil
			}
			want := path.Join(mod, rel)
			if pkg != want {
				return fmt.Errorf("-pkg %s is not the import path of -out %s: the module %s (%s) has it at %s",
					pkg, out, mod, filepath.Join(dir, "go.mod"), want)
			}
			return nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return nil
		}
		rel = path.Join(filepath.Base(dir), rel)
		dir = parent
	}
}

// modulePath returns the path of go.mod's module directive.
func modulePath(gomod []byte) (string, bool) {
	sc := bufio.NewScanner(bytes.NewReader(gomod))
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "//")
		f := strings.Fields(line)
		if len(f) != 2 || f[0] != "module" {
			continue
		}
		if p, err := strconv.Unquote(f[1]); err == nil {
			return p, true
		}
		return f[1], true
	}
	return "", false
}
