#!/bin/bash
# shared_fs = "none" against "virtio-fs" (docs/volumes.md), in the same run:
#   1. `veil run` of a `true` container, cold: this build with shared_fs =
#      "none", with "virtio-fs", and BASELINE_BUILD (a build without virtio-fs
#      support, e.g. of main) with "none", interleaved: whether the none path
#      got slower;
#   2. the same from the VM cache (a factory holding one paused VM of each
#      mode), interleaved;
#   3. untarring 10,000 small files into a volume (a host directory bind-
#      mounted into the container), timed inside the container, and the whole
#      `podman run`: podman with runc against podman with veil (virtio-fs).
# Prints medians, p90s and ratios.
# Usage: bench/volumes.sh BUILD_DIR [RUNS] [BASELINE_BUILD]
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
runs=${2:-10}
baseline=${3:+$(cd "$3" && pwd)}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/veil-bench-volumes.XXXXXX")
source "$here/stats.sh"
pm=(podman --root "$work/root" --runroot "$work/runroot" --tmpdir "$work/tmp")
modes=(none virtio-fs)
cleanup() {
	for m in "${modes[@]}"; do
		"$build/veil" --config "$work/$m-pool.toml" factory destroy >/dev/null 2>&1 || true
	done
	podman_bench_clean "$work"
	rm -rf "$work"
}
trap cleanup EXIT

# One configuration per mode, and one with a factory per mode (its own endpoint).
for m in "${modes[@]}"; do
	bench_config "$work/$m.toml" "$build" "$work/$m"
	sed -i "/^\[hypervisor.qemu\]\$/a shared_fs = \"$m\"" "$work/$m.toml"
	cat "$work/$m.toml" - >"$work/$m-pool.toml" <<CONF
[factory]
vm_cache_number = 1
vm_cache_endpoint = "$work/$m-cache.sock"
CONF
done
[ -z "$baseline" ] || bench_config "$work/baseline.toml" "$baseline" "$work/baseline"
"$here/../scripts/busybox-bundle.sh" "$work/bundle" "$build/veil" true >/dev/null
run_ms() { timed_run "$1" --config "$2" run --bundle "$work/bundle" "$3"; } # VEIL CONF ID -> ms
# report_modes TITLE ARRAY: each mode's times in the associative ARRAY, and virtio-fs against none.
report_modes() {
	local -n times=$2
	local m
	echo "== $1"
	for m in "${modes[@]}"; do
		# shellcheck disable=SC2086
		report "shared_fs = \"$m\"" ${times[$m]}
	done
	# shellcheck disable=SC2086
	ratio "virtio-fs / none" "$(median ${times[virtio-fs]})" "$(median ${times[none]})"
}

# ---- 1. cold ----
declare -A cold
for i in $(seq 1 "$runs"); do
	for m in "${modes[@]}"; do
		cold[$m]+=" $(run_ms "$build/veil" "$work/$m.toml" "bench-$$-$m-$i")"
	done
	[ -z "$baseline" ] || cold[baseline]+=" $(run_ms "$baseline/veil" "$work/baseline.toml" "bench-$$-base-$i")"
done
report_modes "veil run (true), cold boot" cold
if [ -n "$baseline" ]; then
	# shellcheck disable=SC2086
	report "shared_fs = \"none\", baseline build" ${cold[baseline]}
	# shellcheck disable=SC2086
	ratio "none, this build / baseline" "$(median ${cold[none]})" "$(median ${cold[baseline]})"
fi

# ---- 2. from the VM cache ----
declare -A cached
for m in "${modes[@]}"; do
	"$build/veil" --config "$work/$m-pool.toml" factory init --detach >/dev/null
done
# Both pools full before each run: no boot in the background while one is timed.
pools_full() {
	local m
	for m in "${modes[@]}"; do
		wait_vms 1 '.state == "paused"' "$build/veil" --config "$work/$m-pool.toml"
	done
}
for i in $(seq 1 "$runs"); do
	for m in "${modes[@]}"; do
		pools_full
		cached[$m]+=" $(run_ms "$build/veil" "$work/$m-pool.toml" "bench-$$-$m-cached-$i")"
	done
done
for m in "${modes[@]}"; do
	claimed=$("$build/veil" --config "$work/$m-pool.toml" factory status --json | jq .claimed)
	[ "$claimed" -eq "$runs" ] || { echo "volumes.sh: $m: $claimed of $runs runs took a cached VM" >&2; exit 1; }
	"$build/veil" --config "$work/$m-pool.toml" factory destroy >/dev/null
done
echo
report_modes "veil run (true), from the VM cache" cached

# ---- 3. untar 10,000 small files into a volume ----
podman_bench_conf "$work"
printf '#!/bin/sh\nexec %q --config %q "$@"\n' "$build/veil" "$work/virtio-fs.toml" >"$work/veil"
chmod +x "$work/veil"
tar -C "$work/bundle/rootfs" -c . | "${pm[@]}" import - localhost/bench-busybox >/dev/null
mkdir -p "$work/src" "$work/volume"
for d in $(seq 1 100); do
	mkdir "$work/src/d$d"
	for f in $(seq 1 100); do echo "file $d/$f" >"$work/src/d$d/f$f"; done
done
tar -C "$work/src" -cf "$work/volume/small.tar" .
# The container times the untar itself (busybox's date has no %N: the
# guest's /proc/uptime, in 10 ms steps); the host times the whole run.
untar='mkdir /v/out && t0=$(cut -d" " -f1 /proc/uptime) && tar -xf /v/small.tar -C /v/out && t1=$(cut -d" " -f1 /proc/uptime) && [ "$(find /v/out -type f | wc -l)" = 10000 ] && awk -v a="$t0" -v b="$t1" "BEGIN {print int((b - a) * 1000)}"'
declare -A inside total
for i in $(seq 1 "$runs"); do
	for rt in runc veil; do
		runtime=/usr/sbin/runc
		[ "$rt" = runc ] || runtime=$work/veil
		rm -rf "$work/volume/out"
		t0=$(date +%s%N)
		inside[$rt]+=" $("${pm[@]}" --runtime "$runtime" run --rm -v "$work/volume:/v" localhost/bench-busybox sh -c "$untar")"
		total[$rt]+=" $(ms_since "$t0")"
	done
done
echo
echo "== untar of 10,000 small files into a volume (podman run -v)"
for rt in runc veil; do
	# shellcheck disable=SC2086
	report "$rt: the untar, timed in the container" ${inside[$rt]}
	# shellcheck disable=SC2086
	report "$rt: the whole podman run" ${total[$rt]}
done
# shellcheck disable=SC2086
ratio "untar: veil (virtio-fs) / runc" "$(median ${inside[veil]})" "$(median ${inside[runc]})"
# shellcheck disable=SC2086
ratio "whole podman run: veil (virtio-fs) / runc" "$(median ${total[veil]})" "$(median ${total[runc]})"
