package filesystem

// utimeOmit is utimensat's UTIME_OMIT (sys/stat.h; golang.org/x/sys has
// none for netbsd): that time is left unchanged.
const utimeOmit = (1 << 30) - 2
