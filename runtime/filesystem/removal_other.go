//go:build !linux

package filesystem

import "os"

// holdFlags opens a file held across its removal (holdRemoved): to read,
// without waiting (a named pipe put in its place).
const holdFlags = os.O_RDONLY | openNonblock

// holdsAny: holdFlags would follow a symbolic link and open a device, so
// only regular files and directories are held.
const holdsAny = false
