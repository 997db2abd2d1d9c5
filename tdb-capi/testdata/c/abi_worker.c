/* Multi-process and hostile-file modes of the C test program.
 *
 * `create FILE [mutex]` makes the shared file (a robust-mutex one with `mutex`: created
 * with TDB_CLEAR_IF_FIRST, as Samba does, then opened by everyone without it).
 * `worker FILE ID ROUNDS [mutex]`: each round a transaction (increments "tx_count",
 * stores "w<ID>-<round>"), a chain-locked increment of "cl_count", a temporary record,
 * and a read traverse (a write one on a robust-mutex file) that validates every record;
 * every fifth round a write traverse deletes the worker's temporary records. It prints
 * how many of each succeeded, so the test knows what the file must hold.
 * `verify FILE [mutex]` checks and summarises the file.
 * `circular DIR` makes a chain that points at itself and reads through it. */
#include "abi.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int fetch_int(struct tdb_context *tdb, const char *key)
{
	TDB_DATA d = tdb_fetch(tdb, abi_str(key));
	char buf[32] = {0};
	if (d.dptr == NULL) {
		return 0;
	}
	memcpy(buf, d.dptr, d.dsize < sizeof(buf) - 1 ? d.dsize : sizeof(buf) - 1);
	free(d.dptr);
	return atoi(buf);
}

static int store_int(struct tdb_context *tdb, const char *key, int value)
{
	char buf[32];
	snprintf(buf, sizeof(buf), "%d", value);
	return tdb_store(tdb, abi_str(key), abi_str(buf), TDB_REPLACE);
}

static int tx_round(struct tdb_context *tdb, int id, int round)
{
	char key[32], val[32];
	if (tdb_transaction_start(tdb) != 0) {
		return 0;
	}
	snprintf(key, sizeof(key), "w%d-%d", id, round);
	snprintf(val, sizeof(val), "round %d", round);
	if (store_int(tdb, "tx_count", fetch_int(tdb, "tx_count") + 1) != 0 ||
	    tdb_store(tdb, abi_str(key), abi_str(val), TDB_INSERT) != 0) {
		tdb_transaction_cancel(tdb);
		return 0;
	}
	return tdb_transaction_commit(tdb) == 0;
}

static int chainlock_round(struct tdb_context *tdb)
{
	int ok;
	if (tdb_chainlock(tdb, abi_str("cl_count")) != 0) {
		return 0;
	}
	ok = store_int(tdb, "cl_count", fetch_int(tdb, "cl_count") + 1) == 0;
	return tdb_chainunlock(tdb, abi_str("cl_count")) == 0 && ok;
}

static int validate(struct tdb_context *tdb, TDB_DATA key, TDB_DATA data, void *p)
{
	int *bad = p;
	(void)tdb;
	if (key.dsize == 0 || data.dsize == 0 || data.dsize > 64) {
		(*bad)++;
	}
	return 0;
}

static int drop_own_tmp(struct tdb_context *tdb, TDB_DATA key, TDB_DATA data, void *p)
{
	const char *prefix = p;
	(void)data;
	if (key.dsize > strlen(prefix) && memcmp(key.dptr, prefix, strlen(prefix)) == 0) {
		return tdb_delete(tdb, key) == 0 ? 0 : -1;
	}
	return 0;
}

int abi_create_shared(const char *path, int flags)
{
	int create = flags | TDB_NOSYNC | (flags & TDB_MUTEX_LOCKING ? TDB_CLEAR_IF_FIRST : 0);
	struct tdb_context *tdb = tdb_open_ex(path, 31, create, O_RDWR | O_CREAT | O_EXCL, 0600,
					      &abi_log_ctx, NULL);
	if (tdb == NULL) {
		printf("create: failed\n");
		return 1;
	}
	printf("create: flags=%d\n", tdb_get_flags(tdb));
	return tdb_close(tdb) == 0 ? 0 : 1;
}

int abi_worker(const char *path, int id, int rounds, int flags)
{
	struct tdb_context *tdb = tdb_open_ex(path, 0, flags | TDB_NOSYNC, O_RDWR, 0,
					      &abi_log_ctx, NULL);
	int tx = 0, cl = 0, reads = 0, bad = 0, sweeps = 0;
	char prefix[16];
	if (tdb == NULL) {
		printf("worker %d: open failed\n", id);
		return 1;
	}
	snprintf(prefix, sizeof(prefix), "tmp%d-", id);
	for (int round = 0; round < rounds; round++) {
		char key[32];
		tx += tx_round(tdb, id, round);
		cl += chainlock_round(tdb);
		snprintf(key, sizeof(key), "%s%d", prefix, round);
		tdb_store(tdb, abi_str(key), abi_str("temporary"), TDB_REPLACE);
		/* On a robust-mutex file a read traverse holds a record's fcntl lock while it
		 * waits for the next chain's mutex, which a committing transaction holds while
		 * it waits for that record's lock: C tdb deadlocks there too, with itself. A
		 * write traverse takes the transaction lock first, so it validates instead. */
		if (flags & TDB_MUTEX_LOCKING) {
			reads += tdb_traverse(tdb, validate, &bad) >= 0;
		} else {
			reads += tdb_traverse_read(tdb, validate, &bad) >= 0;
		}
		if (round % 5 == 4 || round == rounds - 1) {
			sweeps += tdb_traverse(tdb, drop_own_tmp, prefix) >= 0;
		}
	}
	printf("worker %d: tx=%d cl=%d reads=%d bad=%d sweeps=%d\n", id, tx, cl, reads, bad,
	       sweeps);
	return tdb_close(tdb) == 0 ? 0 : 1;
}

