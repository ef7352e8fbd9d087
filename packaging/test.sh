#!/usr/bin/env bash
# `npm run test:packaging`: builds the release, the RPM and (as root) the image, then runs the
# packaging tests. The tests that need root (chroots, mounts, file owners) skip themselves without it.
set -euo pipefail
cd "$(dirname "$0")/.."
packaging/release.sh
packaging/rpm.sh
if [ "$(id -u)" = 0 ]; then packaging/image.sh; else echo "test:packaging: no image without root" >&2; fi
# old-node.test.js is not about the artifacts: it has its own script and CI step (npm run test:old-node).
mapfile -t tests < <(find dist/packaging/test -name '*.test.js' ! -name old-node.test.js | sort)
exec npm run test:files -- "${tests[@]}"
