#!/bin/sh
# Fuzz tdb-pure with arbitrary files for $1 seconds (default 60): open (mapped or not,
# read-only or writable), check, dump, traverse, walk and write. Seeds are Samba's test
# files when TDB_PURE_TEST_FILES names them (read there, never copied into the project).
# Needs cargo-fuzz (`cargo install cargo-fuzz`); runs on the stable toolchain without a
# sanitizer (tdb-pure's unsafe code is the bounds-checked mmap boundary and the fcntl,
# posix_fallocate and futimens calls).
set -eu
seconds=${1:-60}
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
corpus="$here/corpus/open_traverse_check"
seeds=$(mktemp -d)
trap 'rm -rf "$seeds"' EXIT
mkdir -p "$corpus"
if [ -n "${TDB_PURE_TEST_FILES:-}" ] && [ -d "$TDB_PURE_TEST_FILES" ]; then
    for f in "$TDB_PURE_TEST_FILES"/*.tdb; do
        [ -e "$f" ] || continue
        # The first byte picks the open mode (5: writable, mapped, no-sync).
        { printf '\005'; cat "$f"; } > "$seeds/$(basename "$f")"
    done
fi
cargo fmt --check
cargo clippy --release -- -D warnings
cargo fuzz build -s none open_traverse_check
cargo fuzz run -s none open_traverse_check "$corpus" "$seeds" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -print_final_stats=1
