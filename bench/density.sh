#!/bin/bash
# Memory per pooled, idle clone of the template: the factory keeps N clones
# paused; for each N, the PSS (proportional set size: shared pages divided
# among the processes mapping them, the template's memory file included) of
# each QEMU, and of everything the factory runs (daemon, keepers, QEMUs)
# divided by N; each without and with [factory] warm_up (a warmed clone has
# run a container: its QEMU holds that code translated, and the guest pages
# the container and the scrub wrote).
# Usage: bench/density.sh BUILD_DIR [N...] (default 10 50)
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
shift || true
counts=("$@")
[ ${#counts[@]} -gt 0 ] || counts=(10 50)
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/veil-bench-density.XXXXXX")
source "$here/stats.sh"
conf="$work/conf.toml"
veil=("$build/veil" --config "$conf" --log "$work/veil.log")
cleanup() {
	"${veil[@]}" factory destroy >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

pss_kib() { awk '/^Pss:/ {print $2}' "/proc/$1/smaps_rollup" 2>/dev/null || echo 0; }
for n in "${counts[@]}"; do
for warm_up in false true; do
	bench_config "$conf" "$build" "$work" "$(printf '[factory]\nvm_cache_number = %s\nvm_cache_endpoint = "%s"\nenable_template = true\ntemplate_path = "%s"\nwarm_up = %s' \
		"$n" "$work/cache.sock" "$work/template" "$warm_up")"
	"${veil[@]}" factory init --detach >/dev/null
	wait_vms "$n" '.state == "paused" and .origin == "clone"' "${veil[@]}"
	sleep 2 # let the last clones settle after their pause
	mapfile -t qemu < <("${veil[@]}" factory status --json | jq '.vms[].pss_kib')
	# Every process of this factory names the work directory on its command line.
	total=0
	for pid in $(pgrep -f -- "$work"); do
		total=$((total + $(pss_kib "$pid")))
	done
	printf '%3d pooled clones, warm_up = %-5s: QEMU PSS per VM median %d KiB (p90 %d), everything / %d = %d KiB\n' \
		"$n" "$warm_up" "$(median "${qemu[@]}")" "$(p90 "${qemu[@]}")" "$n" $((total / n))
	"${veil[@]}" factory destroy >/dev/null
done
done
