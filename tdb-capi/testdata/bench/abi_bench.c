/* Single tdb operations through the C ABI, on whichever libtdb.so.1 the loader picks
 * (the benchmark runs it on Debian's and on ours). tdb-capi/tests/abi_bench.rs runs the
 * same operations on tdb-pure from Rust, with the same keys, sizes and order.
 *
 *   abi_bench FILE RECORDS HASH_SIZE
 *
 * prints "op nanoseconds-per-op" lines: fetch, store (replacing, same size), traverse
 * (per record), chainlock (lock + unlock), tx1 (a transaction of 1 store), tx1000 (of
 * 1000 stores, per transaction), delete. Transactions run with TDB_NOSYNC, so they
 * measure the work, not the disk. Every result is checked; a failure exits 1. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <tdb.h>

#define DATA_LEN 100

static struct tdb_context *tdb;
static long records;
/* The keys, made before any timing ("key%08ld"), so no op pays for formatting. */
static char (*keys)[32];

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static TDB_DATA key_of(long i)
{
	TDB_DATA k = {(unsigned char *)keys[i], 11};
	return k;
}

static void fail(const char *what, long i)
{
	fprintf(stderr, "abi_bench: %s %ld failed: %s\n", what, i, tdb_errorstr(tdb));
	exit(1);
}

static void store_all(unsigned char fill)
{
	unsigned char data[DATA_LEN];
	memset(data, fill, sizeof(data));
	for (long i = 0; i < records; i++) {
		TDB_DATA d = {data, sizeof(data)};
		if (tdb_store(tdb, key_of(i), d, TDB_REPLACE) != 0) {
			fail("store", i);
		}
	}
}

static void fetch_all(void)
{
	for (long i = 0; i < records; i++) {
		TDB_DATA d = tdb_fetch(tdb, key_of(i));
		if (d.dptr == NULL || d.dsize != DATA_LEN) {
			fail("fetch", i);
		}
		free(d.dptr);
	}
}

static int count(struct tdb_context *t, TDB_DATA k, TDB_DATA d, void *p)
{
	(void)t;
	(void)k;
	*(long *)p += (long)d.dsize;
	return 0;
}

static void traverse_all(void)
{
	long bytes = 0;
	if (tdb_traverse(tdb, count, &bytes) != records || bytes != records * DATA_LEN) {
		fail("traverse", 0);
	}
}

static void chainlock_all(void)
{
	for (long i = 0; i < records; i++) {
		TDB_DATA k = key_of(i);
		if (tdb_chainlock(tdb, k) != 0 || tdb_chainunlock(tdb, k) != 0) {
			fail("chainlock", i);
		}
	}
}

static void transactions(long count, long stores)
{
	unsigned char data[DATA_LEN];
	memset(data, 't', sizeof(data));
	for (long t = 0; t < count; t++) {
		if (tdb_transaction_start(tdb) != 0) {
			fail("transaction_start", t);
		}
		for (long s = 0; s < stores; s++) {
			TDB_DATA d = {data, sizeof(data)};
			if (tdb_store(tdb, key_of((t * stores + s) % records), d, TDB_REPLACE) != 0) {
				fail("store in transaction", s);
			}
		}
		if (tdb_transaction_commit(tdb) != 0) {
			fail("transaction_commit", t);
		}
	}
}

static void delete_all(void)
{
	for (long i = 0; i < records; i++) {
		if (tdb_delete(tdb, key_of(i)) != 0) {
			fail("delete", i);
		}
	}
}

/* Runs `op` and prints its time per unit. */
#define TIME(name, units, op)                                                  \
	do {                                                                   \
		double start = now_ns();                                       \
		op;                                                            \
		printf("%s %.1f\n", name, (now_ns() - start) / (double)(units)); \
	} while (0)

int main(int argc, char **argv)
{
	long tx1 = 1000, tx1000 = 10;
	if (argc != 4) {
		fprintf(stderr, "usage: abi_bench FILE RECORDS HASH_SIZE\n");
		return 2;
	}
	records = atol(argv[2]);
	keys = calloc(records > 0 ? records : 1, sizeof(*keys));
	for (long i = 0; i < records && records < 100000000; i++) {
		snprintf(keys[i], sizeof(keys[i]), "key%08ld", i);
	}
	tdb = tdb_open(argv[1], atoi(argv[3]), TDB_NOSYNC, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (tdb == NULL || records < 1000 || records >= 100000000) {
		fprintf(stderr, "abi_bench: cannot open %s (or RECORDS not in 1000..1e8)\n",
			argv[1]);
		return 1;
	}
	store_all('a');
	TIME("fetch", records, fetch_all());
	TIME("store", records, store_all('b'));
	TIME("traverse", records * 5, for (int r = 0; r < 5; r++) traverse_all());
	TIME("chainlock", records, chainlock_all());
	TIME("tx1", tx1, transactions(tx1, 1));
	TIME("tx1000", tx1000, transactions(tx1000, 1000));
	TIME("delete", records, delete_all());
	return tdb_close(tdb) == 0 ? 0 : 1;
}
