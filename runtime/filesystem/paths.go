package filesystem

// MaxPath is the longest path, in bytes, a guest may name in one call of
// wasi:filesystem or wasi_snapshot_preview1 (a symbolic link's target
// included): 4,095, Linux's PATH_MAX less the terminating NUL, the
// longest a native program may pass to one system call. A longer one
// fails with name-too-long (ENAMETOOLONG) before the host looks at it.
//
// os.Root, which resolves every path beneath a preopen, splits it into
// one string header (16 bytes) per component before it opens any, and
// its error names the whole path: a path of 16 MiB ("a/a/a/...") made the
// host allocate some 800 MiB in one call, and one of 64 MiB 3 GiB in 5 s
// of CPU that neither the guest's context nor Instance.Close could end,
// past what the guest's memory cap lets it hold.
const MaxPath = 4095
