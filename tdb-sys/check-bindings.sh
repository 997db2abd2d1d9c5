#!/usr/bin/env bash
# Fail if the committed tdb-sys/src/bindings.rs differs from a fresh bindgen run.
# Same requirements as regen-bindings.sh (libclang-dev, rustfmt, libtdb via
# vendor/fetch-libtdb.sh).
set -euo pipefail

crate_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly crate_dir
fresh=$(mktemp "${TMPDIR:-/tmp}/tdb-sys-bindings.XXXXXX.rs")
trap 'rm -f "$fresh"' EXIT

"$crate_dir/regen-bindings.sh" "$fresh"
if ! diff -u "$crate_dir/src/bindings.rs" "$fresh"; then
    echo "check-bindings: src/bindings.rs is stale; run tdb-sys/regen-bindings.sh and commit" >&2
    exit 1
fi
echo "check-bindings: src/bindings.rs is up to date" >&2
