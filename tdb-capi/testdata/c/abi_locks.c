/* The lock calls: chain locks (blocking, nonblocking, read, mark/unmark), chain-number
 * locks (tdb_lock_nonblock/tdb_unlock), all-record locks, contention with a forked
 * child that reopened the database (tdb_reopen, tdb_reopen_all), and a blocking lock
 * interrupted through tdb_setalarm_sigptr. */
#include "abi.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

/* A forked child: `to_child` carries the parent's go-aheads, `from_child` its report. */
struct child {
	pid_t pid;
	int to_child;
	int from_child;
};

static void say(int fd, const char *text)
{
	if (write(fd, text, strlen(text)) < 0) {
		_exit(3);
	}
}

static void await(int fd)
{
	char c;
	if (read(fd, &c, 1) != 1) {
		_exit(3);
	}
}

/* Forks; the child reopens the handle (all of them when `all`) and runs `body`. */
static struct child fork_child(struct tdb_context *tdb, bool all,
			       void (*body)(struct tdb_context *, int in, int out))
{
	int down[2], up[2];
	struct child c;
	if (pipe(down) != 0 || pipe(up) != 0) {
		exit(2);
	}
	fflush(stdout);
	c.pid = fork();
	if (c.pid == 0) {
		char line[64];
		int rc = all ? tdb_reopen_all(0) : tdb_reopen(tdb);
		close(down[1]);
		close(up[0]);
		snprintf(line, sizeof(line), "child %s: rc=%d\n",
			 all ? "reopen_all" : "reopen", rc);
		say(up[1], line);
		body(tdb, down[0], up[1]);
		_exit(0);
	}
	close(down[0]);
	close(up[1]);
	c.to_child = down[1];
	c.from_child = up[0];
	return c;
}

/* Reads the child's report up to its next '\n' and prints it. */
static void relay_line(struct child *c)
{
	char ch;
	while (read(c->from_child, &ch, 1) == 1) {
		putchar(ch);
		if (ch == '\n') {
			break;
		}
	}
}

