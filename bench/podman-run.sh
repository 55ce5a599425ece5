#!/bin/bash
# `podman run --rm IMAGE true` with veil (cold microVM, and a pooled clone of
# the VM template) against runc, interleaved in the same run, private podman
# storage. Prints median/p90 of each and the ratios.
# Usage: bench/podman-run.sh BUILD_DIR [RUNS]
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
runs=${2:-10}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/veil-bench-podman.XXXXXX")
pm=(podman --root "$work/root" --runroot "$work/runroot" --tmpdir "$work/tmp")
cleanup() {
	"$build/veil" --config "$work/veil-pool.toml" factory destroy >/dev/null 2>&1 || true
	podman_bench_clean "$work"
	rm -rf "$work"
}
source "$here/stats.sh"
trap cleanup EXIT

podman_bench_conf "$work"
cat >"$work/veil.toml" <<CONF
[hypervisor.qemu]
kernel = "$build/guest/vmlinux"
initrd = "$build/guest/initrd.img"
[runtime]
state_dir = "$work/veil-state"
image_cache_dir = "$work/veil-images"
CONF
cat "$work/veil.toml" - >"$work/veil-pool.toml" <<CONF
[factory]
vm_cache_number = 1
vm_cache_endpoint = "$work/cache.sock"
enable_template = true
template_path = "$work/template"
CONF
for conf in veil veil-pool; do
	printf '#!/bin/sh\nexec %q --config %q "$@"\n' "$build/veil" "$work/$conf.toml" >"$work/$conf"
	chmod +x "$work/$conf"
done
"$build/veil" --config "$work/veil-pool.toml" factory init --detach >/dev/null
pool_ready() { wait_vms 1 '.state == "paused" and .origin == "clone"' "$build/veil" --config "$work/veil-pool.toml"; }

"$here/../scripts/busybox-bundle.sh" "$work/bundle" "$build/veil" true
tar -C "$work/bundle/rootfs" -c . | "${pm[@]}" import - localhost/bench-busybox >/dev/null

veil_ms=()
pool_ms=()
runc_ms=()
for _ in $(seq 1 "$runs"); do
	runc_ms+=("$(timed_run "${pm[@]}" run --rm --runtime "$(command -v runc)" localhost/bench-busybox true)")
	veil_ms+=("$(timed_run "${pm[@]}" run --rm --runtime "$work/veil" localhost/bench-busybox true)")
	pool_ready
	pool_ms+=("$(timed_run "${pm[@]}" run --rm --runtime "$work/veil-pool" localhost/bench-busybox true)")
done
report "podman run --rm true, runc" "${runc_ms[@]}"
report "podman run --rm true, veil (cold microVM)" "${veil_ms[@]}"
report "podman run --rm true, veil (pooled clone)" "${pool_ms[@]}"
ratio "veil cold / runc" "$(median "${veil_ms[@]}")" "$(median "${runc_ms[@]}")"
ratio "veil pooled clone / runc" "$(median "${pool_ms[@]}")" "$(median "${runc_ms[@]}")"
ratio "veil pooled clone / veil cold" "$(median "${pool_ms[@]}")" "$(median "${veil_ms[@]}")"
