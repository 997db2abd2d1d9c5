/* Special opens (TDB_INTERNAL, robust mutexes, CLEAR_IF_FIRST, tdb_null) and the error
 * paths: a missing file, a file that is not a tdb, writes to a read-only database,
 * conflicting flags, nested transactions that are not allowed. */
#include "abi.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void open_result(const char *what, struct tdb_context *tdb)
{
	printf("%s: %s", what, tdb ? "opened" : "NULL");
	if (tdb == NULL) {
		printf(" errno=%s", strerror(errno));
	}
	printf(" log=%s\n", abi_log_seen());
}

static void internal_db(const char *dir)
{
	const char *name = abi_path(dir, "internal.tdb");
	struct tdb_context *tdb = tdb_open_ex(name, 5, TDB_INTERNAL, O_RDWR | O_CREAT, 0600,
					      &abi_log_ctx, NULL);
	open_result("open TDB_INTERNAL", tdb);
	if (tdb == NULL) {
		return;
	}
	printf("internal fd: %d\n", tdb_fd(tdb));
	abi_rc("internal store", tdb_store(tdb, abi_str("a"), abi_str("1"), TDB_INSERT), tdb);
	abi_rc("internal append", tdb_append(tdb, abi_str("a"), abi_str("2")), tdb);
	abi_data("internal fetch", tdb_fetch(tdb, abi_str("a")), tdb);
	abi_rc("internal traverse", tdb_traverse(tdb, NULL, NULL), tdb);
	abi_fail("internal transaction_start", tdb_transaction_start(tdb), tdb);
	abi_rc("internal chainlock", tdb_chainlock(tdb, abi_str("a")), tdb);
	abi_rc("internal chainunlock", tdb_chainunlock(tdb, abi_str("a")), tdb);
	abi_rc("internal check", tdb_check(tdb, NULL, NULL), tdb);
	abi_rc("internal wipe_all", tdb_wipe_all(tdb), tdb);
	abi_rc("internal close", tdb_close(tdb), NULL);
	printf("internal left a file: %d\n", access(name, F_OK) == 0);
}

static void mutex_db(const char *dir)
{
	bool robust = tdb_runtime_check_for_robust_mutexes();
	struct tdb_context *tdb;
	printf("runtime_check_for_robust_mutexes: %d\n", robust);
	if (!robust) {
		return;
	}
	tdb = abi_create(dir, "mutex.tdb", 5, TDB_MUTEX_LOCKING | TDB_CLEAR_IF_FIRST | TDB_NOSYNC);
	printf("mutex flags: %d\n", tdb_get_flags(tdb));
	abi_rc("mutex store", tdb_store(tdb, abi_str("m"), abi_str("mutexed"), TDB_INSERT), tdb);
	abi_rc("mutex chainlock", tdb_chainlock(tdb, abi_str("m")), tdb);
	abi_rc("mutex chainunlock", tdb_chainunlock(tdb, abi_str("m")), tdb);
	abi_rc("mutex transaction_start", tdb_transaction_start(tdb), tdb);
	abi_rc("mutex store in tx", tdb_store(tdb, abi_str("n"), abi_str("tx"), TDB_INSERT), tdb);
	abi_rc("mutex transaction_commit", tdb_transaction_commit(tdb), tdb);
	abi_data("mutex fetch", tdb_fetch(tdb, abi_str("n")), tdb);
	abi_rc("mutex check", tdb_check(tdb, NULL, NULL), tdb);
	abi_rc("mutex close", tdb_close(tdb), NULL);
	/* Not compared byte for byte: the mutex area holds pthread state. */
}

static void clear_if_first(const char *dir)
{
	struct tdb_context *tdb = abi_create(dir, "cif.tdb", 5, TDB_NOSYNC);
	tdb_store(tdb, abi_str("old"), abi_str("data"), TDB_INSERT);
	tdb_close(tdb);
	tdb = tdb_open_ex(abi_path(dir, "cif.tdb"), 5, TDB_CLEAR_IF_FIRST, O_RDWR, 0600,
			  &abi_log_ctx, NULL);
	open_result("open CLEAR_IF_FIRST", tdb);
	if (tdb != NULL) {
		abi_rc("records after CLEAR_IF_FIRST", tdb_traverse(tdb, NULL, NULL), tdb);
		tdb_close(tdb);
	}
}

