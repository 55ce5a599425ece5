#!/bin/bash
# Container start from the VM cache against a cold boot, in the same run:
#   1. `veil run` of a `true` container, one at a time: RUNS cold (factory
#      off) and RUNS cached (a paused VM is waiting each time), interleaved;
#   2. 8 such containers started at once: all cold, then all cached (the
#      factory holding 8 VMs). Per-container medians and the wall time of the batch.
# Prints medians, p90s and the cached/cold ratios. Needs `veil run` to claim
# cached VMs (veil_vm_get in src/cache/vm.c); it stops otherwise.
# Usage: bench/cache.sh BUILD_DIR [RUNS]
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
runs=${2:-10}
parallel=8
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/veil-bench.XXXXXX")
source "$here/stats.sh"
veil=("$build/veil" --config "$work/conf.toml")
cleanup() {
	"${veil[@]}" factory destroy >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

"$here/../scripts/busybox-bundle.sh" "$work/bundle" "$build/veil" true
# write_config CACHED_VMS
write_config() {
	bench_config "$work/conf.toml" "$build" "$work" "$(printf '[factory]\nvm_cache_number = %s\nvm_cache_endpoint = "%s"' "$1" "$work/cache.sock")"
}

claimed() { "${veil[@]}" factory status --json | jq '.claimed // 0'; }
wait_paused() { wait_vms "$1" '.state == "paused"' "${veil[@]}"; }
run_one() { timed_run "${veil[@]}" run --bundle "$work/bundle" "$1"; } # ID -> ms
# batch NAME: starts $parallel containers at once; per-container times in $work/NAME.*, batch wall time printed.
batch() {
	local t0 pids=()
	t0=$(date +%s%N)
	for i in $(seq 1 "$parallel"); do
		( run_one "bench-$$-$1-$i" >"$work/$1.$i" ) &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p"; done
	ms_since "$t0"
}

# ---- one at a time ----
write_config 1
"${veil[@]}" factory init --detach >/dev/null
cold=()
cached=()
for i in $(seq 1 "$runs"); do
	wait_paused 1
	# The factory stops so the cold run competes with nothing; its VM is released.
	"${veil[@]}" factory destroy >/dev/null
	cold+=("$(run_one "bench-$$-cold-$i")")
	"${veil[@]}" factory init --detach >/dev/null
	wait_paused 1
	before=$(claimed)
	cached+=("$(run_one "bench-$$-cached-$i")")
	if [ "$(claimed)" = "$before" ]; then
		echo "cache.sh: veil run did not claim a cached VM; does veil_vm_get (src/cache/vm.c) try the pool?" >&2
		exit 1
	fi
done
"${veil[@]}" factory destroy >/dev/null
report "veil run (true), cold boot" "${cold[@]}"
report "veil run (true), cached VM" "${cached[@]}"
ratio "cached / cold" "$(median "${cached[@]}")" "$(median "${cold[@]}")"

# ---- $parallel at once ----
cold_wall=$(batch cold)
write_config "$parallel"
"${veil[@]}" factory init --detach >/dev/null
wait_paused "$parallel"
before=$(claimed)
cached_wall=$(batch cached)
served=$(( $(claimed) - before ))
"${veil[@]}" factory destroy >/dev/null
mapfile -t cold_each < <(cat "$work"/cold.*)
mapfile -t cached_each < <(cat "$work"/cached.*)
echo
report "$parallel at once, cold: each" "${cold_each[@]}"
report "$parallel at once, cached: each" "${cached_each[@]}"
printf '%-45s cold %6d ms  cached %6d ms  (%d of %d served from the cache)\n' "$parallel at once: whole batch" \
	"$cold_wall" "$cached_wall" "$served" "$parallel"
ratio "$parallel at once, cached / cold (batch)" "$cached_wall" "$cold_wall"
