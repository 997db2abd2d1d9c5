#!/bin/sh
# Build libtdb.so.1 over tdb-pure: the tdb-capi static library linked into a shared
# object with Samba's SONAME and symbol versions (libtdb.map, which also keeps every
# symbol but the tdb API local). rustc's own cdylib output cannot be used: it brings an
# anonymous version script that GNU ld refuses to combine with named version nodes.
#
# Usage: tdb-capi/build-so.sh [--no-cargo]   (from anywhere; --no-cargo links the
# static library already built). Result: target/release/libtdb.so.1.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
if [ "${1:-}" != "--no-cargo" ]; then
    (cd "$root" && ${CARGO:-cargo} build --release -p tdb-capi)
fi
lib=$target/release/libtdb_capi.a
out=$target/release/libtdb.so.1
[ -f "$lib" ] || { echo "build-so.sh: $lib is missing; run without --no-cargo" >&2; exit 1; }
${CC:-cc} -shared -o "$out.tmp" \
    -Wl,-soname,libtdb.so.1 \
    -Wl,--version-script="$here/libtdb.map" \
    -Wl,--gc-sections -Wl,-z,relro -Wl,-z,now \
    -Wl,--whole-archive "$lib" -Wl,--no-whole-archive \
    -lgcc_s -lpthread -ldl -lm -lc
mv "$out.tmp" "$out"
echo "$out"
