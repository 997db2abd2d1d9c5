/* The C test program's shared helpers: one line of output per checked call, so the
 * outputs of two runs (Debian's libtdb.so.1 and ours) compare line by line. Nothing
 * printed may depend on the run (no pointers, no paths, no timings). */
#ifndef ABI_H
#define ABI_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <tdb.h>

/* Exported by libtdb 1.4.8 but declared only in its private header. */
int tdb_lock_nonblock(struct tdb_context *tdb, int list, int ltype);
int tdb_unlock(struct tdb_context *tdb, int list, int ltype);
int tdb_transaction_write_lock_mark(struct tdb_context *tdb);
int tdb_transaction_write_lock_unmark(struct tdb_context *tdb);

/* The logging context every test handle uses (counts calls, echoes to stderr). */
extern struct tdb_logging_context abi_log_ctx;
/* A value whose address is the log context's private pointer. */
extern int abi_log_private;
void abi_log_fn(struct tdb_context *tdb, enum tdb_debug_level level, const char *fmt, ...)
	PRINTF_ATTRIBUTE(3, 4);
/* Whether a warning, error or fatal message was logged since the last call (and reset). */
bool abi_logged(void);
/* The most severe of those ("fatal", "error", "warning" or "no"), and reset. */
const char *abi_log_seen(void);

/* A TDB_DATA over a C string (without its NUL). */
TDB_DATA abi_str(const char *s);
/* The path `dir/name` in a static buffer (valid until the next call). */
const char *abi_path(const char *dir, const char *name);

/* "what: rc=R err=NAME" (err only when rc < 0 or force_err). */
void abi_rc(const char *what, int rc, struct tdb_context *tdb);
/* "what: rc=R err=NAME log=yes|no": an error path, whose log message counts too. */
void abi_fail(const char *what, int rc, struct tdb_context *tdb);
/* "what: <data>" or "what: NULL err=NAME"; frees the data. */
void abi_data(const char *what, TDB_DATA d, struct tdb_context *tdb);
/* "file what: size=N fnv=H": the file's bytes, to compare both libraries' files. */
void abi_file(const char *what, const char *path);
/* The name of a TDB_ERROR code. */
const char *abi_errname(int code);
/* Flushes stdout (before and after calls that print from inside the library). */
void abi_flush(void);

/* Opens (creating, truncating) dir/name with the test log context. */
struct tdb_context *abi_create(const char *dir, const char *name, int hash_size, int flags);

/* The sections of `abi_check api DIR`. */
void abi_records(const char *dir);
void abi_traverses(const char *dir);
void abi_locks(const char *dir);
void abi_transactions(const char *dir);
void abi_debug_calls(const char *dir);
void abi_special_opens(const char *dir);
void abi_errors(const char *dir);

/* `abi_check circular FILE`: a chain that loops on itself. */
int abi_circular(const char *path);
/* `abi_check create|worker|verify FILE ... [mutex]`: the shared-file test's steps;
 * `flags` is TDB_MUTEX_LOCKING for a robust-mutex file, else 0. */
int abi_create_shared(const char *path, int flags);
int abi_worker(const char *path, int id, int rounds, int flags);
int abi_verify(const char *path, int flags);

#endif
