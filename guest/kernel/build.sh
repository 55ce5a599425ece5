#!/bin/bash
# Builds the veil guest kernel from Debian's linux-source package and caches it
# by a hash of (fragment, source package version, this script), outside the
# work tree, so that a rerun is instant and a config change rebuilds.
#
# Usage: build.sh OUTDIR    -> OUTDIR/vmlinux and OUTDIR/bzImage (symlinks into the cache)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: build.sh OUTDIR}
fragment="$here/veil-guest.fragment"
tarball=$(ls /usr/src/linux-source-*.tar.xz 2>/dev/null | sort -V | tail -n 1)
[ -n "$tarball" ] || { echo "build.sh: no /usr/src/linux-source-*.tar.xz (apt-get install linux-source-6.1)" >&2; exit 1; }
pkg=$(basename "$tarball" .tar.xz)
srcver=$(dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null || stat -c %Y "$tarball")

key=$( { cat "$fragment" "$0"; echo "$pkg $srcver"; } | sha256sum | cut -c1-16)
cache=${VEIL_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/veil}/kernel/$key
mkdir -p "$out" "$(dirname "$cache")"

# Builds in several work trees at once wait for one another instead of each
# building the same kernel: the second finds the first's result.
exec 9>"$cache.lock"
flock 9

if [ ! -f "$cache/vmlinux" ] || [ ! -f "$cache/bzImage" ]; then
	work=$(mktemp -d "${TMPDIR:-/tmp}/veil-kernel.XXXXXX")
	trap 'rm -rf "$work"' EXIT
	echo "building guest kernel $key from $pkg ($srcver); this takes about 9 minutes once" >&2
	tar -C "$work" -xf "$tarball"
	src="$work/$pkg"
	# allnoconfig + fragment: everything the fragment does not ask for stays off.
	KCONFIG_ALLCONFIG="$fragment" make -C "$src" -s allnoconfig
	# Kconfig silently drops symbols whose dependencies are unmet; fail loudly instead.
	missing=0
	while IFS= read -r line; do
		case "$line" in CONFIG_*=y) ;; *) continue ;; esac
		grep -qx "$line" "$src/.config" || { echo "build.sh: fragment asks for $line but Kconfig did not keep it" >&2; missing=1; }
	done < "$fragment"
	[ "$missing" = 0 ] || exit 1
	make -C "$src" -s -j"$(nproc)" bzImage vmlinux
	mkdir -p "$cache.tmp"
	cp "$src/vmlinux" "$src/arch/x86/boot/bzImage" "$src/.config" "$cache.tmp/"
	strip --strip-debug "$cache.tmp/vmlinux" 2>/dev/null || true
	rm -rf "$cache" && mv "$cache.tmp" "$cache"
fi
ln -sfn "$cache/vmlinux" "$out/vmlinux"
ln -sfn "$cache/bzImage" "$out/bzImage"
ln -sfn "$cache/.config" "$out/kernel.config"
echo "$cache"
