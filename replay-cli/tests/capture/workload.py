"""A multi-process tdb workload for `tdb-replay capture`'s tests and benchmark.

Run with Debian's /usr/bin/python3 (python3-tdb). Two databases at once: `a.tdb`
through the python3-tdb module (stores, appends, deletes, fetches, transactions committed
and cancelled, key walks that delete, all-record locks, storev), `b.tdb` through libtdb's
C API by ctypes, for what the module does not offer (chain locks around
read-modify-write, traverses whose callback deletes, appends and transactions). The
parent opens both, then forks workers that reopen the inherited handles and one worker
that is exec'd afresh; every process closes what it opened.

    workload.py DIR [WORKERS] [OPS]     the workload, databases in DIR
    workload.py --bench DB OPS          OPS stores and fetches on DB, timed (one process)

The C calls are looked up in the process's global scope (ctypes.CDLL(None)), where a
preloaded capture library comes before libtdb, as it does for the module's own calls.
"""

import ctypes
import os
import random
import subprocess
import sys
import time

import tdb

LIBTDB = ctypes.CDLL("libtdb.so.1", mode=ctypes.RTLD_GLOBAL)
API = ctypes.CDLL(None)
LIBC = ctypes.CDLL("libc.so.6")


class Data(ctypes.Structure):
    _fields_ = [("dptr", ctypes.c_void_p), ("dsize", ctypes.c_size_t)]


TRAVERSE_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, Data, Data, ctypes.c_void_p)

for name, args, result in [
    ("tdb_open", [ctypes.c_char_p, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_uint], ctypes.c_void_p),
    ("tdb_close", [ctypes.c_void_p], ctypes.c_int),
    ("tdb_reopen", [ctypes.c_void_p], ctypes.c_int),
    ("tdb_fetch", [ctypes.c_void_p, Data], Data),
    ("tdb_store", [ctypes.c_void_p, Data, Data, ctypes.c_int], ctypes.c_int),
    ("tdb_append", [ctypes.c_void_p, Data, Data], ctypes.c_int),
    ("tdb_delete", [ctypes.c_void_p, Data], ctypes.c_int),
    ("tdb_exists", [ctypes.c_void_p, Data], ctypes.c_int),
    ("tdb_chainlock", [ctypes.c_void_p, Data], ctypes.c_int),
    ("tdb_chainunlock", [ctypes.c_void_p, Data], ctypes.c_int),
    ("tdb_traverse", [ctypes.c_void_p, TRAVERSE_FN, ctypes.c_void_p], ctypes.c_int),
    ("tdb_traverse_read", [ctypes.c_void_p, TRAVERSE_FN, ctypes.c_void_p], ctypes.c_int),
    ("tdb_transaction_start", [ctypes.c_void_p], ctypes.c_int),
    ("tdb_transaction_commit", [ctypes.c_void_p], ctypes.c_int),
    ("tdb_transaction_cancel", [ctypes.c_void_p], ctypes.c_int),
]:
    function = getattr(API, name)
    function.argtypes = args
    function.restype = result
LIBC.free.argtypes = [ctypes.c_void_p]


def data(value):
    """A TDB_DATA over the bytes `value` (which the caller keeps alive)."""
    return Data(ctypes.cast(ctypes.c_char_p(value), ctypes.c_void_p), len(value))


def fetch(db, key):
    found = API.tdb_fetch(db, data(key))
    if not found.dptr:
        return None
    value = ctypes.string_at(found.dptr, found.dsize)
    LIBC.free(found.dptr)
    return value


def check(ret, what):
    if ret != 0:
        raise SystemExit(f"{what} failed: {ret}")


def c_increment(db, key):
    """Read-modify-write under the key's chain lock."""
    check(API.tdb_chainlock(db, data(key)), "tdb_chainlock")
    value = fetch(db, key)
    count = int(value) + 1 if value else 1
    check(API.tdb_store(db, data(key), data(str(count).encode()), 0), "tdb_store")
    check(API.tdb_chainunlock(db, data(key)), "tdb_chainunlock")


def c_traverse_deleting(db, prefix):
    """A traverse whose callback deletes the records whose key starts with `prefix`."""
    deleted = []

    def visit(handle, key, value, private):
        key_bytes = ctypes.string_at(key.dptr, key.dsize)
        if key_bytes.startswith(prefix):
            API.tdb_delete(handle, data(key_bytes))
            deleted.append(key_bytes)
        return 0

    callback = TRAVERSE_FN(visit)
    if API.tdb_traverse(db, callback, None) < 0:
        raise SystemExit("tdb_traverse failed")
    return deleted


def c_count(db):
    return API.tdb_traverse_read(db, TRAVERSE_FN(lambda *args: 0), None)


