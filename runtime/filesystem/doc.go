// Package filesystem implements the host side of wasi:filesystem 0.2
// (types and preopens) over the directories the embedder preopens.
//
// # Model
//
// An [FS] is the file system one guest instance sees: its preopens, each a
// host directory opened as an [os.Root] under the path the guest knows it
// by, possibly read-only. Every descriptor the guest holds is either a
// directory, backed by its own os.Root (opened beneath the directory it
// was opened at), or a file, backed by an *os.File opened through such a
// root. Every path a guest names is resolved by os.Root, component by
// component, without leaving the directory descriptor it is relative to:
// ".." beyond it, absolute paths and symbolic links whose target lies
// outside it (absolute targets, or relative ones climbing out) fail with
// not-permitted, whatever the symlink-follow flag says. The confinement is
// the standard library's (openat-based on Unix), not a lexical check, so
// a symbolic link planted inside a preopen cannot lead out of it.
//
// wazero's experimental sysfs.DirFS joins paths textually and lets the
// operating system follow symbolic links, so it is not the confinement
// used here; this package takes from wazero its file status
// (sys.NewStat_t). For wasi_snapshot_preview1, which wazero serves from
// experimental sys.FS mounts, [FS.Preview1] returns, per preopen, an
// sys.FS over the same os.Root (in sysfs.ReadFS when read-only): every
// path operation is one os.Root call, so a path is resolved and acted on
// in one step, and no symbolic link swapped in between a check and the
// operation (by another guest over the same host directory) can lead
// out. Its files are *os.File opened through the root; their methods act
// on the open file, never on its path again.
//
// A read-only preopen refuses every change beneath it with read-only:
// opening for writing, creating, truncating, removing, renaming, linking,
// setting sizes and times. A descriptor opened without the write flag
// refuses writes with bad-descriptor; one without mutate-directory refuses
// changes beneath it with not-permitted.
//
// Files are shared by reference: a descriptor and the streams made from
// it (read-via-stream, write-via-stream, append-via-stream, wasi:io
// streams over the file at an offset) hold one reference each, and the
// file closes when the last of them is dropped. Directory-entry streams
// own a directory handle of their own. Every open host file or directory
// counts toward the instance's file limit ([FS.SetLimit]), and so does
// every stream over a file, which holds a goroutine once used and, for
// input, what it reads ahead; past it, open-at, read-directory and the
// stream functions fail with insufficient-memory. Files wasi_snapshot_preview1 opens count toward the
// same limit (past it path_open fails with EIO; see [FS.Preview1]).
// Each open host file and directory (not a stream, which holds none of
// its own) also takes a unit of a descriptor budget the FS may share
// with the guest's sockets and other guests ([FS.SetDescriptorBudget]:
// the runtime's is the process's descriptor pool), refused as past the
// file limit, so that guests each within their limit cannot together
// take every descriptor of the process.
//
// What the guest adds to the host's disk beneath its preopens, through
// either interface, counts against its disk quota ([FS.SetDiskLimit],
// [DefaultDiskBytes]): the bytes by which it makes regular files larger,
// at whatever offset, [NameBytes] for each name it makes, and what the
// directories it makes names in grow by (given back when the directory
// is removed: an emptied directory keeps its blocks), less the
// names it removes and the bytes of its growth that leave the disk: by
// making files smaller, or removing a file's last link when no guest of
// the process holds it open (else at the last close). Each guest gets
// back its own share of a file only, whoever shrinks or removes it: a
// guest gains nothing by removing another's file or one that was there
// before, and does not keep paying for its bytes another removed (see
// diskQuota for the rule). A change past it
// fails whole with quota (wasi_snapshot_preview1: EIO from wazero, which
// the runtime answers EDQUOT; see [FS.RefusedIn]).
//
// Host errors become error codes by their errno ([CodeOf]); a stream's
// error resource names its error code through filesystem-error-code.
//
// # Not supported
//
// advise is accepted and ignored. Opening a path whose last component is
// a symbolic link without symlink-follow fails with loop, as POSIX
// O_NOFOLLOW does. rename-at and link-at between descriptors of different
// preopens fail with cross-device. Those two, between two directory
// descriptors, and set-times on a file where the host cannot set an open
// file's times (on Linux it does, futimens) go through the path the guest
// opened the descriptor by; when that path no longer leads to the same
// file or directory (it went through a symbolic link and "..", or the
// file was renamed since), they fail with unsupported.
package filesystem
