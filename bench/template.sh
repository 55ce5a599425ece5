#!/bin/bash
# VM templates and reset, each against its baseline in the same run:
#   1. start latency: `veil run` of a `true` container cloning the template
#      (no pool) against a cold boot, RUNS each, interleaved; and the time a
#      keeper takes to ready a VM: clone against boot (factory logs);
#   2. reset latency: after each of RUNS containers, the time until the VM
#      for the next tenant is ready: a fresh clone (reset = "clone") against
#      a scrub of the same VM (reset = "scrub"), from the factory's log;
#   3. memory: total PSS of 10 pooled clones against 10 pooled booted VMs.
# Prints medians, p90s and ratios. Usage: bench/template.sh BUILD_DIR [RUNS]
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
runs=${2:-20}
pool=10
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/veil-bench.XXXXXX")
source "$here/stats.sh"
conf="$work/conf.toml"
log="$work/veil.log"
veil=("$build/veil" --config "$conf" --log "$log")
cleanup() {
	"${veil[@]}" factory destroy >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

"$here/../scripts/busybox-bundle.sh" "$work/bundle" "$build/veil" true
# write_config CACHED_VMS TEMPLATE(true|false) RESET
write_config() {
	bench_config "$conf" "$build" "$work" "$(printf '[factory]\nvm_cache_number = %s\nvm_cache_endpoint = "%s"\nenable_template = %s\ntemplate_path = "%s"' \
		"$1" "$work/cache.sock" "$2" "$work/template")"
	sed -i "s|^state_dir = .*|&\nreset = \"$3\"|" "$conf"
}
status() { "${veil[@]}" factory status --json; }
wait_ready() { wait_vms "$1" ".state == \"paused\" and .scrubs >= ${2:-0}" "${veil[@]}"; } # N [SCRUBS]
run_one() { timed_run "${veil[@]}" run --bundle "$work/bundle" "$1"; } # ID -> ms
# The factory's "... ready (QEMU N, <what> in M ms)" lines: the Ms.
logged_ms() { sed -n "s/.*ready (QEMU [0-9]*, $1 in \([0-9]*\) ms).*/\1/p" "$log"; }

# ---- 1. start ----
# The factory builds the template; containers then clone it themselves: no
# pool, and the factory idle (its one pooled VM paused).
write_config 1 true clone
"${veil[@]}" factory init --detach >/dev/null
wait_ready 1
template_kib=$(du -k "$work/template/memory" | cut -f1)
sed -i 's/^vm_cache_number = 1/vm_cache_number = 0/' "$conf"
cold=()
cloned=()
for i in $(seq 1 "$runs"); do
	sed -i 's/^enable_template = true/enable_template = false/' "$conf"
	cold+=("$(run_one "bench-$$-cold-$i")")
	sed -i 's/^enable_template = false/enable_template = true/' "$conf"
	cloned+=("$(run_one "bench-$$-clone-$i")")
done
grep -c "VM cloned from the template" "$log" | grep -qx "$runs" || { echo "template.sh: not every run cloned the template" >&2; exit 1; }
"${veil[@]}" factory destroy >/dev/null
report "veil run (true), cold boot" "${cold[@]}"
report "veil run (true), clone of the template" "${cloned[@]}"
ratio "clone / cold" "$(median "${cloned[@]}")" "$(median "${cold[@]}")"
echo

# ---- 2. reset, and the keeper's view of start ----
# runs_with RESET: RUNS containers on a pool of 1, each started once the VM for it is ready.
runs_with() {
	write_config 1 true "$1"
	: >"$log"
	"${veil[@]}" factory init --detach >/dev/null
	for i in $(seq 1 "$runs"); do
		wait_ready 1 $([ "$1" = scrub ] && echo $((i - 1)) || echo 0)
		run_one "bench-$$-$1-$i" >/dev/null
	done
	wait_ready 1 $([ "$1" = scrub ] && echo "$runs" || echo 0)
	"${veil[@]}" factory destroy >/dev/null
}
runs_with clone
mapfile -t clone_ms < <(logged_ms cloned | tail -n "$runs")
runs_with scrub
mapfile -t scrub_ms < <(logged_ms scrubbed)
report "reset \"clone\": fresh clone ready" "${clone_ms[@]}"
report "reset \"scrub\": same VM scrubbed and ready" "${scrub_ms[@]}"
ratio "scrub / clone" "$(median "${scrub_ms[@]}")" "$(median "${clone_ms[@]}")"
echo

# Booted VMs for the same pool, the keeper's time to an agent-ready VM.
write_config "$pool" false clone
: >"$log"
"${veil[@]}" factory init --detach >/dev/null
wait_ready "$pool"
mapfile -t boot_ms < <(logged_ms "agent ready")
pss_booted=$(status | jq '[.vms[].pss_kib] | add')
"${veil[@]}" factory destroy >/dev/null
write_config "$pool" true clone
: >"$log"
"${veil[@]}" factory init --detach >/dev/null
wait_ready "$pool"
mapfile -t pool_clone_ms < <(logged_ms cloned)
pss_clones=$(status | jq '[.vms[].pss_kib] | add')
"${veil[@]}" factory destroy >/dev/null
report "keeper: boot to a paused, agent-ready VM" "${boot_ms[@]}"
report "keeper: clone to a paused, agent-ready VM" "${pool_clone_ms[@]}"
ratio "clone / boot" "$(median "${pool_clone_ms[@]}")" "$(median "${boot_ms[@]}")"
echo

# ---- 3. memory ----
printf '%-45s %6d MiB\n' "total PSS, $pool booted VMs" $((pss_booted / 1024))
printf '%-45s %6d MiB\n' "total PSS, $pool clones" $((pss_clones / 1024))
printf '%-45s %6d MiB\n' "template memory file, resident (tmpfs)" $((template_kib / 1024))
ratio "clones / booted (PSS)" "$pss_clones" "$pss_booted" | sed 's/difference \(-*[0-9]*\) ms/difference \1 KiB/'
