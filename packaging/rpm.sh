#!/usr/bin/env bash
# Writes release/o365-backsync-<version>-<release>.x86_64.rpm from the release tarball that
# packaging/release.sh wrote (run it first, as `npm run rpm` does). The paths and the service user are
# decided here, once, and handed to the spec and to the files made by `setup`'s own code.
# Needs: rpmbuild (Debian's `rpm` package). RPM_RELEASE (default 1) and RPM_OUT (default release/)
# let a test build the next release of the same version somewhere else.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v rpmbuild >/dev/null || { echo "rpm: rpmbuild is missing (apt-get install -y rpm)" >&2; exit 1; }

PREFIX=/opt/o365-backsync
SERVICE_USER=o365-backsync
ENV_FILE=/etc/o365-backsync/o365-backsync.env
STATE_DIR=/var/lib/o365-backsync
LOG_DIR=/var/log/o365-backsync

version=$(node -p 'require("./package.json").version')
rpm_release=${RPM_RELEASE:-1}
out=${RPM_OUT:-release}
tarball=release/o365-backsync-$version-linux-x64.tar.gz
[ -f "$tarball" ] || { echo "rpm: $tarball is missing; run packaging/release.sh first" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/o365-backsync-rpm.XXXXXX")
trap 'rm -rf "$work"' EXIT

# The env file the package installs: the example, with the folders this package makes.
sed -e "s|^#LOG_DIR=.*|LOG_DIR=$LOG_DIR|" -e "s|^#STATE_DIR=.*|STATE_DIR=$STATE_DIR|" config.example.env >"$work/o365-backsync.env"
grep -qx "LOG_DIR=$LOG_DIR" "$work/o365-backsync.env" && grep -qx "STATE_DIR=$STATE_DIR" "$work/o365-backsync.env" || {
  echo "rpm: config.example.env no longer has the #LOG_DIR= and #STATE_DIR= lines this script sets" >&2
  exit 1
}

[ -f dist/packaging/packaged-setup-files.js ] || npm run --silent build >&2
node dist/packaging/packaged-setup-files.js "$work/setup-root" "$PREFIX" "$ENV_FILE" "$SERVICE_USER" "$STATE_DIR" \
  "$LOG_DIR" >"$work/setup-files"
# The package owns /usr/share/o365-backsync whole, so removing it leaves no empty folders behind.
{ grep -v '^/usr/share/o365-backsync/' "$work/setup-files"; echo /usr/share/o365-backsync; } >"$work/setup-files.list"

rpmbuild -bb packaging/o365-backsync.spec --target x86_64 --quiet \
  --define "_topdir $work/rpmbuild" \
  --define "_rpmdir $work/rpms" \
  --define "pkg_version $version" \
  --define "pkg_release $rpm_release" \
  --define "release_tarball $PWD/$tarball" \
  --define "env_file_source $work/o365-backsync.env" \
  --define "setup_files $work/setup-root" \
  --define "setup_files_list $work/setup-files.list" \
  --define "prefix_dir $PREFIX" \
  --define "service_user $SERVICE_USER" \
  --define "env_file $ENV_FILE" \
  --define "state_dir $STATE_DIR" \
  --define "log_dir $LOG_DIR" >&2

mkdir -p "$out"
name=o365-backsync-$version-$rpm_release.x86_64.rpm
mv "$work/rpms/x86_64/$name" "$out/$name"
echo "$out/$name"
