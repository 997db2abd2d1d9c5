/* The C test program of the drop-in libtdb.so.1 (tdb-capi/tests): compiled against the
 * vendored tdb.h and linked dynamically, it calls every exported function. The test
 * runs it once on Debian's libtdb.so.1 and once on ours and compares the outputs.
 *
 *   abi_check api DIR              every call, one result per line
 *   abi_check circular DIR         a chain that loops (C hangs: run under a time limit)
 *   abi_check worker FILE ID N     one process of the two-libraries-on-one-file test
 *   abi_check verify FILE          check the file and summarise its records */
#include "abi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Prints the libtdb files this process maps to stderr (the test checks which one). */
static void mapped_libtdb(void)
{
	char line[4096];
	FILE *maps = fopen("/proc/self/maps", "r");
	while (maps != NULL && fgets(line, sizeof(line), maps) != NULL) {
		char *path = strchr(line, '/');
		if (path != NULL && strstr(path, "libtdb") != NULL) {
			fprintf(stderr, "mapped: %s", path);
		}
	}
	if (maps != NULL) {
		fclose(maps);
	}
}

static int api(const char *dir)
{
	mapped_libtdb();
	abi_records(dir);
	abi_traverses(dir);
	abi_locks(dir);
	abi_transactions(dir);
	abi_debug_calls(dir);
	abi_special_opens(dir);
	abi_errors(dir);
	printf("== done\n");
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 3 && strcmp(argv[1], "api") == 0) {
		return api(argv[2]);
	}
	if (argc == 3 && strcmp(argv[1], "circular") == 0) {
		return abi_circular(argv[2]);
	}
	if (argc == 5 && strcmp(argv[1], "worker") == 0) {
		return abi_worker(argv[2], atoi(argv[3]), atoi(argv[4]));
	}
	if (argc == 3 && strcmp(argv[1], "verify") == 0) {
		return abi_verify(argv[2]);
	}
	fprintf(stderr, "usage: abi_check api DIR | circular DIR | worker FILE ID ROUNDS | "
			"verify FILE\n");
	return 2;
}