def work_on_b(db, rng, worker, ops):
    for step in range(ops):
        choice = rng.randrange(8)
        key = f"k{rng.randrange(12)}".encode()
        if choice == 0:
            c_increment(db, b"counter")
        elif choice == 1:
            check(API.tdb_store(db, data(b"tmp" + key), data(b"t%d" % step), 0), "store")
        elif choice == 2:
            API.tdb_append(db, data(b"log"), data(b"w%d;" % worker))
        elif choice == 3:
            fetch(db, key)
            API.tdb_exists(db, data(b"tmp" + key))
        elif choice == 4 and step % 16 == 4:
            c_traverse_deleting(db, b"tmp")
        elif choice == 5:
            check(API.tdb_transaction_start(db), "transaction_start")
            check(API.tdb_store(db, data(key), data(b"c%d-%d" % (worker, step)), 0), "store")
            if rng.random() < 0.4:
                check(API.tdb_transaction_cancel(db), "transaction_cancel")
            else:
                check(API.tdb_transaction_commit(db), "transaction_commit")
        else:
            API.tdb_delete(db, data(b"tmp" + key))


def work_on_a(db, rng, worker, ops):
    for step in range(ops):
        choice = rng.randrange(10)
        key = f"a{rng.randrange(16)}".encode()
        if choice < 3:
            db.store(key, b"v%d-%d" % (worker, step))
        elif choice == 3:
            db.append(b"journal", b"%d:%d," % (worker, step))
        elif choice == 4:
            db.get(key)
        elif choice == 5:
            try:
                db.delete(key)
            except RuntimeError:
                pass
        elif choice == 6:
            db.transaction_start()
            db.store(key, b"tx%d-%d" % (worker, step))
            db.append(b"journal", b"tx%d," % worker)
            if step % 3 == 0:
                db.transaction_cancel()
            else:
                db.transaction_prepare_commit()
                db.transaction_commit()
        elif choice == 7 and step % 12 == 7:
            # A key walk that deletes what it meets of this worker's own scratch keys,
            # under the all-record lock (no other process moves a key it walks).
            scratch = b"s%d-" % worker
            db.lock_all()
            for found in list(db.keys()):
                if found.startswith(scratch):
                    db.delete(found)
            db.unlock_all()
        elif choice == 8:
            db.store(b"s%d-%d" % (worker, step), b"x")
        else:
            db.storev(b"v" + key, [b"p1", b"p2", b"%d" % step])


def worker(directory, a, b, number, ops):
    rng = random.Random(number)
    for round_ in range(4):
        work_on_a(a, rng, number, ops // 8)
        work_on_b(b, rng, number, ops // 8)
    # A moment under the all-record lock, as a backup tool would take it.
    a.lock_all()
    a.get(b"journal")
    a.unlock_all()


def open_both(directory, create):
    flags = os.O_RDWR | os.O_CREAT | (os.O_TRUNC if create else 0)
    a = tdb.Tdb(os.path.join(directory, "a.tdb"), 0, tdb.DEFAULT, flags)
    b = API.tdb_open(os.path.join(directory, "b.tdb").encode(), 7, 0, flags, 0o600)
    if not b:
        raise SystemExit("tdb_open of b.tdb failed")
    return a, b


def close_both(a, b):
    a.close()
    check(API.tdb_close(b), "tdb_close")


def main(directory, workers, ops):
    a, b = open_both(directory, create=True)
    a.store(b"journal", b"")
    c_increment(b, b"counter")
    children = []
    for number in range(1, workers + 1):
        pid = os.fork()
        if pid == 0:
            a.reopen()
            check(API.tdb_reopen(b), "tdb_reopen")
            worker(directory, a, b, number, ops)
            close_both(a, b)
            os._exit(0)
        children.append(pid)
    # One more worker, exec'd: it opens the databases itself.
    execd = subprocess.Popen([sys.executable, __file__, "--worker", directory, str(workers + 1), str(ops)])
    for pid in children:
        _, status = os.waitpid(pid, 0)
        if status != 0:
            raise SystemExit(f"worker {pid} failed: {status}")
    if execd.wait() != 0:
        raise SystemExit("the exec'd worker failed")
    c_traverse_deleting(b, b"tmp")
    print(f"b.tdb: {c_count(b)} records")
    close_both(a, b)


def bench(path, ops):
    db = tdb.Tdb(path, 0, tdb.DEFAULT, os.O_RDWR | os.O_CREAT | os.O_TRUNC)
    start = time.perf_counter()
    for step in range(ops // 2):
        key = b"key%d" % (step % 1000)
        db.store(key, b"value%d" % step)
        db.get(key)
    elapsed = time.perf_counter() - start
    db.close()
    print(f"{ops} ops in {elapsed * 1000:.1f} ms: {elapsed * 1e9 / ops:.0f} ns per op")


if __name__ == "__main__":
    if sys.argv[1] == "--worker":
        directory, number, ops = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
        a, b = open_both(directory, create=False)
        worker(directory, a, b, number, ops)
        close_both(a, b)
    elif sys.argv[1] == "--bench":
        bench(sys.argv[2], int(sys.argv[3]))
    else:
        main(
            sys.argv[1],
            int(sys.argv[2]) if len(sys.argv) > 2 else 3,
            int(sys.argv[3]) if len(sys.argv) > 3 else 160,
        )
