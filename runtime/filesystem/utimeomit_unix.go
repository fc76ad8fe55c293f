//go:build unix && !darwin && !netbsd

package filesystem

import "golang.org/x/sys/unix"

// utimeOmit is utimensat's UTIME_OMIT: that time is left unchanged.
const utimeOmit = unix.UTIME_OMIT
