/* Walking the database: firstkey/nextkey, traverse (printing, deleting, modifying,
 * stopping early), traverse_read (writes refused), traverse_chain and
 * traverse_key_chain, tdb_jenkins_hash. */
#include "abi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int print_record(struct tdb_context *tdb, TDB_DATA key, TDB_DATA data, void *p)
{
	(void)tdb;
	printf("  %s [%.*s]=[%.*s]\n", (const char *)p, (int)key.dsize,
	       (const char *)key.dptr, (int)data.dsize, (const char *)data.dptr);
	return 0;
}

static int delete_odd(struct tdb_context *tdb, TDB_DATA key, TDB_DATA data, void *p)
{
	int *n = p;
	(void)data;
	if ((*n)++ % 2 == 1) {
		int rc = tdb_delete(tdb, key);
		printf("  delete inside traverse [%.*s]: rc=%d\n", (int)key.dsize,
		       (const char *)key.dptr, rc);
	}
	return 0;
}

static int rewrite(struct tdb_context *tdb, TDB_DATA key, TDB_DATA data, void *p)
{
	char buf[256];
	(void)p;
	snprintf(buf, sizeof(buf), "%.*s!", (int)data.dsize, (const char *)data.dptr);
	return tdb_store(tdb, key, abi_str(buf), TDB_MODIFY) == 0 ? 0 : -1;
}

static int stop_after_two(struct tdb_context *tdb, TDB_DATA key, TDB_DATA data, void *p)
{
	int *n = p;
	(void)tdb;
	(void)key;
	(void)data;
	return ++(*n) >= 2;
}

static int store_in_read(struct tdb_context *tdb, TDB_DATA key, TDB_DATA data, void *p)
{
	int *rc = p;
	(void)data;
	*rc = tdb_store(tdb, key, abi_str("no"), TDB_REPLACE);
	printf("  store inside traverse_read: rc=%d err=%s\n", *rc, abi_errname(tdb_error(tdb)));
	return 1;
}

static void walk_keys(struct tdb_context *tdb)
{
	TDB_DATA key = tdb_firstkey(tdb);
	printf("firstkey/nextkey:");
	while (key.dptr != NULL) {
		TDB_DATA next;
		printf(" [%.*s]", (int)key.dsize, (const char *)key.dptr);
		next = tdb_nextkey(tdb, key);
		free(key.dptr);
		key = next;
	}
	printf(" end err=%s\n", abi_errname(tdb_error(tdb)));
}

static void chains(struct tdb_context *tdb)
{
	TDB_DATA k = abi_str("key05");
	for (unsigned chain = 0; chain < 5; chain++) {
		char what[64];
		snprintf(what, sizeof(what), "chain%u", chain);
		abi_rc(what, tdb_traverse_chain(tdb, chain, print_record, what), tdb);
	}
	abi_rc("traverse_key_chain key05",
	       tdb_traverse_key_chain(tdb, k, print_record, "keychain"), tdb);
	printf("jenkins_hash key05: %u\n", tdb_jenkins_hash(&k));
}

void abi_traverses(const char *dir)
{
	struct tdb_context *tdb = abi_create(dir, "traverse.tdb", 5, TDB_NOSYNC);
	int n = 0, rc = 0;
	printf("== traverses\n");
	for (int i = 0; i < 12; i++) {
		char key[16], val[16];
		snprintf(key, sizeof(key), "key%02d", i);
		snprintf(val, sizeof(val), "val%d", i);
		tdb_store(tdb, abi_str(key), abi_str(val), TDB_INSERT);
	}
	walk_keys(tdb);
	abi_rc("traverse print", tdb_traverse(tdb, print_record, "all"), tdb);
	abi_rc("traverse count (no fn)", tdb_traverse(tdb, NULL, NULL), tdb);
	abi_rc("traverse stop after two", tdb_traverse(tdb, stop_after_two, &n), tdb);
	abi_rc("traverse delete odd", tdb_traverse(tdb, delete_odd, &(int){0}), tdb);
	abi_rc("traverse rewrite", tdb_traverse(tdb, rewrite, NULL), tdb);
	abi_rc("traverse_read print", tdb_traverse_read(tdb, print_record, "read"), tdb);
	abi_rc("traverse_read store", tdb_traverse_read(tdb, store_in_read, &rc), tdb);
	chains(tdb);
	walk_keys(tdb);
	abi_rc("close", tdb_close(tdb), NULL);
	abi_file("traverse.tdb", abi_path(dir, "traverse.tdb"));
}
