"""python3-tdb's module API, run on Debian's libtdb.so.1 and on ours: the test compares
what this prints. Usage: api.py DIR (a scratch directory)."""

import os
import sys

import tdb


def attempt(what, call):
    """Prints the result of call(), or the exception it raised."""
    try:
        result = call()
    except Exception as e:  # noqa: BLE001 - the exception itself is the result
        print(f"{what}: raised {type(e).__name__} {e.args!r}")
        return None
    print(f"{what}: {result!r}")
    return result


def describe(db, what):
    print(f"{what}: filename ends {os.path.basename(db.filename)!r} hash_size={db.hash_size} "
          f"map_size={db.map_size} freelist_size={db.freelist_size} flags={db.flags} "
          f"seqnum={db.seqnum}")


def mapping(db):
    db[b"a"] = b"1"
    db[b"b"] = b"2"
    db[b"c"] = b"3"
    attempt("getitem a", lambda: db[b"a"])
    attempt("getitem missing", lambda: db[b"missing"])
    attempt("contains b", lambda: b"b" in db)
    attempt("contains missing", lambda: b"missing" in db)
    attempt("len", lambda: len(db))
    attempt("get missing", lambda: db.get(b"missing"))
    del db[b"c"]
    attempt("delitem missing", lambda: db.__delitem__(b"c"))
    attempt("delete missing", lambda: db.delete(b"c"))
    attempt("keys", lambda: list(db.keys()))
    attempt("iteration", lambda: [k for k in db])
    attempt("items by iteration", lambda: [(k, db[k]) for k in db])
    db.text["text-key"] = "text value"
    attempt("text get", lambda: db.text["text-key"])


def stores(db):
    attempt("store replace", lambda: db.store(b"s", b"one", tdb.REPLACE))
    attempt("store insert existing", lambda: db.store(b"s", b"two", tdb.INSERT))
    attempt("store insert new", lambda: db.store(b"t", b"two", tdb.INSERT))
    attempt("store modify existing", lambda: db.store(b"t", b"three", tdb.MODIFY))
    attempt("store modify missing", lambda: db.store(b"u", b"x", tdb.MODIFY))
    attempt("store default flag", lambda: db.store(b"v", b"default"))
    attempt("storev", lambda: db.storev(b"w", [b"ab", b"", b"cd"], tdb.REPLACE))
    attempt("append existing", lambda: db.append(b"s", b"+tail"))
    attempt("append new", lambda: db.append(b"x", b"fresh"))
    attempt("fetch after stores", lambda: [db.get(k) for k in (b"s", b"t", b"u", b"v", b"w", b"x")])
    attempt("store str key", lambda: db.store("str", b"x"))


def walk(db):
    keys = []
    key = db.firstkey()
    while key is not None:
        keys.append(key)
        key = db.nextkey(key)
    print(f"firstkey/nextkey: {keys!r}")


def transactions(db, what):
    attempt(f"{what}: start", db.transaction_start)
    attempt(f"{what}: store", lambda: db.store(b"tx", b"in-tx"))
    attempt(f"{what}: nested start", db.transaction_start)
    attempt(f"{what}: nested store", lambda: db.store(b"tx2", b"nested"))
    attempt(f"{what}: nested commit", db.transaction_commit)
    attempt(f"{what}: prepare_commit", db.transaction_prepare_commit)
    attempt(f"{what}: commit", db.transaction_commit)
    attempt(f"{what}: commit without tx", db.transaction_commit)
    attempt(f"{what}: start again", db.transaction_start)
    attempt(f"{what}: delete in tx", lambda: db.delete(b"tx"))
    attempt(f"{what}: cancel", db.transaction_cancel)
    attempt(f"{what}: after", lambda: (db.get(b"tx"), db.get(b"tx2")))


