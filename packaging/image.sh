#!/usr/bin/env bash
# Writes release/o365-backsync-<version>-oci.tar, an OCI image layout archive (`podman load -i`,
# `docker load -i`), from the release tarball that packaging/release.sh wrote (run it first, as
# `npm run image` does). No base image: the release needs nothing of one, so the image holds the
# release tree, the CA certificates of this build host (Debian's ca-certificates bundle), a passwd
# and group file naming its user, and the state folder. umoci (a Debian package) writes the layer,
# config, manifest and index, so their digests, media types and layout are its, not hand-made.
# Needs: umoci, and root, because the layer records the owners of its files (the state folder belongs
# to the image's user).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v umoci >/dev/null || { echo "image: umoci is missing (apt-get install -y umoci)" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "image: run as root: the layer records file owners (the state folder is the image user's)" >&2; exit 1; }

PREFIX=/opt/o365-backsync
USER_ID=10001
STATE_DIR=/var/lib/o365-backsync
CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt

version=$(node -p 'require("./package.json").version')
tarball=release/o365-backsync-$version-linux-x64.tar.gz
[ -f "$tarball" ] || { echo "image: $tarball is missing; run packaging/release.sh first" >&2; exit 1; }
[ -s "$CA_BUNDLE" ] || { echo "image: $CA_BUNDLE is missing (apt-get install -y ca-certificates)" >&2; exit 1; }
[ -f dist/src/cli/node-flags.js ] || npm run --silent build >&2
# Entrypoint: the tool as `setup` starts it, node with the V8 settings of node-flags.ts, then `--`.
entrypoint=("$PREFIX/node/bin/node")
mapfile -t -O 1 entrypoint < <(node -p 'require("./dist/src/cli/node-flags.js").NODE_FLAGS.join("\n")')
entrypoint+=(-- "$PREFIX/bin/o365-backsync")
created=$(date -u -d "@$(git log -1 --format=%ct 2>/dev/null || date +%s)" +%Y-%m-%dT%H:%M:%SZ)

work=$(mktemp -d "${TMPDIR:-/tmp}/o365-backsync-image.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/rootfs
mkdir -p "$root/opt" "$root/etc/ssl/certs" "$root/etc/pki/tls/certs" "$root/usr/share/doc/ca-certificates" \
  "$root/tmp" "$root$STATE_DIR"
tar -xzf "$tarball" -C "$root/opt"
chmod 1777 "$root/tmp"
chown "$USER_ID:$USER_ID" "$root$STATE_DIR"
chmod 0700 "$root$STATE_DIR"
cat >"$root/etc/passwd" <<PASSWD
root:x:0:0:root:/root:/sbin/nologin
o365-backsync:x:$USER_ID:$USER_ID:o365-backsync:$STATE_DIR:/sbin/nologin
PASSWD
cat >"$root/etc/group" <<GROUP
root:x:0:
o365-backsync:x:$USER_ID:
GROUP
# The bundled C library reads this: users from the files above, names from files then DNS.
printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$root/etc/nsswitch.conf"
cp "$CA_BUNDLE" "$root/etc/ssl/certs/ca-certificates.crt"
# The same bundle where RHEL keeps it, so APS_CA_FILE=system finds it whichever path it looks at.
ln -s ../../../ssl/certs/ca-certificates.crt "$root/etc/pki/tls/certs/ca-bundle.crt"
cp /usr/share/doc/ca-certificates/copyright "$root/usr/share/doc/ca-certificates/copyright"
chmod 0644 "$root/etc/passwd" "$root/etc/group" "$root/etc/nsswitch.conf" "$root/etc/ssl/certs/ca-certificates.crt"

# podman names a loaded image after index.json's org.opencontainers.image.ref.name (umoci's tag),
# docker after io.containerd.image.name; both get the same full name.
name=localhost/o365-backsync:$version
layout=$work/oci
image="$layout:$name"
umoci init --layout "$layout"
umoci new --image "$image"
umoci unpack --image "$image" "$work/bundle" >/dev/null
rm -rf "$work/bundle/rootfs"
mv "$root" "$work/bundle/rootfs"
umoci repack --image "$image" --history.created "$created" --history.created_by "packaging/image.sh" "$work/bundle"
umoci config --image "$image" --created "$created" --history.created "$created" \
  --architecture amd64 --os linux \
  --config.user "$USER_ID:$USER_ID" \
  "${entrypoint[@]/#/--config.entrypoint=}" --config.cmd sync \
  --config.env LOG_DIR=- --config.env "STATE_DIR=$STATE_DIR" \
  --config.volume "$STATE_DIR" --config.workingdir / \
  --config.label "org.opencontainers.image.title=o365-backsync" \
  --config.label "org.opencontainers.image.version=$version"
umoci gc --layout "$layout"
# index.json is the one file of the layout that no digest covers, so adding an annotation is safe.
node -e '
  const fs = require("node:fs");
  const [file, name] = process.argv.slice(1);
  const index = JSON.parse(fs.readFileSync(file, "utf8"));
  for (const m of index.manifests) m.annotations = { ...m.annotations, "io.containerd.image.name": name };
  fs.writeFileSync(file, JSON.stringify(index));
' "$layout/index.json" "$name"

mkdir -p release
out=release/o365-backsync-$version-oci.tar
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="$created" -C "$layout" -cf "$out.part" .
mv "$out.part" "$out"
echo "$out"