static void finish(struct child *c)
{
	int status;
	close(c->to_child);
	close(c->from_child);
	waitpid(c->pid, &status, 0);
	printf("child exit: %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

/* Child side of the contention test: tries each lock while the parent holds them. */
static void try_locks(struct tdb_context *tdb, int in, int out)
{
	char line[256];
	TDB_DATA k = abi_str("lockme");
	for (int round = 0; round < 2; round++) {
		int a, b, c, d;
		await(in);
		a = tdb_chainlock_nonblock(tdb, k);
		if (a == 0) {
			tdb_chainunlock(tdb, k);
		}
		b = tdb_chainlock_read_nonblock(tdb, k);
		if (b == 0) {
			tdb_chainunlock_read(tdb, k);
		}
		c = tdb_lock_nonblock(tdb, 2, F_WRLCK);
		if (c == 0) {
			tdb_unlock(tdb, 2, F_WRLCK);
		}
		d = tdb_lockall_nonblock(tdb);
		if (d == 0) {
			tdb_unlockall(tdb);
		}
		snprintf(line, sizeof(line),
			 "child round %d: chainlock_nonblock=%d chainlock_read_nonblock=%d "
			 "lock_nonblock=%d lockall_nonblock=%d\n",
			 round, a, b, c, d);
		say(out, line);
	}
}

static void contention(struct tdb_context *tdb, bool all)
{
	struct child c = fork_child(tdb, all, try_locks);
	TDB_DATA k = abi_str("lockme");
	relay_line(&c);
	abi_rc("parent chainlock", tdb_chainlock(tdb, k), tdb);
	abi_rc("parent lock_nonblock chain 2", tdb_lock_nonblock(tdb, 2, F_WRLCK), tdb);
	abi_fail("parent lockall_read while holding a chain", tdb_lockall_read(tdb), tdb);
	say(c.to_child, "1");
	relay_line(&c);
	abi_rc("parent unlock chain 2", tdb_unlock(tdb, 2, F_WRLCK), tdb);
	abi_rc("parent chainunlock", tdb_chainunlock(tdb, k), tdb);
	say(c.to_child, "2");
	relay_line(&c);
	finish(&c);
}

static void hold_lock(struct tdb_context *tdb, int in, int out)
{
	say(out, tdb_chainlock(tdb, abi_str("lockme")) == 0 ? "child holds lock\n"
							     : "child lock failed\n");
	await(in);
}

static volatile sig_atomic_t alarmed;

static void on_alarm(int sig)
{
	(void)sig;
	alarmed = 1;
}

/* A blocking chainlock held by a child is interrupted by SIGALRM through the sigptr. */
static void interrupted_lock(struct tdb_context *tdb)
{
	struct child c = fork_child(tdb, false, hold_lock);
	struct sigaction sa;
	/* Repeating: a signal that lands before the blocking fcntl starts is followed by
	 * another that interrupts it (tdb checks the flag only after EINTR). */
	struct itimerval t = {{0, 100000}, {0, 200000}};
	struct itimerval off = {{0, 0}, {0, 0}};
	relay_line(&c);
	relay_line(&c);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm; /* no SA_RESTART: fcntl returns EINTR */
	sigaction(SIGALRM, &sa, NULL);
	tdb_setalarm_sigptr(tdb, &alarmed);
	setitimer(ITIMER_REAL, &t, NULL);
	abi_fail("chainlock interrupted by alarm", tdb_chainlock(tdb, abi_str("lockme")), tdb);
	setitimer(ITIMER_REAL, &off, NULL);
	printf("alarm fired: %d\n", (int)alarmed);
	tdb_setalarm_sigptr(tdb, NULL);
	say(c.to_child, "1");
	finish(&c);
}

static void own_locks(struct tdb_context *tdb)
{
	TDB_DATA k = abi_str("lockme");
	abi_rc("chainlock", tdb_chainlock(tdb, k), tdb);
	abi_rc("store under chainlock", tdb_store(tdb, k, abi_str("x"), TDB_REPLACE), tdb);
	abi_rc("chainunlock", tdb_chainunlock(tdb, k), tdb);
	abi_fail("chainunlock not held", tdb_chainunlock(tdb, k), tdb);
	abi_rc("chainlock_nonblock", tdb_chainlock_nonblock(tdb, k), tdb);
	abi_rc("chainunlock", tdb_chainunlock(tdb, k), tdb);
	abi_rc("chainlock_read", tdb_chainlock_read(tdb, k), tdb);
	abi_rc("chainunlock_read", tdb_chainunlock_read(tdb, k), tdb);
	abi_rc("chainlock_read_nonblock", tdb_chainlock_read_nonblock(tdb, k), tdb);
	abi_rc("chainunlock_read", tdb_chainunlock_read(tdb, k), tdb);
	abi_rc("chainlock_mark", tdb_chainlock_mark(tdb, k), tdb);
	abi_rc("chainlock_unmark", tdb_chainlock_unmark(tdb, k), tdb);
	abi_rc("lock_nonblock chain 0", tdb_lock_nonblock(tdb, 0, F_WRLCK), tdb);
	abi_rc("unlock chain 0", tdb_unlock(tdb, 0, F_WRLCK), tdb);
	abi_rc("lockall", tdb_lockall(tdb), tdb);
	abi_rc("store under lockall", tdb_store(tdb, k, abi_str("y"), TDB_REPLACE), tdb);
	abi_rc("unlockall", tdb_unlockall(tdb), tdb);
	abi_rc("lockall_nonblock", tdb_lockall_nonblock(tdb), tdb);
	abi_rc("unlockall", tdb_unlockall(tdb), tdb);
	abi_rc("lockall_read", tdb_lockall_read(tdb), tdb);
	abi_fail("store under lockall_read", tdb_store(tdb, k, abi_str("z"), TDB_REPLACE), tdb);
	abi_rc("unlockall_read", tdb_unlockall_read(tdb), tdb);
	abi_rc("lockall_read_nonblock", tdb_lockall_read_nonblock(tdb), tdb);
	abi_rc("unlockall_read", tdb_unlockall_read(tdb), tdb);
	abi_rc("lockall_mark", tdb_lockall_mark(tdb), tdb);
	abi_rc("lockall_unmark", tdb_lockall_unmark(tdb), tdb);
	abi_fail("unlockall not held", tdb_unlockall(tdb), tdb);
}

void abi_locks(const char *dir)
{
	struct tdb_context *tdb = abi_create(dir, "locks.tdb", 5, TDB_NOSYNC);
	printf("== locks\n");
	own_locks(tdb);
	abi_rc("reopen in parent", tdb_reopen(tdb), tdb);
	contention(tdb, false);
	contention(tdb, true);
	interrupted_lock(tdb);
	abi_data("fetch after locks", tdb_fetch(tdb, abi_str("lockme")), tdb);
	abi_rc("close", tdb_close(tdb), NULL);
	abi_file("locks.tdb", abi_path(dir, "locks.tdb"));
}
