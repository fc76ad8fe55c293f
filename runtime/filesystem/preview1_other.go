//go:build !unix

package filesystem

import (
	"os"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
)

// setAppend is not supported: os.File cannot change it on an open file.
func setAppend(_ *os.File, enable bool) experimentalsys.Errno {
	if enable {
		return experimentalsys.ENOSYS
	}
	return 0
}

// setNonblock is not supported: files here are opened blocking.
func setNonblock(_ *os.File, enable bool) experimentalsys.Errno {
	if enable {
		return experimentalsys.ENOSYS
	}
	return 0
}

func readOnce(f *os.File, buf []byte) (int, error)  { return f.Read(buf) }
func writeOnce(f *os.File, buf []byte) (int, error) { return f.Write(buf) }

// futimens is not supported on an open file here.
func futimens(*os.File, int64, int64) experimentalsys.Errno { return experimentalsys.ENOSYS }
