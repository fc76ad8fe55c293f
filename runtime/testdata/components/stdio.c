// stdio reads its standard input to its end and writes a line to its
// standard output, through wasi:cli's streams (the preview1 adapter), and
// says on stderr how each went.
#include <stdio.h>

int main(void) {
	char buf[4096];
	size_t total = 0, n;
	while ((n = fread(buf, 1, sizeof buf, stdin)) > 0)
		total += n;
	fprintf(stderr, "read %zu bytes: %s\n", total, ferror(stdin) ? "failed" : "end");
	size_t w = fwrite("hello\n", 1, 6, stdout);
	int ok = fflush(stdout) == 0 && w == 6;
	fprintf(stderr, "write: %s\n", ok ? "ok" : "failed");
	return 0;
}
