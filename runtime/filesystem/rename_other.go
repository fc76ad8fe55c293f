//go:build !linux

package filesystem

import "os"

// renameNoReplace renames old to new beneath root: off Linux it replaces
// what new names, as root.Rename does (see diskQuota.rename).
func renameNoReplace(root *os.Root, old, new string) error {
	return root.Rename(old, new)
}
