/* Single tdb operations through the C ABI, on whichever libtdb.so.1 the loader picks
 * (the benchmark runs it on Debian's and on ours). tdb-capi/tests/abi_bench/pure.rs runs
 * the same operations on tdb-pure from Rust, with the same keys, sizes, batches and
 * order.
 *
 *   abi_bench FILE RECORDS HASH_SIZE
 *
 * prints "op nanoseconds-per-op" lines: fetch, store (replacing, same size), traverse
 * (per record), chainlock (lock + unlock), tx1 (a transaction of 1 store), tx1000 (of
 * 1000 stores, per transaction), delete. Each op runs in batches (1000 keyed ops, one
 * traverse, 100 one-store transactions, one 1000-store transaction) and the fastest
 * batch counts: on a shared machine it is the one least disturbed. Transactions run
 * with TDB_NOSYNC, so they measure the work, not the disk. Every result is checked; a
 * failure exits 1. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <tdb.h>

#define DATA_LEN 100
#define BATCH 1000

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
	TDB_DATA k = {(unsigned char *)keys[i % records], 11};
	return k;
}

static void fail(const char *what, long i)
{
	fprintf(stderr, "abi_bench: %s %ld failed: %s\n", what, i, tdb_errorstr(tdb));
	exit(1);
}

static void store(long from, long to, unsigned char fill)
{
	unsigned char data[DATA_LEN];
	memset(data, fill, sizeof(data));
	for (long i = from; i < to; i++) {
		TDB_DATA d = {data, sizeof(data)};
		if (tdb_store(tdb, key_of(i), d, TDB_REPLACE) != 0) {
			fail("store", i);
		}
	}
}

static void store_a(long from, long to)
{
	store(from, to, 'a');
}

static void store_b(long from, long to)
{
	store(from, to, 'b');
}

static void fetch(long from, long to)
{
	for (long i = from; i < to; i++) {
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

static void traverse(long from, long to)
{
	long bytes = 0;
	(void)from;
	(void)to;
	if (tdb_traverse(tdb, count, &bytes) != records || bytes != records * DATA_LEN) {
		fail("traverse", 0);
	}
}

static void chainlock(long from, long to)
{
	for (long i = from; i < to; i++) {
		TDB_DATA k = key_of(i);
		if (tdb_chainlock(tdb, k) != 0 || tdb_chainunlock(tdb, k) != 0) {
			fail("chainlock", i);
		}
	}
}

/* Transactions number `from` to `to` of `stores` stores each. */
static void transactions(long from, long to, long stores)
{
	unsigned char data[DATA_LEN];
	memset(data, 't', sizeof(data));
	for (long t = from; t < to; t++) {
		if (tdb_transaction_start(tdb) != 0) {
			fail("transaction_start", t);
		}
		for (long s = 0; s < stores; s++) {
			TDB_DATA d = {data, sizeof(data)};
			if (tdb_store(tdb, key_of(t * stores + s), d, TDB_REPLACE) != 0) {
				fail("store in transaction", s);
			}
		}
		if (tdb_transaction_commit(tdb) != 0) {
			fail("transaction_commit", t);
		}
	}
}

static void tx1(long from, long to)
{
	transactions(from, to, 1);
}

static void tx1000(long from, long to)
{
	transactions(from, to, 1000);
}

static void delete(long from, long to)
{
	for (long i = from; i < to; i++) {
		if (tdb_delete(tdb, key_of(i)) != 0) {
			fail("delete", i);
		}
	}
}

/* Runs op over [0, total) in batches of `batch` units; prints the fastest batch's time
 * per unit. */
static void timed(const char *name, void (*op)(long, long), long total, long batch)
{
	double best = 0;
	for (long from = 0; from < total; from += batch) {
		long to = from + batch < total ? from + batch : total;
		double start = now_ns();
		double ns;
		op(from, to);
		ns = (now_ns() - start) / (double)(to - from);
		if (from == 0 || ns < best) {
			best = ns;
		}
	}
	printf("%s %.1f\n", name, best);
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: abi_bench FILE RECORDS HASH_SIZE\n");
		return 2;
	}
	records = atol(argv[2]);
	if (records < BATCH || records >= 100000000) {
		fprintf(stderr, "abi_bench: RECORDS must be in %d..1e8\n", BATCH);
		return 2;
	}
	keys = calloc(records, sizeof(*keys));
	for (long i = 0; i < records; i++) {
		snprintf(keys[i], sizeof(keys[i]), "key%08ld", i);
	}
	tdb = tdb_open(argv[1], atoi(argv[3]), TDB_NOSYNC, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (tdb == NULL) {
		fprintf(stderr, "abi_bench: cannot open %s\n", argv[1]);
		return 1;
	}
	store_a(0, records);
	timed("fetch", fetch, records, BATCH);
	timed("store", store_b, records, BATCH);
	timed("traverse", traverse, 5 * records, records);
	timed("chainlock", chainlock, records, BATCH);
	timed("tx1", tx1, 1000, 100);
	timed("tx1000", tx1000, 10, 1);
	timed("delete", delete, records, BATCH);
	return tdb_close(tdb) == 0 ? 0 : 1;
}
