// p1times sets the times of each path it is given with
// utimensat(AT_SYMLINK_NOFOLLOW), which wasi-libc makes
// path_filestat_set_times without the symlink-follow flag, to
// 1500000000.123 s (access) and 1600000000.456 s (modification), and
// prints one line per path: the path and the errno (0 for success).
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

int main(int argc, char **argv) {
	struct timespec ts[2] = {{1500000000, 123000000}, {1600000000, 456000000}};
	for (int i = 1; i < argc; i++) {
		int rc = utimensat(AT_FDCWD, argv[i], ts, AT_SYMLINK_NOFOLLOW);
		printf("%s %d\n", argv[i], rc == 0 ? 0 : errno);
	}
	return 0;
}
