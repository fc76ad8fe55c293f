//go:build !unix

package filesystem

// openNonblock is 0 where named pipes are not opened by path.
const openNonblock = 0
