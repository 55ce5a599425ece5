#!/bin/bash
# A container added to a running VM (runtime/join.h: its namespace path
# names another container's monitor) against one in a VM of its own, in the
# same run, interleaved: `veil run` of a `true` container, RUNS times each,
#   - joined: hot-plugged into the VM of a running container (q35, spare
#     root ports), sharing its network namespace;
#   - cold: a VM booted for it (microvm, the default);
#   - cached: a VM claimed from the VM cache (a factory pooling one).
# Prints medians, p90s and the ratios.
# Usage: bench/pods.sh BUILD_DIR [RUNS]
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
runs=${2:-10}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/veil-bench.XXXXXX")
source "$here/stats.sh"
cold=("$build/veil" --config "$work/cold.toml")
cached=("$build/veil" --config "$work/cached.toml")
pod=("$build/veil" --config "$work/pod.toml")
cleanup() {
	"${pod[@]}" delete --force owner >/dev/null 2>&1 || true
	"${cached[@]}" factory destroy >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

bench_config "$work/cold.toml" "$build" "$work"
bench_config "$work/pod.toml" "$build" "$work" 'machine_type = "q35"'
bench_config "$work/cached.toml" "$build" "$work" \
	"$(printf '[factory]\nvm_cache_number = 1\nvm_cache_endpoint = "%s"' "$work/cache.sock")"
# bench_config puts the extra lines under [runtime]: machine_type is [hypervisor.qemu]'s.
sed -i '/^machine_type/d; /^\[hypervisor.qemu\]/a machine_type = "q35"' "$work/pod.toml"

"$here/../scripts/busybox-bundle.sh" "$work/bundle" "$build/veil" true >/dev/null
"$here/../scripts/busybox-bundle.sh" "$work/owner" "$build/veil" sleep 100000 >/dev/null
"${pod[@]}" create --bundle "$work/owner" owner
"${pod[@]}" start owner
owner_pid=$("${pod[@]}" state owner | jq -r .pid)
"$here/../scripts/busybox-bundle.sh" "$work/joined" "$build/veil" true >/dev/null
jq --arg p "/proc/$owner_pid/ns/net" '(.linux.namespaces[] | select(.type == "network")) += {path: $p}' \
	"$work/joined/config.json" >"$work/joined/config.json.new"
mv "$work/joined/config.json.new" "$work/joined/config.json"
# Once outside the figures: a join that fails would time a refusal.
"${pod[@]}" run --bundle "$work/joined" "check-$$" || { echo "pods.sh: veil run into the VM of owner failed" >&2; exit 1; }
"${cached[@]}" factory init --detach >/dev/null
claimed() { "${cached[@]}" factory status --json | jq ".claimed // 0"; }

joined_ms=() cold_ms=() cached_ms=()
for i in $(seq 1 "$runs"); do
	joined_ms+=("$(timed_run "${pod[@]}" run --bundle "$work/joined" "joined-$$-$i")")
	wait_vms 1 '.state == "paused"' "${cached[@]}"
	cached_ms+=("$(timed_run "${cached[@]}" run --bundle "$work/bundle" "cached-$$-$i")")
	cold_ms+=("$(timed_run "${cold[@]}" run --bundle "$work/bundle" "cold-$$-$i")")
done

echo "veil run (true), $runs runs each, interleaved; cached runs that claimed a pooled VM: $(claimed) of $runs"
report "  joined: into a running container's VM" "${joined_ms[@]}"
report "  cold: a VM booted for it" "${cold_ms[@]}"
report "  cached: a VM from the cache" "${cached_ms[@]}"
ratio "  joined / cold" "$(median "${joined_ms[@]}")" "$(median "${cold_ms[@]}")"
ratio "  joined / cached" "$(median "${joined_ms[@]}")" "$(median "${cached_ms[@]}")"
