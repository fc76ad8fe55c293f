//go:build !unix

package hostfile

const openNonblock = 0
