#!/bin/bash
# QEMU's own memory beyond the guest's, which [hypervisor.qemu]
# memory_overhead adds to a container's limit in its host cgroup. For each
# run, a container whose process first puts 32 MiB in /dev/shm (half its
# 64 MiB limit: a workload's use of the guest) is measured while it sleeps:
# QEMU's resident set minus the resident part of the guest's RAM (the
# anonymous mapping of default_memory plus the limit), that is QEMU's code,
# heap, TCG's translation buffer and the kernel image it maps.
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
	sh -c 'head -c 33554432 /dev/zero | cat >/dev/shm/fill; echo filled; sleep 600'
jq '.process.terminal = false | .linux.resources.memory = {limit: 67108864}' \
	"$work/bundle/config.json" >"$work/config.json" && mv "$work/config.json" "$work/bundle/config.json"
bench_config "$work/conf.toml" "$build" "$work"
guest_kib=$(((256 + 64) * 1024)) # bench_config's default_memory and the container's limit

# overhead_mib PID: VmRSS less the Rss of the guest's RAM, the mapping of its size.
overhead_mib() {
	awk -v guest="$guest_kib" '/^Size:/ {size = $2} /^Rss:/ {rss += $2; if (size == guest) ram = $2}
		END {if (ram == 0) exit 1; print int((rss - ram) / 1024)}' "/proc/$1/smaps"
}

overhead=()
for i in $(seq 1 "$runs"); do
	id="bench-$$-$i"
	"$build/veil" --config "$work/conf.toml" run --detach --bundle "$work/bundle" "$id" >"$work/out" 2>&1
	for _ in $(seq 1 600); do grep -q filled "$work/out" 2>/dev/null && break; sleep 0.1; done
	grep -q filled "$work/out" || { echo "host-cgroup.sh: run $i never filled its memory: $(head -c 300 "$work/out")" >&2; exit 1; }
	qemu=$(pgrep -f "qemu-system.*-name veil-$id" | head -n 1)
	overhead+=("$(overhead_mib "$qemu")")
	"$build/veil" --config "$work/conf.toml" delete --force "$id"
done
printf "QEMU's resident set beyond the guest's RAM: n=%d median %d MiB, p90 %d MiB, largest %d MiB\n" \
	"${#overhead[@]}" "$(median "${overhead[@]}")" "$(p90 "${overhead[@]}")" \
	"$(printf '%s\n' "${overhead[@]}" | sort -n | tail -n 1)"