def locks_and_flags(db):
    attempt("lock_all", db.lock_all)
    attempt("store under lock_all", lambda: db.store(b"l", b"locked"))
    attempt("unlock_all", db.unlock_all)
    attempt("read_lock_all", db.read_lock_all)
    attempt("store under read_lock_all", lambda: db.store(b"l", b"read-locked"))
    attempt("read_unlock_all", db.read_unlock_all)
    attempt("unlock_all not held", db.unlock_all)
    seq = db.seqnum
    attempt("enable_seqnum", db.enable_seqnum)
    db[b"seq"] = b"1"
    attempt("seqnum moved", lambda: db.seqnum - seq)
    attempt("increment_seqnum_nonblock", db.increment_seqnum_nonblock)
    attempt("seqnum after increment", lambda: db.seqnum - seq)
    attempt("add_flags NOMMAP", lambda: db.add_flags(tdb.NOMMAP))
    attempt("flags", lambda: db.flags)
    attempt("remove_flags NOMMAP", lambda: db.remove_flags(tdb.NOMMAP))
    attempt("flags", lambda: db.flags)
    db.max_dead = 3
    attempt("reopen", db.reopen)
    attempt("get after reopen", lambda: db.get(b"seq"))


def maintenance(db):
    for i in range(40):
        db[b"bulk%02d" % i] = b"x" * (i * 7)
    for i in range(0, 40, 2):
        del db[b"bulk%02d" % i]
    describe(db, "before repack")
    attempt("repack", db.repack)
    describe(db, "after repack")
    attempt("clear", db.clear)
    attempt("len after clear", lambda: len(db))
    describe(db, "after clear")


def errors(d):
    attempt("open missing", lambda: tdb.Tdb(os.path.join(d, "missing.tdb"), 0, tdb.DEFAULT, os.O_RDWR))
    with open(os.path.join(d, "junk.tdb"), "wb") as f:
        f.write(b"this is not a tdb file " * 40)
    attempt("open junk", lambda: tdb.Tdb(os.path.join(d, "junk.tdb"), 0, tdb.DEFAULT, os.O_RDWR))
    path = os.path.join(d, "ro.tdb")
    db = tdb.Tdb(path, 0, tdb.DEFAULT, os.O_CREAT | os.O_RDWR, 0o600)
    db[b"r"] = b"kept"
    db.close()
    ro = tdb.Tdb(path, 0, tdb.DEFAULT, os.O_RDONLY)
    attempt("read-only get", lambda: ro[b"r"])
    attempt("read-only store", lambda: ro.store(b"w", b"x"))
    attempt("read-only delete", lambda: ro.delete(b"r"))
    attempt("read-only transaction_start", ro.transaction_start)
    attempt("read-only clear", ro.clear)
    ro.close()
    attempt("use after close", lambda: ro[b"r"])
    nest = tdb.Tdb(os.path.join(d, "nonest.tdb"), 0, tdb.DISALLOW_NESTING, os.O_CREAT | os.O_RDWR, 0o600)
    attempt("disallowed: start", nest.transaction_start)
    attempt("disallowed: nested start", nest.transaction_start)
    attempt("disallowed: cancel", nest.transaction_cancel)
    nest.close()


def mapped_libtdb():
    """The libtdb files this process maps (to stderr: the test checks which one)."""
    with open("/proc/self/maps") as maps:
        paths = {line.split()[-1] for line in maps if "libtdb" in line}
    for path in sorted(paths):
        sys.stderr.write(f"mapped: {path}\n")


def main():
    mapped_libtdb()
    d = sys.argv[1]
    db = tdb.Tdb(os.path.join(d, "api.tdb"), 17, tdb.DEFAULT, os.O_CREAT | os.O_RDWR, 0o600)
    describe(db, "new")
    mapping(db)
    stores(db)
    walk(db)
    transactions(db, "default")
    locks_and_flags(db)
    maintenance(db)
    db.close()
    nested = tdb.open(os.path.join(d, "nested.tdb"), 0, tdb.ALLOW_NESTING, os.O_CREAT | os.O_RDWR, 0o600)
    transactions(nested, "allow_nesting")
    nested.close()
    mem = tdb.Tdb(os.path.join(d, "internal"), 0, tdb.INTERNAL, os.O_CREAT | os.O_RDWR, 0o600)
    mapping(mem)
    attempt("internal transaction_start", mem.transaction_start)
    describe(mem, "internal")
    mem.close()
    attempt("internal left a file", lambda: os.path.exists(os.path.join(d, "internal")))
    errors(d)
    print("done")


main()
