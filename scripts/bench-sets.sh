#!/bin/sh
# Differential-testing figures: `tdb-replay bench -n RUNS` on users.ldb and on every
# torture set of the corpus (all the .zst files of a set together), then one table of the
# best times (ms) and the ratios (best, median in brackets) of each set.
#
#   scripts/bench-sets.sh CORPUS [RUNS]
#
# CORPUS holds ldb/users.ldb.trace.*.zst and torture/N-torture/*.zst. The scratch
# databases go to a new temporary directory (BENCH_DIR to choose one; it must not hold
# files of the same names tdb-replay did not create), removed afterwards; every bench's
# full output is kept in target/bench-sets/<set>.txt. TDB_REPLAY names the binary.
set -eu

corpus=${1:?usage: scripts/bench-sets.sh CORPUS [RUNS]}
runs=${2:-3}
bin=${TDB_REPLAY:-./target/release/tdb-replay}
logs=target/bench-sets

[ -x "$bin" ] || { echo "bench-sets: no $bin; run cargo build --release first" >&2; exit 2; }
[ -d "$corpus/torture" ] || { echo "bench-sets: no $corpus/torture" >&2; exit 2; }
mkdir -p "$logs"
if [ -n "${BENCH_DIR:-}" ]; then
    work=$BENCH_DIR
    mkdir -p "$work"
else
    work=$(mktemp -d "${TMPDIR:-/tmp}/bench-sets.XXXXXX")
    trap 'rm -rf "$work"' EXIT
fi

# The first field after a line's label: "replay (c)   36.1 ms best, ..." gives 36.1.
figure() { # LOG LABEL
    awk -v label="$2" 'index($0, label) == 1 {
        rest = substr($0, length(label) + 1); split(rest, f, " "); print f[1]; exit }' "$1"
}
# A ratio line: "diff / replay c   2.577 (best), 2.645 (median)" gives "2.58 (2.65)".
ratio() { # LOG LABEL
    awk -v label="$2" 'index($0, label) == 1 {
        rest = substr($0, length(label) + 1); split(rest, f, " ");
        printf "%.2f (%.2f)\n", f[1], f[3]; exit }' "$1"
}

failed=0
rows=""
bench() { # NAME TRACE...
    name=$1
    shift
    log=$logs/$name.txt
    echo "bench-sets: $name ($# trace files, $runs runs)" >&2
    if "$bin" bench -n "$runs" --tdbfile "$work/$name.tdb" "$@" >"$log" 2>&1; then
        # A single trace has no mixed replay (bench says it is skipped).
        mixed=$(figure "$log" 'replay (mixed)' | sed 's/^skipped:$//')
        mixed_ratio=$(ratio "$log" 'replay mixed / c')
        row=$(printf '%-12s %9s %9s %9s %9s  %-13s %s' "$name" \
            "$(figure "$log" 'replay (c)')" "$(figure "$log" 'replay (pure)')" \
            "${mixed:--}" "$(figure "$log" 'diff  ')" \
            "$(ratio "$log" 'diff / replay c')" "${mixed_ratio:--}")
    else
        status=$?
        failed=1
        row=$(printf '%-12s FAILED with exit status %s, see %s' "$name" "$status" "$log")
        tail -n 5 "$log" >&2
    fi
    rows="$rows$row
"
}

bench users.ldb "$corpus"/ldb/users.ldb.trace.*.zst
for set in "$corpus"/torture/*-torture; do
    [ -d "$set" ] || continue
    bench "$(basename "$set")" "$set"/*.zst
done

printf '\n%-12s %9s %9s %9s %9s  %-13s %s\n' set 'c ms' 'pure ms' 'mixed ms' \
    'diff ms' 'diff/c' 'mixed/c'
printf '%s' "$rows"
echo "(best of $runs runs; ratios: best (median); full output in $logs/)"
exit $failed
