/* The debugging and maintenance calls: summary, printfreelist, dump_all,
 * validate_freelist, freelist_size, check (with a callback), rescue, wipe_all, repack,
 * set_max_dead, and the two ways to set the log function. */
#include "abi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_record(TDB_DATA key, TDB_DATA data, void *p)
{
	int *n = p;
	(void)data;
	(*n)++;
	/* Refuse one record: tdb_check must fail with CORRUPT. */
	return key.dsize == 5 && memcmp(key.dptr, "bad00", 5) == 0 ? -1 : 0;
}

static void rescue_record(TDB_DATA key, TDB_DATA data, void *p)
{
	int *n = p;
	(void)key;
	(void)data;
	(*n)++;
}

static int other_log_calls;

static void other_log(struct tdb_context *tdb, enum tdb_debug_level level, const char *fmt,
		      ...)
{
	(void)tdb;
	(void)level;
	(void)fmt;
	other_log_calls++;
}

static void fill(struct tdb_context *tdb, const char *prefix, int n)
{
	for (int i = 0; i < n; i++) {
		char key[32], val[64];
		snprintf(key, sizeof(key), "%s%02d", prefix, i);
		snprintf(val, sizeof(val), "value of %s %d", prefix, i * i);
		tdb_store(tdb, abi_str(key), abi_str(val), TDB_REPLACE);
	}
}

static void freelist_calls(struct tdb_context *tdb)
{
	int entries = -1;
	char *summary;
	abi_rc("validate_freelist", tdb_validate_freelist(tdb, &entries), tdb);
	printf("validate_freelist entries: %d\n", entries);
	abi_rc("freelist_size", tdb_freelist_size(tdb), tdb);
	printf("printfreelist output:\n");
	abi_flush();
	abi_rc("printfreelist", tdb_printfreelist(tdb), tdb);
	abi_flush();
	summary = tdb_summary(tdb);
	printf("summary:\n%s", summary ? summary : "NULL\n");
	free(summary); /* malloc'ed by the library */
}

static void check_calls(struct tdb_context *tdb)
{
	int seen = 0;
	abi_rc("check without callback", tdb_check(tdb, NULL, NULL), tdb);
	abi_rc("check with callback", tdb_check(tdb, check_record, &seen), tdb);
	printf("check callback saw: %d\n", seen);
	tdb_store(tdb, abi_str("bad00"), abi_str("refused by the callback"), TDB_REPLACE);
	seen = 0;
	abi_fail("check refusing a record", tdb_check(tdb, check_record, &seen), tdb);
	seen = 0;
	abi_rc("rescue", tdb_rescue(tdb, rescue_record, &seen), tdb);
	printf("rescue saw: %d\n", seen);
}

static void log_setters(struct tdb_context *tdb)
{
	struct tdb_logging_context ctx = {other_log, &other_log_calls};
	tdb_set_logging_function(tdb, &ctx);
	printf("set_logging_function: log_fn is new %d, private is new %d\n",
	       tdb_log_fn(tdb) == other_log, tdb_get_logging_private(tdb) == &other_log_calls);
	tdb_chainunlock(tdb, abi_str("not locked")); /* logs an error */
	printf("new log function called: %d\n", other_log_calls > 0);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
	tdb_logging_function(tdb, abi_log_fn); /* deprecated, still exported */
#pragma GCC diagnostic pop
	printf("logging_function: log_fn is ours %d\n", tdb_log_fn(tdb) == abi_log_fn);
	abi_logged();
}

void abi_debug_calls(const char *dir)
{
	struct tdb_context *tdb = abi_create(dir, "debug.tdb", 3, TDB_NOSYNC);
	printf("== debug calls\n");
	tdb_set_max_dead(tdb, 2);
	fill(tdb, "rec", 20);
	for (int i = 0; i < 20; i += 3) {
		char key[32];
		snprintf(key, sizeof(key), "rec%02d", i);
		tdb_delete(tdb, abi_str(key));
	}
	freelist_calls(tdb);
	printf("dump_all output:\n");
	abi_flush();
	tdb_dump_all(tdb);
	abi_flush();
	check_calls(tdb);
	abi_rc("repack", tdb_repack(tdb), tdb);
	freelist_calls(tdb);
	abi_rc("wipe_all", tdb_wipe_all(tdb), tdb);
	abi_rc("traverse after wipe_all", tdb_traverse(tdb, NULL, NULL), tdb);
	fill(tdb, "again", 4);
	freelist_calls(tdb);
	log_setters(tdb);
	abi_rc("close", tdb_close(tdb), NULL);
	abi_file("debug.tdb", abi_path(dir, "debug.tdb"));
}
