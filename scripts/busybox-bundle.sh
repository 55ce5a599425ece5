#!/bin/bash
# Makes an OCI bundle whose rootfs is busybox-static, for the demo and tests.
# Usage: busybox-bundle.sh DIR VEIL_BINARY [ARG...]   (ARGs become process.args)
set -euo pipefail
dir=${1:?usage: busybox-bundle.sh DIR VEIL_BINARY [ARG...]}
veil=${2:?usage: busybox-bundle.sh DIR VEIL_BINARY [ARG...]}
shift 2
busybox=/bin/busybox
[ -x "$busybox" ] || { echo "busybox-bundle.sh: $busybox missing (apt-get install busybox-static)" >&2; exit 1; }
readelf -l "$busybox" | grep -q 'program interpreter' && { echo "busybox-bundle.sh: $busybox is not static" >&2; exit 1; }

rootfs="$dir/rootfs"
mkdir -p "$rootfs"/{bin,sbin,etc,proc,sys,dev,tmp,root,home/user,usr/bin,usr/sbin}
cp "$busybox" "$rootfs/bin/busybox"
for applet in $("$busybox" --list); do
	[ -e "$rootfs/bin/$applet" ] || ln -s busybox "$rootfs/bin/$applet"
done
chmod 1777 "$rootfs/tmp"
printf 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$rootfs/etc/passwd"
printf 'root:x:0:\nuser:x:1000:\nnobody:x:65534:\n' >"$rootfs/etc/group"
chown 1000:1000 "$rootfs/home/user"

rm -f "$dir/config.json"
"$veil" spec --bundle "$dir"
args='["sh"]'
[ $# -gt 0 ] && args=$(printf '%s\n' "$@" | jq -R . | jq -s .)
jq --argjson args "$args" '.process.terminal = false | .process.args = $args' "$dir/config.json" >"$dir/config.json.new"
mv "$dir/config.json.new" "$dir/config.json"