void abi_special_opens(const char *dir)
{
	printf("== special opens\n");
	printf("tdb_null: dptr NULL %d dsize %zu\n", tdb_null.dptr == NULL, tdb_null.dsize);
	internal_db(dir);
	mutex_db(dir);
	clear_if_first(dir);
}

static void read_only(const char *dir)
{
	const char *path = abi_path(dir, "readonly.tdb");
	struct tdb_context *tdb = abi_create(dir, "readonly.tdb", 5, 0);
	tdb_store(tdb, abi_str("r"), abi_str("kept"), TDB_INSERT);
	tdb_close(tdb);
	tdb = tdb_open_ex(path, 0, 0, O_RDONLY, 0, &abi_log_ctx, NULL);
	open_result("open O_RDONLY", tdb);
	if (tdb == NULL) {
		return;
	}
	abi_fail("read-only store", tdb_store(tdb, abi_str("w"), abi_str("x"), TDB_INSERT), tdb);
	abi_fail("read-only append", tdb_append(tdb, abi_str("r"), abi_str("x")), tdb);
	abi_fail("read-only delete", tdb_delete(tdb, abi_str("r")), tdb);
	abi_fail("read-only wipe_all", tdb_wipe_all(tdb), tdb);
	abi_fail("read-only transaction_start", tdb_transaction_start(tdb), tdb);
	abi_fail("read-only chainlock", tdb_chainlock(tdb, abi_str("r")), tdb);
	abi_rc("read-only chainlock_read", tdb_chainlock_read(tdb, abi_str("r")), tdb);
	abi_rc("read-only chainunlock_read", tdb_chainunlock_read(tdb, abi_str("r")), tdb);
	abi_data("read-only fetch", tdb_fetch(tdb, abi_str("r")), tdb);
	abi_rc("read-only close", tdb_close(tdb), NULL);
	abi_file("readonly.tdb", path);
}

static void nesting_disallowed(const char *dir)
{
	struct tdb_context *tdb = abi_create(dir, "nonest.tdb", 5, TDB_DISALLOW_NESTING);
	printf("flags with DISALLOW_NESTING: %d\n", tdb_get_flags(tdb));
	abi_rc("outer start", tdb_transaction_start(tdb), tdb);
	abi_fail("nested start refused", tdb_transaction_start(tdb), tdb);
	printf("transaction_active: %d\n", tdb_transaction_active(tdb));
	abi_rc("store", tdb_store(tdb, abi_str("x"), abi_str("y"), TDB_INSERT), tdb);
	abi_rc("commit", tdb_transaction_commit(tdb), tdb);
	abi_data("fetch x", tdb_fetch(tdb, abi_str("x")), tdb);
	tdb_close(tdb);
	tdb = tdb_open_ex(abi_path(dir, "bothnest.tdb"), 5,
			  TDB_ALLOW_NESTING | TDB_DISALLOW_NESTING, O_RDWR | O_CREAT, 0600,
			  &abi_log_ctx, NULL);
	open_result("open ALLOW|DISALLOW_NESTING", tdb);
	if (tdb != NULL) {
		tdb_close(tdb);
	}
}

void abi_errors(const char *dir)
{
	const char *junk = abi_path(dir, "junk.tdb");
	int fd;
	printf("== error paths\n");
	open_result("open missing", tdb_open(abi_path(dir, "missing.tdb"), 0, 0, O_RDWR, 0));
	open_result("open_ex missing",
		    tdb_open_ex(abi_path(dir, "missing.tdb"), 0, 0, O_RDWR, 0, &abi_log_ctx, NULL));
	fd = open(junk, O_RDWR | O_CREAT | O_TRUNC, 0600);
	for (int i = 0; i < 64; i++) {
		if (write(fd, "not a tdb file. ", 16) != 16) {
			break;
		}
	}
	close(fd);
	open_result("open not a tdb",
		    tdb_open_ex(junk, 0, 0, O_RDWR, 0, &abi_log_ctx, NULL));
	abi_file("junk.tdb untouched", junk);
	read_only(dir);
	nesting_disallowed(dir);
}
