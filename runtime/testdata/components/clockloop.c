// clockloop reads the wall clock N times (its argument) through wasi-libc's
// clock_gettime and prints how many readings were past the epoch: as a
// core module, wasi_snapshot_preview1.clock_time_get; as a command
// component, the preview1 adapter's clock_time_get over
// wasi:clocks/wall-clock.now.
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv) {
	long n = argc > 1 ? atol(argv[1]) : 0;
	long past = 0;
	struct timespec ts;
	for (long i = 0; i < n; i++) {
		clock_gettime(CLOCK_REALTIME, &ts);
		past += ts.tv_sec > 0;
	}
	printf("%ld\n", past);
	return 0;
}
