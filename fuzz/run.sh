#!/bin/sh
# Fuzz for $1 seconds in all (default 60), two thirds on tdb-pure, a third on the trace
# parser. tdb-pure gets arbitrary files: open (mapped or not,
# read-only or writable), check, dump, traverse, walk and write. Seeds are Samba's test
# files when TDB_PURE_TEST_FILES names them (read there, never copied into the project).
# Needs cargo-fuzz (`cargo install cargo-fuzz`); runs on the stable toolchain without a
# sanitizer (tdb-pure's unsafe code is the bounds-checked mmap boundary and the fcntl,
# posix_fallocate and futimens calls). The parser gets arbitrary bytes as up to three
# trace files, seeded from the project's own fixtures and, when TDB_REPLAY_CORPUS is set,
# the first lines of a few corpus traces (read there, never copied into the project).
set -eu
seconds=${1:-60}
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
corpus="$here/corpus/open_traverse_check"
seeds=$(mktemp -d)
parser_seeds=$(mktemp -d)
trap 'rm -rf "$seeds" "$parser_seeds"' EXIT
mkdir -p "$corpus"
if [ -n "${TDB_PURE_TEST_FILES:-}" ] && [ -d "$TDB_PURE_TEST_FILES" ]; then
    for f in "$TDB_PURE_TEST_FILES"/*.tdb; do
        [ -e "$f" ] || continue
        # The first byte picks the open mode (5: writable, mapped, no-sync).
        { printf '\005'; cat "$f"; } > "$seeds/$(basename "$f")"
    done
fi
parser_seconds=$((seconds / 3))
[ "$parser_seconds" -ge 1 ] || parser_seconds=1
tdb_seconds=$((seconds - parser_seconds))
[ "$tdb_seconds" -ge 1 ] || tdb_seconds=1
parser_corpus="$here/corpus/trace_parser"
mkdir -p "$parser_corpus"
for f in "$here"/../tests/fixtures/handwritten/*.trace; do
    [ -e "$f" ] || continue
    { printf '\000'; cat "$f"; } > "$parser_seeds/$(basename "$f")"
done
if [ -n "${TDB_REPLAY_CORPUS:-}" ] && [ -d "$TDB_REPLAY_CORPUS" ] && command -v zstd >/dev/null; then
    for f in "$TDB_REPLAY_CORPUS"/torture/*/*.1.*.zst "$TDB_REPLAY_CORPUS"/ldb/*.zst; do
        [ -e "$f" ] || continue
        { printf '\000'; zstd -dc "$f" 2>/dev/null | head -c 4096 | sed '$d'; } \
            > "$parser_seeds/$(basename "$f" .zst)"
    done
fi
cargo fmt --check
cargo clippy --release -- -D warnings
cargo fuzz build -s none open_traverse_check
cargo fuzz build -s none trace_parser
cargo fuzz run -s none open_traverse_check "$corpus" "$seeds" -- \
    -max_total_time="$tdb_seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -print_final_stats=1
cargo fuzz run -s none trace_parser "$parser_corpus" "$parser_seeds" -- \
    -max_total_time="$parser_seconds" -timeout=10 -rss_limit_mb=1024 -max_len=65536 \
    -print_final_stats=1
