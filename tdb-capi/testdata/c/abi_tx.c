/* Transactions: commit, cancel, prepare_commit, nesting allowed and disallowed,
 * transaction_active, transaction_write_lock_mark/unmark, seqnums and flags. */
#include "abi.h"

#include <stdio.h>

static void show(struct tdb_context *tdb, const char *what)
{
	char label[128];
	snprintf(label, sizeof(label), "fetch %s", what);
	abi_data(label, tdb_fetch(tdb, abi_str(what)), tdb);
}

static void basic(struct tdb_context *tdb)
{
	printf("transaction_active before: %d\n", tdb_transaction_active(tdb));
	abi_rc("transaction_start", tdb_transaction_start(tdb), tdb);
	printf("transaction_active inside: %d\n", tdb_transaction_active(tdb));
	abi_rc("store in tx", tdb_store(tdb, abi_str("t1"), abi_str("one"), TDB_INSERT), tdb);
	abi_rc("append in tx", tdb_append(tdb, abi_str("t1"), abi_str("+")), tdb);
	abi_rc("transaction_commit", tdb_transaction_commit(tdb), tdb);
	printf("transaction_active after: %d\n", tdb_transaction_active(tdb));
	show(tdb, "t1");

	abi_rc("transaction_start_nonblock", tdb_transaction_start_nonblock(tdb), tdb);
	abi_rc("delete in tx", tdb_delete(tdb, abi_str("t1")), tdb);
	abi_rc("store in tx", tdb_store(tdb, abi_str("t2"), abi_str("two"), TDB_INSERT), tdb);
	abi_rc("transaction_cancel", tdb_transaction_cancel(tdb), tdb);
	show(tdb, "t1");
	show(tdb, "t2");

	abi_rc("transaction_start", tdb_transaction_start(tdb), tdb);
	abi_rc("store in tx", tdb_store(tdb, abi_str("t3"), abi_str("three"), TDB_INSERT), tdb);
	abi_rc("transaction_prepare_commit", tdb_transaction_prepare_commit(tdb), tdb);
	abi_rc("transaction_commit after prepare", tdb_transaction_commit(tdb), tdb);
	show(tdb, "t3");

	abi_fail("transaction_commit without tx", tdb_transaction_commit(tdb), tdb);
	abi_fail("transaction_cancel without tx", tdb_transaction_cancel(tdb), tdb);
	abi_fail("transaction_prepare_commit without tx",
		 tdb_transaction_prepare_commit(tdb), tdb);
}

static void nesting_allowed(struct tdb_context *tdb)
{
	abi_rc("outer start", tdb_transaction_start(tdb), tdb);
	abi_rc("inner start", tdb_transaction_start(tdb), tdb);
	abi_rc("store inner", tdb_store(tdb, abi_str("n1"), abi_str("nested"), TDB_INSERT), tdb);
	abi_rc("inner cancel", tdb_transaction_cancel(tdb), tdb);
	printf("transaction_active after inner cancel: %d\n", tdb_transaction_active(tdb));
	abi_fail("outer commit after inner cancel", tdb_transaction_commit(tdb), tdb);
	show(tdb, "n1");

	abi_rc("outer start", tdb_transaction_start(tdb), tdb);
	abi_rc("inner start", tdb_transaction_start(tdb), tdb);
	abi_rc("store inner", tdb_store(tdb, abi_str("n2"), abi_str("nested"), TDB_INSERT), tdb);
	abi_rc("inner commit", tdb_transaction_commit(tdb), tdb);
	abi_rc("outer commit", tdb_transaction_commit(tdb), tdb);
	show(tdb, "n2");
}

static void write_lock_mark(struct tdb_context *tdb)
{
	abi_rc("transaction_write_lock_mark", tdb_transaction_write_lock_mark(tdb), tdb);
	abi_rc("transaction_write_lock_unmark", tdb_transaction_write_lock_unmark(tdb), tdb);
}

static void seqnum_and_flags(struct tdb_context *tdb)
{
	printf("get_flags: %d\n", tdb_get_flags(tdb));
	printf("seqnum before enable: %d\n", tdb_get_seqnum(tdb));
	tdb_enable_seqnum(tdb);
	printf("get_flags after enable_seqnum: %d\n", tdb_get_flags(tdb));
	tdb_store(tdb, abi_str("s1"), abi_str("x"), TDB_REPLACE);
	tdb_delete(tdb, abi_str("s1"));
	printf("seqnum after store+delete: %d\n", tdb_get_seqnum(tdb));
	tdb_increment_seqnum_nonblock(tdb);
	printf("seqnum after increment_seqnum_nonblock: %d\n", tdb_get_seqnum(tdb));
	tdb_add_flags(tdb, TDB_NOMMAP);
	printf("get_flags after add NOMMAP: %d\n", tdb_get_flags(tdb));
	show(tdb, "t3");
	tdb_remove_flags(tdb, TDB_NOMMAP);
	printf("get_flags after remove NOMMAP: %d\n", tdb_get_flags(tdb));
	tdb_add_flags(tdb, TDB_ALLOW_NESTING);
	printf("get_flags after add ALLOW_NESTING: %d\n", tdb_get_flags(tdb));
	tdb_remove_flags(tdb, TDB_ALLOW_NESTING);
	printf("get_flags after remove ALLOW_NESTING: %d\n", tdb_get_flags(tdb));
}

void abi_transactions(const char *dir)
{
	struct tdb_context *tdb = abi_create(dir, "tx.tdb", 5, TDB_NOSYNC);
	printf("== transactions\n");
	basic(tdb);
	write_lock_mark(tdb);
	seqnum_and_flags(tdb);
	abi_rc("close", tdb_close(tdb), NULL);
	abi_file("tx.tdb", abi_path(dir, "tx.tdb"));

	tdb = abi_create(dir, "nested.tdb", 5, TDB_NOSYNC | TDB_ALLOW_NESTING);
	printf("== nested transactions (TDB_ALLOW_NESTING)\n");
	nesting_allowed(tdb);
	abi_rc("close", tdb_close(tdb), NULL);
	abi_file("nested.tdb", abi_path(dir, "nested.tdb"));
}
