#!/bin/bash
# `podman run --rm IMAGE true` with veil against runc, interleaved in the same
# run, private podman storage. Prints median/p90 of each and the ratio.
# Usage: bench/podman-run.sh BUILD_DIR [RUNS]
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
runs=${2:-10}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/veil-bench-podman.XXXXXX")
pm=(podman --root "$work/root" --runroot "$work/runroot" --tmpdir "$work/tmp")
cleanup() {
	"${pm[@]}" rm -af >/dev/null 2>&1 || true
	"${pm[@]}" system reset -f >/dev/null 2>&1 || true
	umount -R "$work/root" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
source "$here/stats.sh"

cat >"$work/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
netns = "none"
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$work/events.log"
lock_type = "file"
CONF
export CONTAINERS_CONF="$work/containers.conf"
cat >"$work/veil.toml" <<CONF
[hypervisor.qemu]
kernel = "$build/guest/vmlinux"
initrd = "$build/guest/initrd.img"
[runtime]
state_dir = "$work/veil-state"
CONF
printf '#!/bin/sh\nexec %q --config %q "$@"\n' "$build/veil" "$work/veil.toml" >"$work/veil"
chmod +x "$work/veil"

"$here/../scripts/busybox-bundle.sh" "$work/bundle" "$build/veil" true
tar -C "$work/bundle/rootfs" -c . | "${pm[@]}" import - localhost/bench-busybox >/dev/null

veil_ms=()
runc_ms=()
for _ in $(seq 1 "$runs"); do
	t0=$(date +%s%N); "${pm[@]}" run --rm --runtime "$(command -v runc)" localhost/bench-busybox true; t1=$(date +%s%N)
	runc_ms+=($(( (t1 - t0) / 1000000 )))
	t0=$(date +%s%N); "${pm[@]}" run --rm --runtime "$work/veil" localhost/bench-busybox true; t1=$(date +%s%N)
	veil_ms+=($(( (t1 - t0) / 1000000 )))
done
report "podman run --rm true, runc" "${runc_ms[@]}"
report "podman run --rm true, veil (cold microVM)" "${veil_ms[@]}"
ratio "veil / runc" "$(median "${veil_ms[@]}")" "$(median "${runc_ms[@]}")"
