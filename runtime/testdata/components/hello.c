// hello prints its arguments and one environment variable to stdout, a line
// to stderr, and exits with the code given as its last argument (through
// the preview1 adapter, whose wasi:cli/exit 0.2 carries only ok or err).
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
	for (int i = 0; i < argc; i++)
		printf("arg %d: %s\n", i, argv[i]);
	const char *v = getenv("GREETING");
	printf("GREETING=%s\n", v ? v : "(unset)");
	fprintf(stderr, "to stderr\n");
	return argc > 1 ? atoi(argv[argc - 1]) : 0;
}
