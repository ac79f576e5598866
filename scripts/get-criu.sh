#!/usr/bin/env bash
# Get a CRIU that can checkpoint a Switchyard job on this machine: 4.2 or newer (3.17 cannot start on kernels
# from 6.13, 4.1.x fails to dump TCP sockets on kernels from 6.16). Debian 12 packages none, so it is built from
# Debian unstable's source package; the machine's own apt lists are left as they were (a private apt state
# folder holds the unstable source index). Idempotent: does nothing when a good enough criu is on PATH or
# already installed in the prefix. Root is needed (apt-get, and criu itself runs as root).
#
#   scripts/get-criu.sh            # installs $PREFIX/sbin/criu (PREFIX=/usr/local), then runs `criu check`
#   CRIU_PREFIX=/opt/criu scripts/get-criu.sh
set -euo pipefail

NEED_MAJOR=4
NEED_MINOR=2
PREFIX="${CRIU_PREFIX:-/usr/local}"
WORK="${CRIU_BUILD_DIR:-/var/cache/switchyard-criu}"
BUILD_DEPS="protobuf-c-compiler libprotobuf-c-dev protobuf-compiler libprotobuf-dev libcap-dev libnl-3-dev
  libnl-route-3-dev libnet1-dev libbsd-dev pkg-config python3-protobuf libgnutls28-dev uuid-dev libaio-dev
  libnftables-dev iptables gcc make xz-utils"

say() { echo "get-criu: $*"; }
die() { echo "get-criu: $*" >&2; exit 1; }

# "criu --version" prints "Version: 4.2.1" (and a GitCommitID line for git builds).
version_of() { "$1" --version 2>/dev/null | sed -n 's/^Version: *//p' | head -n1; }
good_enough() {
  local v major minor
  v="$(version_of "$1")"
  [ -n "$v" ] || return 1
  major="${v%%.*}"; minor="${v#*.}"; minor="${minor%%.*}"
  [ "$major" -gt "$NEED_MAJOR" ] || { [ "$major" -eq "$NEED_MAJOR" ] && [ "$minor" -ge "$NEED_MINOR" ]; }
}
check() {
  # `criu check` prints "Looks good." when every feature a dump needs works; the kdat cache warning is harmless.
  local out
  out="$("$1" check 2>&1)" || { echo "$out" >&2; die "'$1 check' failed"; }
  echo "$out" | grep -q 'Looks good' || { echo "$out" >&2; die "'$1 check' did not say 'Looks good.'"; }
  say "$1 $(version_of "$1"): criu check passed"
}

[ "$(id -u)" -eq 0 ] || die "run as root (apt-get installs the build dependencies; criu runs as root)"

for candidate in "$(command -v criu 2>/dev/null || true)" "$PREFIX/sbin/criu"; do
  if [ -n "$candidate" ] && [ -x "$candidate" ] && good_enough "$candidate"; then
    check "$candidate"
    exit 0
  fi
done
old="$(command -v criu 2>/dev/null || true)"
[ -z "$old" ] || say "$old is $(version_of "$old"), too old: building ${NEED_MAJOR}.${NEED_MINOR}+ into $PREFIX/sbin"

export DEBIAN_FRONTEND=noninteractive
missing=""
for p in $BUILD_DEPS; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  say "installing build dependencies:$missing"
  apt-get update -qq || die "apt-get update failed"
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $missing >/dev/null || die "apt-get install failed:$missing"
fi

# A deb-src entry for unstable made from the machine's own Debian entry (same mirror and key), in a private
# apt state folder: the machine's package lists and sources stay untouched.
own="/etc/apt/sources.list.d/debian.sources"
[ -f "$own" ] || die "$own not found: cannot tell which Debian mirror and key to use"
uris="$(awk '/^URIs:/ && $2 ~ /\/debian\/?$/ {print $2; exit}' "$own")"
key="$(awk '/^Signed-By:/ {print $2; exit}' "$own")"
[ -n "$uris" ] || die "no Debian 'URIs:' line in $own"
mkdir -p "$WORK/lists/partial" "$WORK/cache/archives/partial" "$WORK/sources.list.d" "$WORK/src"
cat >"$WORK/sources.list.d/sid-src.sources" <<EOF
Types: deb-src
URIs: $uris
Suites: sid
Components: main
${key:+Signed-By: $key}
EOF
APT=(apt-get -q -o "Dir::State::Lists=$WORK/lists" -o "Dir::Cache=$WORK/cache"
  -o "Dir::Etc::SourceList=/dev/null" -o "Dir::Etc::SourceParts=$WORK/sources.list.d")

orig="$(ls "$WORK"/src/criu_*.orig.tar.* 2>/dev/null | sort -V | tail -n1 || true)"
if [ -z "$orig" ]; then
  say "fetching the criu source package from Debian unstable"
  "${APT[@]}" update >/dev/null || die "apt-get update of the private unstable source index failed"
  # The .debian.tar.xz of a version can be missing from the archive: only the orig tarball is needed.
  (cd "$WORK/src" && "${APT[@]}" source --download-only criu >/dev/null 2>&1) || true
  orig="$(ls "$WORK"/src/criu_*.orig.tar.* 2>/dev/null | sort -V | tail -n1 || true)"
  [ -n "$orig" ] || die "apt-get source --download-only criu fetched no criu_*.orig.tar.* into $WORK/src"
fi
say "building $(basename "$orig")"
tree="$WORK/build"
rm -rf "$tree" && mkdir -p "$tree"
tar -xf "$orig" -C "$tree" --strip-components=1
make -C "$tree" -j"$(nproc)" criu >"$WORK/build.log" 2>&1 || { tail -n 30 "$WORK/build.log" >&2; die "make criu failed"; }
install -D -m 0755 "$tree/criu/criu" "$PREFIX/sbin/criu"
rm -rf "$tree"
good_enough "$PREFIX/sbin/criu" || die "$PREFIX/sbin/criu reports version '$(version_of "$PREFIX/sbin/criu")'"
check "$PREFIX/sbin/criu"
