#!/usr/bin/env bash
# Builds the version matrix of corosync daemons that the integration tests
# can run (internal/testkit/corotest: COROSYNC_GO_DAEMON=<name>), each into a prefix
# of its own under ${COROSYNC_GO_CACHE:-/var/cache/corosync-go}/daemons:
#
#   2.4.6           corosync 2.4.6 on Debian's libqb 2.0 (no knet: udpu)
#   3.0.4           corosync 3.0.4 on Debian's libqb 2.0
#   3.1.10          corosync 3.1.10 on Debian's libqb 2.0
#   main            corosync main (3.1.10.65235a81), --enable-unencrypted
#   3.1.10-qb1.0.3  corosync 3.1.10 on libqb 1.0.3 (built into libqb-1.0.3)
#
# The sixth member of the matrix, "system", is Debian's corosync (apt).
#
# Usage: scripts/build-daemons.sh [name...]   (default: all of them)
#
# Each prefix holds sbin/corosync, the corosync-* tools, and the client
# libraries (lib/, with an rpath to themselves) and headers (include/corosync)
# that cgo oracles build against. A prefix appears (renamed into place) only
# once its build is complete, with a .stamp file holding the sha256 of its
# tarballs and of this script: a rerun whose stamp matches does nothing.
#
# Sources come from ${COROSYNC_GO_UPSTREAM:-<repo>/../shared/upstream} (see
# its README.md); a tarball missing there is downloaded from GitHub when the
# network allows. Needs root for apt-get (build dependencies) and the cache.
set -euo pipefail
shopt -s inherit_errexit

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
self="$here/$(basename "${BASH_SOURCE[0]}")"
cache_root=${COROSYNC_GO_CACHE:-/var/cache/corosync-go}
cache="$cache_root/daemons"
upstream=${COROSYNC_GO_UPSTREAM:-$repo/../shared/upstream}
downloads="$cache_root/upstream"

all=(2.4.6 3.0.4 3.1.10 main 3.1.10-qb1.0.3)

# Each build: its tarball, the version it reports, the upstream archive URL
# (a tag or a commit), which libqb it links ("system" or a build name) and
# extra configure flags.
tarball() {
  case $1 in
    2.4.6) echo corosync-2.4.6.tar.gz ;;
    3.0.4) echo corosync-3.0.4.tar.gz ;;
    3.1.10 | 3.1.10-qb1.0.3) echo corosync-3.1.10.tar.gz ;;
    main) echo corosync-3.1.10.65235a81.tar.gz ;;
    libqb-1.0.3) echo libqb-1.0.3.tar.gz ;;
    *) return 1 ;;
  esac
}
url_of() {
  case $1 in
    corosync-3.1.10.65235a81.tar.gz) echo https://github.com/corosync/corosync/archive/65235a810d012b74821d15a8482cb498314cfd85.tar.gz ;;
    corosync-*.tar.gz) v=${1#corosync-}; echo "https://github.com/corosync/corosync/archive/refs/tags/v${v%.tar.gz}.tar.gz" ;;
    libqb-*.tar.gz) v=${1#libqb-}; echo "https://github.com/ClusterLabs/libqb/archive/refs/tags/v${v%.tar.gz}.tar.gz" ;;
  esac
}
version_of() {
  case $1 in
    3.1.10-qb1.0.3) echo 3.1.10 ;;
    main) echo 3.1.10.65235a81 ;;
    libqb-1.0.3) echo 1.0.3 ;;
    *) echo "$1" ;;
  esac
}
libqb_of() {
  case $1 in
    3.1.10-qb1.0.3) echo libqb-1.0.3 ;;
    *) echo system ;;
  esac
}
flags_of() {
  case $1 in
    main) echo --enable-unencrypted ;;
  esac
}

