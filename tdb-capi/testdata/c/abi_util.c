/* Output and setup helpers of the C test program (see abi.h). */
#include "abi.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int abi_log_private = 42;
struct tdb_logging_context abi_log_ctx = {abi_log_fn, &abi_log_private};
/* The most severe level logged since the last report (-1: nothing at WARNING or above). */
static int worst_logged = -1;

void abi_log_fn(struct tdb_context *tdb, enum tdb_debug_level level, const char *fmt, ...)
{
	va_list ap;
	(void)tdb;
	if (level <= TDB_DEBUG_WARNING && (worst_logged < 0 || (int)level < worst_logged)) {
		worst_logged = (int)level;
	}
	fprintf(stderr, "log[%d]: ", (int)level);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}

bool abi_logged(void)
{
	return strcmp(abi_log_seen(), "no") != 0;
}

const char *abi_log_seen(void)
{
	static const char *names[] = {"fatal", "error", "warning"};
	int worst = worst_logged;
	worst_logged = -1;
	return worst < 0 ? "no" : names[worst];
}

TDB_DATA abi_str(const char *s)
{
	TDB_DATA d = {(unsigned char *)s, strlen(s)};
	return d;
}

const char *abi_path(const char *dir, const char *name)
{
	static char buf[4096];
	snprintf(buf, sizeof(buf), "%s/%s", dir, name);
	return buf;
}

const char *abi_errname(int code)
{
	static const char *names[] = {"SUCCESS", "CORRUPT", "IO", "LOCK", "OOM", "EXISTS",
				      "NOLOCK", "LOCK_TIMEOUT", "NOEXIST", "EINVAL", "RDONLY",
				      "NESTING"};
	if (code >= 0 && code < (int)(sizeof(names) / sizeof(names[0]))) {
		return names[code];
	}
	return "UNKNOWN";
}

void abi_flush(void)
{
	fflush(stdout);
}

static void print_err(struct tdb_context *tdb)
{
	int code = tdb_error(tdb);
	printf(" err=%s (%s)", abi_errname(code), tdb_errorstr(tdb));
}

void abi_rc(const char *what, int rc, struct tdb_context *tdb)
{
	printf("%s: rc=%d", what, rc);
	if (rc < 0 && tdb != NULL) {
		print_err(tdb);
	}
	printf("\n");
	abi_logged();
}

void abi_fail(const char *what, int rc, struct tdb_context *tdb)
{
	printf("%s: rc=%d", what, rc);
	if (tdb != NULL) {
		print_err(tdb);
	}
	printf(" log=%s\n", abi_log_seen());
}

void abi_data(const char *what, TDB_DATA d, struct tdb_context *tdb)
{
	if (d.dptr == NULL) {
		printf("%s: NULL dsize=%zu", what, d.dsize);
		print_err(tdb);
		printf("\n");
		return;
	}
	printf("%s: [%.*s] dsize=%zu\n", what, (int)d.dsize, (const char *)d.dptr, d.dsize);
	free(d.dptr); /* the library malloc'ed it: the caller's free must work */
}

void abi_file(const char *what, const char *path)
{
	unsigned char buf[65536];
	uint32_t h = 2166136261u;
	long size = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY);
	if (fd < 0) {
		printf("file %s: missing\n", what);
		return;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++) {
			h = (h ^ buf[i]) * 16777619u;
		}
		size += n;
	}
	close(fd);
	printf("file %s: size=%ld fnv=%08x\n", what, size, h);
}

struct tdb_context *abi_create(const char *dir, const char *name, int hash_size, int flags)
{
	struct tdb_context *tdb = tdb_open_ex(abi_path(dir, name), hash_size, flags,
					      O_RDWR | O_CREAT | O_TRUNC, 0600, &abi_log_ctx, NULL);
	if (tdb == NULL) {
		printf("create %s: failed errno=%s\n", name, strerror(errno));
		exit(2);
	}
	return tdb;
}