static int count_record(struct tdb_context *tdb, TDB_DATA key, TDB_DATA data, void *p)
{
	int *counts = p;
	(void)tdb;
	(void)data;
	counts[0]++;
	if (key.dsize > 1 && key.dptr[0] == 'w') {
		counts[1]++;
	}
	if (key.dsize > 3 && memcmp(key.dptr, "tmp", 3) == 0) {
		counts[2]++;
	}
	return 0;
}

int abi_verify(const char *path, int flags)
{
	struct tdb_context *tdb = tdb_open_ex(path, 0, flags, O_RDWR, 0, &abi_log_ctx, NULL);
	int counts[3] = {0, 0, 0};
	if (tdb == NULL) {
		printf("verify: open failed\n");
		return 1;
	}
	printf("check: %d\n", tdb_check(tdb, NULL, NULL));
	tdb_traverse_read(tdb, count_record, counts);
	printf("records=%d w=%d tmp=%d tx_count=%d cl_count=%d\n", counts[0], counts[1],
	       counts[2], fetch_int(tdb, "tx_count"), fetch_int(tdb, "cl_count"));
	return tdb_close(tdb) == 0 ? 0 : 1;
}

/* Points the first record of the list whose head is at `head` (168: the freelist, 172:
 * chain 0) at itself. */
static int make_loop(const char *path, off_t head)
{
	unsigned int top;
	int fd = open(path, O_RDWR);
	int ok = fd >= 0 && pread(fd, &top, 4, head) == 4 && top != 0 &&
		 pwrite(fd, &top, 4, top) == 4;
	if (fd >= 0) {
		close(fd);
	}
	return ok ? 0 : -1;
}

/* Creates dir/name with hash_size 1 (every key in chain 0) and two records, then makes
 * the list at `head` loop; returns the file opened again. */
static struct tdb_context *looped(const char *dir, const char *name, off_t head)
{
	struct tdb_context *tdb = abi_create(dir, name, 1, 0);
	tdb_store(tdb, abi_str("a"), abi_str("1"), TDB_INSERT);
	tdb_store(tdb, abi_str("b"), abi_str("2"), TDB_INSERT);
	tdb_close(tdb);
	printf("%s looped: %d\n", name, make_loop(abi_path(dir, name), head));
	tdb = tdb_open_ex(abi_path(dir, name), 0, 0, O_RDWR, 0, &abi_log_ctx, NULL);
	printf("open: %s\n", tdb ? "ok" : "NULL");
	return tdb;
}

/* tdb_rescue's callback: prints what it recovers (in file order, so both agree). */
static void rescued(TDB_DATA key, TDB_DATA data, void *p)
{
	(void)p;
	printf("  rescued [%.*s]=[%.*s]\n", (int)key.dsize, (const char *)key.dptr,
	       (int)data.dsize, (const char *)data.dptr);
}

int abi_circular(const char *dir)
{
	char big[10000];
	struct tdb_context *tdb = looped(dir, "chainloop.tdb", 168 + 4);
	if (tdb == NULL) {
		return 1;
	}
	abi_fail("check", tdb_check(tdb, NULL, NULL), tdb);
	abi_data("fetch missing key", tdb_fetch(tdb, abi_str("zzz")), tdb);
	abi_fail("store new key", tdb_store(tdb, abi_str("zzz"), abi_str("3"), TDB_INSERT), tdb);
	abi_fail("traverse", tdb_traverse(tdb, NULL, NULL), tdb);
	abi_fail("rescue", tdb_rescue(tdb, rescued, NULL), tdb);
	tdb_close(tdb);

	tdb = looped(dir, "freeloop.tdb", 168);
	if (tdb == NULL) {
		return 1;
	}
	abi_fail("check", tdb_check(tdb, NULL, NULL), tdb);
	abi_fail("validate_freelist", tdb_validate_freelist(tdb, &(int){0}), tdb);
	/* C tdb follows the loop for ever from here on; the test runs this under a time
	 * limit and accepts C's timeout. */
	abi_fail("freelist_size", tdb_freelist_size(tdb), tdb);
	memset(big, 'x', sizeof(big));
	abi_fail("store a record no free block fits",
		 tdb_store(tdb, abi_str("big"), (TDB_DATA){(unsigned char *)big, sizeof(big)},
			   TDB_INSERT),
		 tdb);
	tdb_close(tdb);
	return 0;
}
