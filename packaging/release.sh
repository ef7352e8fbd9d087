#!/usr/bin/env bash
# Writes release/o365-backsync-<version>-linux-x64.tar.gz: one folder, o365-backsync/, meant for
# /opt/o365-backsync, that needs nothing of the host but a Linux kernel. It carries the built app
# with its production dependencies, its own Node.js, flock(1) for the run lock, every shared library
# those two load and the dynamic loader; patchelf points both at that loader and those libraries.
# Needs: npm, patchelf, ldd (see packaging/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."

# Node.js LTS line, pinned exactly: a new release of the bundle is how it gets Node.js's fixes.
NODE_VERSION=24.22.3
PREFIX=/opt/o365-backsync
# util-linux's, as Debian installs it (dpkg names its package by this path).
FLOCK=/usr/bin/flock

[ -x "$FLOCK" ] || { echo "release: $FLOCK is missing (apt-get install -y util-linux)" >&2; exit 1; }
for tool in patchelf ldd npm; do
  command -v "$tool" >/dev/null || { echo "release: $tool is missing (apt-get install -y patchelf)" >&2; exit 1; }
done

version=$(node -p 'require("./package.json").version')
name=o365-backsync-$version-linux-x64
mkdir -p release
work=$(mktemp -d "${TMPDIR:-/tmp}/o365-backsync-release.XXXXXX")
trap 'rm -rf "$work"' EXIT
tree=$work/o365-backsync

echo "release: building the app" >&2
npm run --silent build >&2
mkdir -p "$tree/dist" "$tree/bin" "$tree/node/bin" "$tree/lib" "$tree/licenses"
cp package.json package-lock.json config.example.env README.md "$tree/"
# Source maps point at src/*.ts, which the bundle does not carry.
cp -R dist/src "$tree/dist/src"
find "$tree/dist" -name '*.map' -delete

echo "release: installing production dependencies" >&2
(cd "$tree" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --prefer-offline --loglevel=error >&2)
rm -f "$tree/package-lock.json"

# The entry script names the bundled node itself, so process.execPath (which `setup` writes into the
# cron and systemd files) is that binary, not a loader or a launcher. Linux hands a #! line's options
# to the interpreter as one argument, and `env -S` (which the checkout's script uses to pass several)
# is the host's and missing from RHEL 7's coreutils, so this line carries only `--`: a run started by
# hand goes without the V8 settings of node-flags.ts, which the files `setup` writes and the image's
# Entrypoint give.
# The rest is the checkout's script from its first statement on, without the comment on its own #! line.
{
  echo "#!$PREFIX/node/bin/node --"
  sed -n "/^'use strict';\$/,\$p" bin/o365-backsync
} >"$tree/bin/o365-backsync"
grep -q "^require('../dist/src/cli/main.js')" "$tree/bin/o365-backsync" || {
  echo "release: bin/o365-backsync no longer has the 'use strict' line this script starts from" >&2
  exit 1
}
chmod 0755 "$tree/bin/o365-backsync"

echo "release: Node.js $NODE_VERSION, flock and the libraries they load" >&2
node_dir=$(.ci/node-bin "$NODE_VERSION")/..
install -m 0755 "$node_dir/bin/node" "$tree/node/bin/node"
cp "$node_dir/LICENSE" "$tree/licenses/node.LICENSE"
# The run lock takes flock(1) from beside process.execPath first (src/runtime/run-lock.ts); a host
# without util-linux, or a bare chroot, has none. This build host's, from util-linux.
install -m 0755 "$FLOCK" "$tree/node/bin/flock"
programs=("$tree/node/bin/node" "$tree/node/bin/flock")
# Every library ldd resolves for them, the loader included, copied under its soname (the name the
# binaries ask for).
interpreter=$(patchelf --print-interpreter "$tree/node/bin/node")
libs=()
while read -r soname path; do
  install -m 0755 "$(readlink -f "$path")" "$tree/lib/$soname"
  libs+=("$soname $path")
done < <(for program in "${programs[@]}"; do ldd "$program"; done | awk '$2 == "=>" && $3 ~ /^\// { print $1, $3 }' | sort -u)
install -m 0755 "$(readlink -f "$interpreter")" "$tree/lib/$(basename "$interpreter")"
libs+=("$(basename "$interpreter") $interpreter")
# The kernel starts the interpreter named in a binary, which must be an absolute path; DT_RPATH
# (not RUNPATH) also covers the libraries' own dependencies, so none of the host's is picked.
for program in "${programs[@]}"; do
  patchelf --set-interpreter "$PREFIX/lib/$(basename "$interpreter")" --force-rpath --set-rpath "$PREFIX/lib" "$program"
done

echo "release: licences" >&2
{
  echo "o365-backsync $version carries, besides its own code (MIT, see package.json):"
  echo
  echo "Node.js $NODE_VERSION (node/bin/node): MIT and the licences of what it bundles (OpenSSL, ICU, libuv, V8...),"
  echo "  all in licenses/node.LICENSE."
  echo
  echo "Programs and shared libraries copied from this Debian build host (source: the Debian source packages named):"
  for entry in "node/bin/flock $FLOCK" "${libs[@]/#/lib/}"; do
    read -r carried path <<<"$entry"
    # dpkg knows a file by the path its package installed it at, before any /lib -> /usr/lib link.
    pkg=$(dpkg -S "$path" 2>/dev/null | head -n 1 | cut -d: -f1) || pkg=$(dpkg -S "$(readlink -f "$path")" | cut -d: -f1)
    pkgver=$(dpkg-query -W -f '${Version}' "$pkg")
    src=$(dpkg-query -W -f '${source:Package}' "$pkg")
    echo "  $carried: Debian package $pkg $pkgver (source package $src), licence in licenses/$pkg.copyright"
    cp "/usr/share/doc/$pkg/copyright" "$tree/licenses/$pkg.copyright"
  done
  echo
  echo "npm packages in node_modules/ (each folder holds its own licence file):"
  (cd "$tree" && find node_modules -regex '.*node_modules/\(@[^/]*/\)?[^/@][^/]*/package.json' -print0 | sort -z |
    xargs -0 node -e '
      for (const file of process.argv.slice(1)) {
        const p = require(require("node:path").resolve(file));
        if (!p.name || !p.version) continue;
        const lic = typeof p.license === "string" ? p.license : JSON.stringify(p.license ?? p.licenses ?? "UNKNOWN");
        console.log(`  ${p.name} ${p.version}: ${lic} (${require("node:path").dirname(file)})`);
      }')
} >"$tree/licenses/README"

echo "release: packing" >&2
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$(git log -1 --format=%ct 2>/dev/null || date +%s)" \
  -C "$work" -cf - o365-backsync | gzip -9 >"release/$name.tar.gz.part"
mv "release/$name.tar.gz.part" "release/$name.tar.gz"
echo "release/$name.tar.gz"
