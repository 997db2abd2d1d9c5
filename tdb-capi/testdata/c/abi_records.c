/* Opening with a custom hash and log context, the handle's accessors, and the record
 * calls: store (each flag), storev, append, fetch, parse_record, exists, delete. */
#include "abi.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>

static int hash_calls;

/* A custom hash (FNV-1a): tdb_open_ex must use it for every key. */
static unsigned int fnv_hash(TDB_DATA *key)
{
	unsigned int h = 2166136261u;
	hash_calls++;
	for (size_t i = 0; i < key->dsize; i++) {
		h = (h ^ key->dptr[i]) * 16777619u;
	}
	return h;
}

static int parse_len(TDB_DATA key, TDB_DATA data, void *private_data)
{
	int *seen = private_data;
	*seen = (int)(key.dsize * 1000 + data.dsize);
	return 7; /* parse_record returns the parser's result */
}

static void accessors(struct tdb_context *tdb, const char *name)
{
	printf("tdb_name matches: %d\n", strcmp(tdb_name(tdb), name) == 0);
	printf("tdb_fd valid: %d\n", tdb_fd(tdb) >= 0);
	printf("tdb_log_fn is ours: %d\n", tdb_log_fn(tdb) == abi_log_fn);
	printf("tdb_get_logging_private is ours: %d\n",
	       tdb_get_logging_private(tdb) == &abi_log_private);
	printf("tdb_hash_size: %d\n", tdb_hash_size(tdb));
	printf("tdb_get_flags: %d\n", tdb_get_flags(tdb));
	printf("tdb_map_size: %zu\n", tdb_map_size(tdb));
}

static void stores(struct tdb_context *tdb)
{
	TDB_DATA parts[3] = {abi_str("a"), abi_str("bc"), abi_str("def")};
	abi_rc("store insert k1", tdb_store(tdb, abi_str("k1"), abi_str("v1"), TDB_INSERT), tdb);
	abi_rc("store insert k1 again",
	       tdb_store(tdb, abi_str("k1"), abi_str("xx"), TDB_INSERT), tdb);
	abi_rc("store replace k2", tdb_store(tdb, abi_str("k2"), abi_str("v2"), TDB_REPLACE),
	       tdb);
	abi_rc("store modify k2", tdb_store(tdb, abi_str("k2"), abi_str("v2b"), TDB_MODIFY),
	       tdb);
	abi_rc("store modify missing",
	       tdb_store(tdb, abi_str("nope"), abi_str("x"), TDB_MODIFY), tdb);
	abi_rc("store default k3", tdb_store(tdb, abi_str("k3"), abi_str("v3"), 0), tdb);
	abi_rc("store bad flag", tdb_store(tdb, abi_str("k3"), abi_str("v3"), 99), tdb);
	abi_rc("storev k4", tdb_storev(tdb, abi_str("k4"), parts, 3, TDB_INSERT), tdb);
	abi_rc("storev empty k5", tdb_storev(tdb, abi_str("k5"), parts, 0, TDB_REPLACE), tdb);
	abi_rc("append k1", tdb_append(tdb, abi_str("k1"), abi_str("+more")), tdb);
	abi_rc("append new k6", tdb_append(tdb, abi_str("k6"), abi_str("fresh")), tdb);
	abi_rc("store empty key", tdb_store(tdb, tdb_null, abi_str("nullkey"), TDB_REPLACE),
	       tdb);
}

static void reads(struct tdb_context *tdb)
{
	int seen = 0;
	abi_data("fetch k1", tdb_fetch(tdb, abi_str("k1")), tdb);
	abi_data("fetch k2", tdb_fetch(tdb, abi_str("k2")), tdb);
	abi_data("fetch k4", tdb_fetch(tdb, abi_str("k4")), tdb);
	abi_data("fetch k5", tdb_fetch(tdb, abi_str("k5")), tdb);
	abi_data("fetch empty key", tdb_fetch(tdb, tdb_null), tdb);
	abi_data("fetch missing", tdb_fetch(tdb, abi_str("missing")), tdb);
	abi_rc("parse_record k6", tdb_parse_record(tdb, abi_str("k6"), parse_len, &seen), tdb);
	printf("parse_record k6 saw: %d\n", seen);
	abi_rc("parse_record missing",
	       tdb_parse_record(tdb, abi_str("missing"), parse_len, &seen), tdb);
	abi_rc("exists k3", tdb_exists(tdb, abi_str("k3")), tdb);
	abi_rc("exists missing", tdb_exists(tdb, abi_str("missing")), tdb);
	abi_rc("delete k3", tdb_delete(tdb, abi_str("k3")), tdb);
	abi_rc("delete k3 again", tdb_delete(tdb, abi_str("k3")), tdb);
	abi_rc("exists k3 after delete", tdb_exists(tdb, abi_str("k3")), tdb);
}

void abi_records(const char *dir)
{
	char name[4096];
	struct tdb_context *tdb;
	printf("== records\n");
	snprintf(name, sizeof(name), "%s", abi_path(dir, "records.tdb"));
	tdb = tdb_open_ex(name, 7, TDB_NOSYNC, O_RDWR | O_CREAT | O_TRUNC, 0600,
			  &abi_log_ctx, fnv_hash);
	printf("open_ex custom hash: %s\n", tdb ? "ok" : "NULL");
	if (tdb == NULL) {
		return;
	}
	accessors(tdb, name);
	hash_calls = 0;
	stores(tdb);
	reads(tdb);
	printf("custom hash used: %d\n", hash_calls > 0);
	printf("tdb_map_size after stores: %zu\n", tdb_map_size(tdb));
	abi_rc("close", tdb_close(tdb), NULL);
	abi_file("records.tdb", name);

	/* Reopening with the default hash must refuse a file made with another hash. */
	tdb = tdb_open_ex(name, 0, 0, O_RDWR, 0600, &abi_log_ctx, NULL);
	printf("reopen with default hash: %s log=%s\n", tdb ? "opened" : "NULL",
	       abi_log_seen());
	if (tdb != NULL) {
		tdb_close(tdb);
	}
	tdb = tdb_open_ex(name, 0, 0, O_RDWR, 0600, &abi_log_ctx, fnv_hash);
	printf("reopen with custom hash: %s\n", tdb ? "opened" : "NULL");
	if (tdb != NULL) {
		abi_data("fetch k4 after reopen", tdb_fetch(tdb, abi_str("k4")), tdb);
		tdb_close(tdb);
	}
}
