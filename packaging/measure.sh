#!/usr/bin/env bash
# Measures the release beside the npm install in one run (see packaging/measure.ts), as root: the
# release only runs from /opt/o365-backsync, so it is unpacked in a scratch folder that a mount
# namespace of this script's own shows at /opt; the host's /opt is left alone. The npm install is the
# README's (npm pack, then npm install -g into a scratch prefix), on the Node.js on PATH.
# Run packaging/release.sh first.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "measure: run as root (a mount namespace shows the release at /opt)" >&2; exit 1; }
version=$(node -p 'require("./package.json").version')
tarball=$PWD/release/o365-backsync-$version-linux-x64.tar.gz
work=$(mktemp -d "${TMPDIR:-/tmp}/o365-backsync-measure.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/opt" "$work/prefix"
tar -xzf "$tarball" -C "$work/opt"
package=$(npm pack --silent --pack-destination "$work" | tail -n 1)
npm install -g --prefix "$work/prefix" --prefer-offline --no-audit --no-fund --loglevel=error "$work/$package" >&2
unshare --mount --propagation private sh -euc 'mount --bind "$1/opt" /opt; shift; exec "$@"' sh "$work" \
  node dist/packaging/measure.js /opt/o365-backsync/bin/o365-backsync "$work/prefix/bin/o365-backsync" "$tarball" "$@"
