/*
 * tdb-sys C shim: what libtdb.a needs from Samba's libreplace but Debian does not ship,
 * and a non-variadic bridge for tdb's printf-style log callback.
 */
#ifndef TDB_SYS_SHIM_H
#define TDB_SYS_SHIM_H

#include <stddef.h>
#include <sys/types.h> /* mode_t, which tdb.h uses without including */
#include <tdb.h>

/* Longest message passed to the sink, including the terminating NUL; longer ones are cut. */
#define TDB_SYS_LOG_MAX 1024

/*
 * Where tdb_sys_log_trampoline delivers messages. Pass a pointer to one of these as the
 * log_private of the struct tdb_logging_context given to tdb_open_ex; it must outlive the
 * tdb_context.
 *
 * emit() gets the formatted message (NUL-terminated, len bytes without the NUL) and must
 * not unwind.
 */
struct tdb_sys_log_sink {
	void (*emit)(void *state, struct tdb_context *tdb, int level,
		     const char *message, size_t len);
	void *state;
};

/*
 * A tdb_log_func: formats the message into a bounded buffer and hands it to the
 * tdb_sys_log_sink found in the handle's log_private. Does nothing if that is NULL.
 */
void tdb_sys_log_trampoline(struct tdb_context *tdb, enum tdb_debug_level level,
			    const char *fmt, ...);

#endif /* TDB_SYS_SHIM_H */
