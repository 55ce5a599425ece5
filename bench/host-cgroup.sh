#!/bin/bash
# QEMU's own memory beyond the guest's, which [hypervisor.qemu]
# memory_overhead adds to a container's limit in its host cgroup. For each
# run, a container whose process first touches 64 MiB (so the guest's RAM is
# in use as a workload would use it) is measured while it sleeps: QEMU's
# resident set minus the guest's RAM (default_memory plus the 64 MiB limit).
# Prints median and p90 in MiB, and the largest, of the overhead.
# Usage: bench/host-cgroup.sh BUILD_DIR [RUNS]
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
runs=${2:-10}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/veil-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
source "$here/stats.sh"

"$here/../scripts/busybox-bundle.sh" "$work/bundle" "$build/veil" \
	sh -c 'head -c 67108864 /dev/zero | cat >/dev/shm/fill; rm /dev/shm/fill; echo filled; sleep 600'
jq '.process.terminal = false | .linux.resources.memory = {limit: 67108864} |
	.mounts |= map(if .destination == "/dev/shm" then .options |= map(select(startswith("size=") | not)) + ["size=128m"] else . end)' \
	"$work/bundle/config.json" >"$work/config.json" && mv "$work/config.json" "$work/bundle/config.json"
bench_config "$work/conf.toml" "$build" "$work"
guest_mib=$((256 + 64)) # bench_config's default_memory and the container's limit

overhead=()
for i in $(seq 1 "$runs"); do
	id="bench-$$-$i"
	"$build/veil" --config "$work/conf.toml" run --detach --bundle "$work/bundle" "$id" >"$work/out" 2>&1
	for _ in $(seq 1 600); do grep -q filled "$work/out" 2>/dev/null && break; sleep 0.1; done
	qemu=$(pgrep -f "qemu-system.*-name veil-$id" | head -n 1)
	rss_kib=$(sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$qemu/status")
	overhead+=($(( rss_kib / 1024 - guest_mib )))
	"$build/veil" --config "$work/conf.toml" delete --force "$id"
done
max=0
for v in "${overhead[@]}"; do [ "$v" -gt "$max" ] && max=$v; done
printf "QEMU's resident set beyond the guest's %d MiB: n=%d median %d MiB, p90 %d MiB, largest %d MiB\n" \
	"$guest_mib" "${#overhead[@]}" "$(median "${overhead[@]}")" "$(p90 "${overhead[@]}")" "$max"
