// files reads, lists and writes through two preopens, /ro (read-only) and
// /rw, and reports what the host refused: a write to /ro, paths outside
// the preopens.
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp(const void *a, const void *b) { return strcmp(*(char **)a, *(char **)b); }

static void try_open(const char *path, const char *mode) {
	FILE *f = fopen(path, mode);
	if (f) {
		printf("open %s %s: ok\n", path, mode);
		fclose(f);
	} else {
		printf("open %s %s: refused\n", path, mode);
	}
}

int main(void) {
	char buf[64] = {0};
	FILE *f = fopen("/ro/in.txt", "r");
	if (!f) {
		printf("read: %s\n", strerror(errno));
		return 1;
	}
	fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	printf("read: %s\n", buf);

	DIR *d = opendir("/ro");
	char *names[16];
	int n = 0;
	struct dirent *e;
	while (d && (e = readdir(d)) && n < 16)
		if (e->d_name[0] != '.')
			names[n++] = strdup(e->d_name);
	if (d)
		closedir(d);
	qsort(names, n, sizeof names[0], cmp);
	for (int i = 0; i < n; i++)
		printf("list: %s\n", names[i]);

	FILE *w = fopen("/rw/out.txt", "w");
	if (!w || fputs("written by a component\n", w) < 0 || fclose(w) != 0) {
		printf("write /rw/out.txt: failed\n");
		return 1;
	}
	printf("write /rw/out.txt: ok\n");
	try_open("/ro/new.txt", "w");
	try_open("/ro/../outside.txt", "r");
	try_open("/outside.txt", "r");
	return 0;
}