log() { printf 'build-daemons: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

for name in "$@"; do
  [ "$name" = libqb-1.0.3 ] || [[ " ${all[*]} " == *" $name "* ]] ||
    die "unknown daemon '$name' (known: ${all[*]} libqb-1.0.3)"
done
[ $# -gt 0 ] || set -- "${all[@]}"

# Build dependencies, installed once (Debian packages).
deps=(autoconf automake libtool pkg-config make gcc libc6-dev libqb-dev libknet-dev libnss3-dev zlib1g-dev curl ca-certificates)
need=()
for p in "${deps[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || die "need root to apt-get install ${need[*]}"
  log "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

mkdir -p "$cache" "$cache_root/logs"
# One build at a time per cache (two test runs may start it together).
exec 9>"$cache/.lock"
flock 9

script_sum=$(sha256sum "$self" | cut -d' ' -f1)

# source FILE: prints the path of tarball FILE, downloading it if needed.
source_tarball() {
  local f=$1 u tmp
  if [ -f "$upstream/$f" ]; then echo "$upstream/$f"; return; fi
  if [ -f "$downloads/$f" ]; then echo "$downloads/$f"; return; fi
  u=$(url_of "$f")
  log "$f not in $upstream; downloading $u"
  mkdir -p "$downloads"
  tmp=$(mktemp "$downloads/.$f.XXXXXX")
  if curl -fsSL --connect-timeout 15 --max-time 600 -o "$tmp" "$u"; then
    mv "$tmp" "$downloads/$f"
    echo "$downloads/$f"
    return
  fi
  rm -f "$tmp"
  die "$f: not in $upstream (COROSYNC_GO_UPSTREAM) nor $downloads, and downloading $u failed (no network?)"
}

# stamp NAME: the stamp text of build NAME (its tarballs' and this script's
# sha256).
stamp() {
  local n=$1 f
  f=$(source_tarball "$(tarball "$n")")
  echo "tarball $(sha256sum "$f" | cut -d' ' -f1) $(basename "$f")"
  if [ "$(libqb_of "$n")" != system ]; then
    f=$(source_tarball "$(tarball "$(libqb_of "$n")")")
    echo "tarball $(sha256sum "$f" | cut -d' ' -f1) $(basename "$f")"
  fi
  echo "script $script_sum build-daemons.sh"
}

# unpack TARBALL DIR: extracts the tarball's one top directory as DIR, with a
# .tarball-version (GitHub's archives lack it; autogen.sh needs it).
unpack() {
  local t=$1 dir=$2 version=$3 x
  mkdir "$dir.x"
  tar -xzf "$t" -C "$dir.x"
  x=$(find "$dir.x" -mindepth 1 -maxdepth 1 -type d)
  [ "$(echo "$x" | wc -l)" = 1 ] || die "$t: expected one top directory"
  mv "$x" "$dir"
  rmdir "$dir.x"
  [ -s "$dir/.tarball-version" ] || echo "$version" >"$dir/.tarball-version"
}

# check_libs PREFIX LIBDIR_OVERRIDE: fails when a binary or library of the
# prefix has an unresolved library.
check_libs() {
  local p=$1 ld=$2 f out
  for f in "$p"/sbin/corosync* "$p"/lib/lib*.so; do
    [ -e "$f" ] || continue
    out=$(LD_LIBRARY_PATH=$ld ldd "$f" 2>&1) || die "ldd $f: $out"
    if grep -q 'not found' <<<"$out"; then
      die "$f: unresolved libraries:"$'\n'"$out"
    fi
  done
}

# check_qb PREFIX QBPREFIX LIBDIR_OVERRIDE: corosync and the client libraries
# must load libqb.so.0 from QBPREFIX, never Debian's libqb.so.100.
check_qb() {
  local p=$1 qb=$2 ld=$3 f out line
  for f in "$p"/sbin/corosync{,-quorumtool,-cmapctl,-cfgtool} "$p"/lib/lib{quorum,votequorum,cfg,cmap,cpg}.so; do
    out=$(LD_LIBRARY_PATH=$ld ldd "$f" 2>&1) || die "ldd $f: $out"
    line=$(grep 'libqb\.so' <<<"$out" || true)
    if grep -q 'libqb\.so\.100' <<<"$out"; then
      die "$f links Debian's libqb.so.100, not $qb:"$'\n'"$out"
    fi
    if ! grep -Eq "libqb\.so\.0 => $qb/lib/libqb\.so\.0 " <<<"$out"; then
      die "$f does not load libqb.so.0 from $qb/lib:"$'\n'"$out"
    fi
  done
}

# build NAME: builds NAME into $cache/NAME unless its stamp is current.
build() {
  local n=$1 prefix="$cache/$1" want qb="" tmp src stage t0 t1 cppflags ldflags pkgpath dirs d
  want=$(stamp "$n")
  if [ "$(libqb_of "$n")" != system ]; then
    qb="$cache/$(libqb_of "$n")"
    build "$(libqb_of "$n")"
  fi
  if [ -f "$prefix/.stamp" ] && [ "$(cat "$prefix/.stamp")" = "$want" ]; then
    log "$n is up to date in $prefix"
    return
  fi
  t0=$(date +%s.%N)
  log "building $n ($(version_of "$n")) into $prefix"
  tmp=$(mktemp -d "$cache/.build-$n.XXXXXX")
  # shellcheck disable=SC2064
  trap "rm -rf '$tmp'" EXIT
  src="$tmp/src"
  stage="$tmp/stage"
  unpack "$(source_tarball "$(tarball "$n")")" "$src" "$(version_of "$n")"
  local blog="$cache_root/logs/$n.log"
  : >"$blog"
  # errexit does not hold in a subshell whose status is tested: each step
  # checks its own.
  (
    cd "$src" || exit 1
    ./autogen.sh || exit 1
    if [ "$n" = libqb-1.0.3 ]; then
      ./configure --prefix="$prefix" --disable-dependency-tracking || exit 1
      dirs="include lib"
    else
      cppflags="" ldflags="-Wl,-rpath,$prefix/lib" pkgpath=${PKG_CONFIG_PATH:-}
      if [ -n "$qb" ]; then
        # libqb 1.0's headers and libraries first (PKG_CONFIG_PATH alone
        # links Debian's libqb 2.0), and QB_KILL_ATTRIBUTE_SECTION: without
        # it the daemon aborts in logsys_qb_init on this toolchain.
        cppflags="-I$qb/include -DQB_KILL_ATTRIBUTE_SECTION"
        ldflags="-L$qb/lib -Wl,-rpath,$qb/lib $ldflags"
        pkgpath="$qb/lib/pkgconfig"
      fi
      # shellcheck disable=SC2046
      CPPFLAGS="$cppflags" LDFLAGS="$ldflags" PKG_CONFIG_PATH="$pkgpath" \
        ./configure --prefix="$prefix" --localstatedir=/var --sysconfdir="$prefix/etc" \
        --disable-dependency-tracking $(flags_of "$n") || exit 1
      # man/ needs groff's html device; pkgconfig/ is sed only.
      dirs="include common_lib lib exec tools pkgconfig"
    fi
    for d in $dirs; do make -j2 -C "$d" || exit 1; done
    for d in $dirs; do make -C "$d" install DESTDIR="$stage" || exit 1; done
    if [ "$n" = libqb-1.0.3 ]; then
      # libqb.la names the build tree's qblog_script.ld (gone after the
      # build), and the linker script libqb.so is not accepted as an input
      # by what links it without that: the plain library does (corosync is
      # built with QB_KILL_ATTRIBUTE_SECTION, which needs no boundary
      # symbols).
      rm -f "$stage$prefix"/lib/libqb.la "$stage$prefix"/lib/libqb.a
      ln -sf libqb.so.0 "$stage$prefix"/lib/libqb.so || exit 1
    fi
  ) >>"$blog" 2>&1 || {
    tail -n 40 "$blog" >&2
    die "$n: build failed (log: $blog)"
  }
  local out="$stage$prefix"
  if [ "$n" != libqb-1.0.3 ]; then
    [ -x "$out/sbin/corosync" ] || die "$n: no sbin/corosync installed (log: $blog)"
    for t in corosync-quorumtool corosync-cmapctl corosync-cfgtool; do
      [ -x "$out/sbin/$t" ] || die "$n: no sbin/$t installed (log: $blog)"
    done
    for l in quorum votequorum cfg cmap cpg; do
      [ -e "$out/lib/lib$l.so" ] && [ -f "$out/include/corosync/$l.h" ] ||
        die "$n: lib$l or its header missing (log: $blog)"
    done
    check_libs "$out" "$out/lib"
    [ -z "$qb" ] || check_qb "$out" "$qb" "$out/lib"
  fi
  {
    echo "name=$n"
    echo "version=$(version_of "$n")"
    echo "libqb=$(if [ -n "$qb" ]; then version_of "$(libqb_of "$n")"; else pkg-config --modversion libqb; fi)"
    echo "source=$(tarball "$n")"
  } >"$out/BUILDINFO"
  echo "$want" >"$out/.stamp"
  # The prefix appears whole: the old one (if any) goes aside first.
  if [ -e "$prefix" ]; then
    rm -rf "$prefix.old"
    mv "$prefix" "$prefix.old"
  fi
  mv "$out" "$prefix"
  rm -rf "$prefix.old" "$tmp"
  trap - EXIT
  t1=$(date +%s.%N)
  log "$n built in $(awk "BEGIN{printf \"%.1f\", $t1 - $t0}") s"
  if [ -n "$qb" ]; then
    log "$n: ldd proof (libqb from $qb):"
    for f in "$prefix"/sbin/corosync{,-quorumtool,-cmapctl,-cfgtool} "$prefix"/lib/lib{quorum,votequorum,cfg,cmap,cpg}.so; do
      printf '  %s: %s\n' "${f#"$prefix"/}" "$(ldd "$f" | grep 'libqb' | sed 's/^[[:space:]]*//')" >&2
    done
    check_qb "$prefix" "$qb" ""
  fi
}

total0=$(date +%s.%N)
for name in "$@"; do
  build "$name"
done
total1=$(date +%s.%N)
log "done in $(awk "BEGIN{printf \"%.1f\", $total1 - $total0}") s"
for name in "$@"; do
  echo "$name $(version_of "$name") $cache/$name"
done
