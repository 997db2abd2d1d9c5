/* The C test program of the drop-in libtdb.so.1 (tdb-capi/tests): compiled against the
 * vendored tdb.h and linked dynamically, it calls every exported function. The test
 * runs it once on Debian's libtdb.so.1 and once on ours and compares the outputs.
 *
 *   abi_check api DIR              every call, one result per line
 *   abi_check circular DIR         a chain that loops (C hangs: run under a time limit)
 *   abi_check create FILE [mutex]  the two-libraries-on-one-file test: make the file,
 *   abi_check worker FILE ID N [mutex]   run one of its processes,
 *   abi_check verify FILE [mutex]  check the file and summarise its records
 *   abi_check robust               print tdb_runtime_check_for_robust_mutexes() */
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

/* TDB_MUTEX_LOCKING when the last argument is "mutex" (dropping it), else 0. */
static int mutex_arg(int *argc, char **argv)
{
	if (*argc > 3 && strcmp(argv[*argc - 1], "mutex") == 0) {
		(*argc)--;
		return TDB_MUTEX_LOCKING;
	}
	return 0;
}

int main(int argc, char **argv)
{
	int mutex = mutex_arg(&argc, argv);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 2 && strcmp(argv[1], "robust") == 0) {
		printf("%d\n", tdb_runtime_check_for_robust_mutexes());
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "create") == 0) {
		return abi_create_shared(argv[2], mutex);
	}
	if (argc == 3 && strcmp(argv[1], "api") == 0) {
		return api(argv[2]);
	}
	if (argc == 3 && strcmp(argv[1], "circular") == 0) {
		return abi_circular(argv[2]);
	}
	if (argc == 5 && strcmp(argv[1], "worker") == 0) {
		return abi_worker(argv[2], atoi(argv[3]), atoi(argv[4]), mutex);
	}
	if (argc == 3 && strcmp(argv[1], "verify") == 0) {
		return abi_verify(argv[2], mutex);
	}
	fprintf(stderr, "usage: abi_check api DIR | circular DIR | robust | create FILE [mutex] | "
			"worker FILE ID ROUNDS [mutex] | verify FILE [mutex]\n");
	return 2;
}
