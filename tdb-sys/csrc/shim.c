/*
 * tdb-sys C shim; see shim.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "shim.h"

/* The rsize_t limit of C11 Annex K: larger sizes are taken to be negative numbers. */
#define TDB_SYS_RSIZE_MAX (SIZE_MAX >> 1)

/*
 * Samba's libreplace memset_s() replacement, which libtdb.a calls for ZERO_STRUCT and
 * friends. Same contract as Samba's: EINVAL for a NULL destination, ERANGE (writing
 * nothing) for an oversized or overlong request, otherwise fill count bytes and return 0.
 */
int rep_memset_s(void *dest, size_t destsz, int ch, size_t count);

int rep_memset_s(void *dest, size_t destsz, int ch, size_t count)
{
	if (dest == NULL) {
		return EINVAL;
	}
	if (destsz > TDB_SYS_RSIZE_MAX || count > TDB_SYS_RSIZE_MAX || count > destsz) {
		return ERANGE;
	}
	memset(dest, ch, count);
	/*
	 * The point of memset_s is that the fill is never elided, even when dest is dead
	 * afterwards: an empty asm that may read the memory behind dest forces the stores
	 * to happen before it.
	 */
	__asm__ __volatile__("" : : "r"(dest) : "memory");
	return 0;
}

void tdb_sys_log_trampoline(struct tdb_context *tdb, enum tdb_debug_level level,
			    const char *fmt, ...)
{
	/* tdb often logs and then looks at errno: neither formatting nor the sink may
	 * disturb it. */
	const int saved_errno = errno;
	const struct tdb_sys_log_sink *sink;
	char message[TDB_SYS_LOG_MAX];
	va_list ap;
	int n;
	size_t len;

	sink = tdb_get_logging_private(tdb);
	if (sink == NULL || sink->emit == NULL || fmt == NULL) {
		goto out;
	}

	va_start(ap, fmt);
	n = vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);

	if (n < 0) {
		/* An encoding error: report the format itself rather than nothing. */
		n = snprintf(message, sizeof(message), "%s", fmt);
		if (n < 0) {
			goto out;
		}
	}
	len = (size_t)n;
	if (len >= sizeof(message)) {
		/* Truncated: vsnprintf wrote sizeof(message) - 1 bytes and the NUL. */
		len = sizeof(message) - 1;
	}
	sink->emit(sink->state, tdb, (int)level, message, len);
out:
	errno = saved_errno;
}
