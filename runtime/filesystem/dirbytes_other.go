//go:build !unix

package filesystem

import "io/fs"

// dirBytes is what the directory info describes holds on disk: its size.
func dirBytes(info fs.FileInfo) int64 { return info.Size() }
