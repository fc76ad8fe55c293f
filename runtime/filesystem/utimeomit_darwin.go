package filesystem

// utimeOmit is utimensat's UTIME_OMIT (sys/stat.h; golang.org/x/sys has
// none for darwin): that time is left unchanged.
const utimeOmit = -2
