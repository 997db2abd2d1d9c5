#!/usr/bin/env bash
# Regenerate tdb-sys/src/bindings.rs with bindgen, through build.rs's `buildtime_bindgen`
# feature, so the committed file and the build-time one come from the same settings.
#
# Usage: tdb-sys/regen-bindings.sh [OUTPUT]   (default: tdb-sys/src/bindings.rs)
# Needs libclang (Debian: libclang-dev) and rustfmt, plus a libtdb that build.rs finds
# (vendor/fetch-libtdb.sh).
set -euo pipefail

crate_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly crate_dir
readonly workspace_dir="$crate_dir/.."
output=${1:-"$crate_dir/src/bindings.rs"}

# The OUT_DIR of tdb-sys's build script, from cargo's JSON messages.
out_dir=$(
    cd "$workspace_dir" &&
        cargo check -p tdb-sys --features buildtime_bindgen \
            --message-format=json-render-diagnostics |
        grep '"reason":"build-script-executed"' |
        grep '[/"]tdb-sys[#" ]' |
        sed -n 's/.*"out_dir":"\([^"]*\)".*/\1/p' |
        tail -n1
)
if [[ -z "$out_dir" || ! -f "$out_dir/bindings.rs" ]]; then
    echo "regen-bindings: cargo did not report tdb-sys's generated bindings" >&2
    exit 1
fi

cp "$out_dir/bindings.rs" "$output"
echo "regen-bindings: wrote $output" >&2
