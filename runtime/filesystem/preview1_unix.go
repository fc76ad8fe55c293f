//go:build unix

package filesystem

import (
	"os"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	wazerosys "github.com/tetratelabs/wazero/sys"
	"golang.org/x/sys/unix"
)

// control runs fn on f's descriptor without changing its blocking mode
// (os.File.Fd would).
func control(f *os.File, fn func(fd int) error) experimentalsys.Errno {
	rc, err := f.SyscallConn()
	if err != nil {
		return experimentalsys.UnwrapOSError(err)
	}
	var opErr error
	if err := rc.Control(func(fd uintptr) { opErr = fn(int(fd)) }); err != nil {
		return experimentalsys.UnwrapOSError(err)
	}
	return experimentalsys.UnwrapOSError(opErr)
}

// setAppend sets or clears O_APPEND on the open file.
func setAppend(f *os.File, enable bool) experimentalsys.Errno {
	return control(f, func(fd int) error {
		fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
		if err != nil {
			return err
		}
		if enable {
			fl |= unix.O_APPEND
		} else {
			fl &^= unix.O_APPEND
		}
		_, err = unix.FcntlInt(uintptr(fd), unix.F_SETFL, fl)
		return err
	})
}

func setNonblock(f *os.File, enable bool) experimentalsys.Errno {
	return control(f, func(fd int) error { return unix.SetNonblock(fd, enable) })
}

// readOnce reads with one system call, which says EAGAIN rather than wait.
func readOnce(f *os.File, buf []byte) (n int, err error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, err
	}
	if cerr := rc.Read(func(fd uintptr) bool {
		n, err = unix.Read(int(fd), buf)
		return true
	}); cerr != nil {
		return 0, cerr
	}
	return max(n, 0), err
}

// writeOnce writes with one system call, which says EAGAIN rather than
// wait.
func writeOnce(f *os.File, buf []byte) (n int, err error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, err
	}
	if cerr := rc.Write(func(fd uintptr) bool {
		n, err = unix.Write(int(fd), buf)
		return true
	}); cerr != nil {
		return 0, cerr
	}
	return max(n, 0), err
}

// futimens sets the open file's times (at microsecond precision, the
// portable futimes); UTIME_OMIT keeps the current one.
func futimens(f *os.File, atim, mtim int64) experimentalsys.Errno {
	if atim == experimentalsys.UTIME_OMIT || mtim == experimentalsys.UTIME_OMIT {
		info, err := f.Stat()
		if err != nil {
			return experimentalsys.UnwrapOSError(err)
		}
		st := wazerosys.NewStat_t(info)
		if atim == experimentalsys.UTIME_OMIT {
			atim = st.Atim
		}
		if mtim == experimentalsys.UTIME_OMIT {
			mtim = st.Mtim
		}
	}
	tv := []unix.Timeval{unix.NsecToTimeval(atim), unix.NsecToTimeval(mtim)}
	return control(f, func(fd int) error { return unix.Futimes(fd, tv) })
}
