#!/usr/bin/env bash
# Makes the build context of deploy/container/Containerfile in OUTDIR, from local files only (no
# registry, no package download): the x64 single executable (`npm run package` writes it) and
# runtime-root.tar, the smallest root it runs in, taken from this machine: the dynamic loader and
# the libraries the executable links (glibc, libstdc++, libgcc_s), libpcap (which the capture
# dlopens as libpcap.so.1 or libpcap.so.0.8) with every library it links, an ld.so.cache, and
# /etc/passwd, /etc/group and /tmp. Run it on an x86_64 glibc Linux with libpcap installed
# (Debian/Ubuntu: libpcap0.8; Amazon Linux, RHEL: libpcap).
#
#   deploy/container/make-context.sh OUTDIR [EXECUTABLE]
#   podman build -t imds-analyzer:VERSION OUTDIR        (or docker build)
set -euo pipefail

outdir=${1:?usage: make-context.sh OUTDIR [EXECUTABLE]}
here=$(cd "$(dirname "$0")" && pwd)
executable=${2:-$here/../../release/imds-analyzer-linux-x64}
[ -x "$executable" ] || { echo "make-context.sh: $executable is not an executable (run npm run package first)" >&2; exit 1; }
[ "$(uname -m)" = x86_64 ] || { echo "make-context.sh: the libraries are taken from this machine, which must be x86_64 (it is $(uname -m))" >&2; exit 1; }

# awk reads all of ldconfig's output (no early exit): under pipefail, ldconfig killed by SIGPIPE
# would fail the script (exit 141), which happened whenever its output outran awk's exit.
libpcap=$(ldconfig -p | awk '/^\tlibpcap\.so\.(1|0\.8) .*x86-64/ && found == "" { found = $NF } END { print found }')
[ -n "$libpcap" ] || { echo "make-context.sh: no libpcap.so.1 or libpcap.so.0.8 on this machine (install libpcap0.8 or libpcap)" >&2; exit 1; }

mkdir -p "$outdir"
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
chmod 755 "$root"
mkdir -p "$root/etc" "$root/usr/local/bin" "$root/tmp"
chmod 1777 "$root/tmp"

# Each library at the path ldd resolves it to (copied, not linked: the image has no host to point at).
copy_closure() {
  ldd "$1" | grep -o '/[^ ]*' | sort -u | while read -r library; do
    mkdir -p "$root$(dirname "$library")"
    cp -L "$library" "$root$library"
  done
}
copy_closure "$executable"
copy_closure "$libpcap"
# The soname the capture asks for, as a file of its own (libpcap.so.0.8 is often a link to libpcap.so.1.x).
mkdir -p "$root$(dirname "$libpcap")"
cp -L "$libpcap" "$root$libpcap"

# The dynamic loader finds the libraries by its cache, whatever directory layout this machine has.
find "$root" -name '*.so*' -printf '%h\n' | sort -u | sed "s|^$root||" > "$root/etc/ld.so.conf"
ldconfig -r "$root"

printf 'root:x:0:0:root:/:/usr/local/bin/imds-analyzer\nnobody:x:65534:65534:nobody:/:/nonexistent\n' > "$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"

tar --numeric-owner --owner=0 --group=0 -C "$root" -cf "$outdir/runtime-root.tar" .
cp "$executable" "$outdir/imds-analyzer-linux-x64"
cp "$here/Containerfile" "$outdir/Containerfile"
echo "build context in $outdir: Containerfile, runtime-root.tar ($(du -h "$outdir/runtime-root.tar" | cut -f1)), imds-analyzer-linux-x64 (libpcap from $libpcap)"
