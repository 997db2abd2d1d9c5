#!/usr/bin/env bash
# Fetch Debian's libtdb-dev (static libtdb.a + tdb.h) into vendor/libtdb/ for tdb-sys.
#
# Nothing this script downloads or unpacks is committed: see vendor/README.md.
#
# Environment:
#   LIBTDB_DEV_SHA256  expected sha256 of the .deb; required on architectures other than
#                      amd64, optional override on amd64.
#   LIBTDB_DEV_VERSION Debian version to fetch (default 1.4.8-2); changing it requires
#                      LIBTDB_DEV_SHA256 as well.
set -euo pipefail

readonly PACKAGE=libtdb-dev
readonly DEFAULT_VERSION=1.4.8-2
readonly AMD64_SHA256=830e5e526fdfc5daa9cefdea7365622e7f0cc531417603a9359c2a9c50a832f5

vendor_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly vendor_dir
readonly downloads_dir="$vendor_dir/downloads"
readonly unpack_dir="$vendor_dir/libtdb"
# Written last, after a verified unpack; its content is the verified hash.
readonly stamp="$unpack_dir/.verified-sha256"

die() {
    echo "fetch-libtdb: error: $*" >&2
    exit 1
}

note() {
    echo "fetch-libtdb: $*" >&2
}

require_tool() {
    command -v "$1" >/dev/null 2>&1 || die "'$1' not found; $2"
}

# The hash to verify against: explicit override, else the pinned amd64 one.
expected_sha256() {
    local arch=$1 version=$2
    if [[ -n "${LIBTDB_DEV_SHA256:-}" ]]; then
        echo "$LIBTDB_DEV_SHA256"
    elif [[ "$version" != "$DEFAULT_VERSION" ]]; then
        die "no pinned hash for $PACKAGE $version; set LIBTDB_DEV_SHA256 to the .deb's sha256"
    elif [[ "$arch" == amd64 ]]; then
        echo "$AMD64_SHA256"
    else
        die "only the amd64 package hash is pinned, but this machine is '$arch'.
  Check the hash of $PACKAGE $version for $arch from a trusted source (e.g. the
  Debian archive's Packages file) and rerun with LIBTDB_DEV_SHA256=<sha256>."
    fi
}

sha256_of() {
    sha256sum "$1" | cut -d' ' -f1
}

already_done() {
    local want=$1
    [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]] || return 1
    compgen -G "$unpack_dir/usr/lib/*/libtdb.a" >/dev/null || return 1
    [[ -f "$unpack_dir/usr/include/tdb.h" ]]
}

# Prints the path of the downloaded .deb.
download() {
    local version=$1 arch=$2 deb
    deb="$downloads_dir/${PACKAGE}_${version}_${arch}.deb"
    if [[ -f "$deb" ]]; then
        echo "$deb"
        return
    fi
    mkdir -p "$downloads_dir"
    note "downloading $PACKAGE=$version"
    if ! (cd "$downloads_dir" && apt-get download "$PACKAGE=$version" >&2); then
        die "'apt-get download $PACKAGE=$version' failed.
  If apt does not know the version, run 'apt-get update' first (as root), and make sure
  a Debian source that has it is configured ($DEFAULT_VERSION is in bookworm, Debian 12)."
    fi
    # apt-get names the file with an URL-encoded version (':' as %3a); find what it wrote.
    if [[ ! -f "$deb" ]]; then
        local found
        found=$(compgen -G "$downloads_dir/${PACKAGE}_*${version}_${arch}.deb" | head -n1 || true)
        [[ -n "$found" ]] || die "apt-get download succeeded but no .deb appeared in $downloads_dir"
        mv "$found" "$deb"
    fi
    echo "$deb"
}

verify() {
    local deb=$1 want=$2 got
    got=$(sha256_of "$deb")
    if [[ "$got" != "$want" ]]; then
        rm -f "$deb"
        die "sha256 mismatch for $(basename "$deb"):
  expected $want
  got      $got
  The file has been removed; rerun to download it again."
    fi
}

unpack() {
    local deb=$1 want=$2 tmp
    tmp=$(mktemp -d "$vendor_dir/.libtdb.XXXXXX")
    # Unpack next to the final place, then swap, so an interrupted run leaves no half tree.
    dpkg-deb -x "$deb" "$tmp"
    compgen -G "$tmp/usr/lib/*/libtdb.a" >/dev/null \
        || { rm -rf "$tmp"; die "$(basename "$deb") contains no usr/lib/<multiarch>/libtdb.a"; }
    echo "$want" >"$tmp/.verified-sha256"
    rm -rf "$unpack_dir"
    mv "$tmp" "$unpack_dir"
}

main() {
    require_tool dpkg "this script needs a Debian-based system (dpkg, apt-get)"
    require_tool apt-get "this script needs a Debian-based system (dpkg, apt-get)"
    require_tool dpkg-deb "install the 'dpkg' package"
    require_tool sha256sum "install the 'coreutils' package"

    local arch version want deb
    arch=$(dpkg --print-architecture)
    version=${LIBTDB_DEV_VERSION:-$DEFAULT_VERSION}
    want=$(expected_sha256 "$arch" "$version")

    if already_done "$want"; then
        note "$unpack_dir is already unpacked and verified; nothing to do"
        return
    fi
    deb=$(download "$version" "$arch")
    verify "$deb" "$want"
    unpack "$deb" "$want"
    note "unpacked $PACKAGE $version ($arch) into $unpack_dir"
}

main "$@"
