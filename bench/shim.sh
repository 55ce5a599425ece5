#!/bin/bash
# Pods through containerd's CRI: containerd-shim-veil-v2 against
# containerd-shim-runc-v2 on the same image, in one run, interleaved
# (bench/shim_cri.py):
#   - RunPodSandbox plus the first container's start: runc; veil booting
#     the pod's VM; veil taking it from the VM cache (a factory pooling
#     booted VMs); veil cloning the template on the spot;
#   - one container added to a running pod, for each of the four.
# A private containerd with its CRI plugin and a CNI bridge, as
# tests/integration/cri.t runs it. Prints medians, p90s and ratios.
# Usage: bench/shim.sh BUILD_DIR [RUNS]
set -o pipefail
here=$(cd "$(dirname "$0")" && pwd)
export VEIL_BUILD=$(cd "${1:-build}" && pwd)
runs=${2:-10}
source "$here/../tests/integration/lib.sh"
source "$here/../tests/integration/clients.sh"
source "$here/stats.sh"
VEIL=("$VEIL_BUILD/veil")
IMG=localhost/veil-bench-busybox:latest

shim_setup
unset VEIL_CONF_FILE
cri_setup
# The cold runtime's configuration is $CONF; the pooled and the cloning
# ones have a factory each (the template's runs with one pooled clone, but
# its runtime's configuration takes none from it, so that each pod clones
# the template on the spot).
pool_conf=$TEST_TMP/pool.toml
template_conf=$TEST_TMP/template.toml
template_factory=$TEST_TMP/template-factory.toml
write_config
factory_section() { printf '\n[factory]\nvm_cache_number = %s\nvm_cache_endpoint = "%s"\n%s\n' "$1" "$2" "${3:-}"; }
{ cat "$CONF"; factory_section 2 "$TEST_TMP/pool.sock"; } >"$pool_conf"
template_lines=$(printf 'enable_template = true\ntemplate_path = "%s"' "$TEST_TMP/template")
{ cat "$CONF"; factory_section 1 "$TEST_TMP/template.sock" "$template_lines"; } >"$template_factory"
{ cat "$CONF"; factory_section 0 "$TEST_TMP/template.sock" "$template_lines"; } >"$template_conf"
cri_runtime veil-pool "$pool_conf"
cri_runtime veil-template "$template_conf"
factories_destroy() {
	"${VEIL[@]}" --config "$pool_conf" factory destroy >/dev/null 2>&1
	"${VEIL[@]}" --config "$template_factory" factory destroy >/dev/null 2>&1
}
on_exit factories_destroy

cri_start "$IMG"
"${VEIL[@]}" --config "$pool_conf" factory init --detach >/dev/null &&
	"${VEIL[@]}" --config "$template_factory" factory init --detach >/dev/null || exit 1
wait_vms 2 '.state == "paused"' "${VEIL[@]}" --config "$pool_conf"
wait_vms 1 '.state == "paused" and .origin == "clone"' "${VEIL[@]}" --config "$template_factory"

results=$TEST_TMP/results
/usr/bin/python3 "$here/shim_cri.py" "$CTRD_SOCK" "$IMG" "$TEST_TMP/pods" "$runs" runc veil veil-pool veil-template \
	--wait-pool veil-pool "$VEIL_BUILD/veil" "$pool_conf" >"$results" || exit 1
log=$CTRD_DIR/containerd.log
misses=$(grep -c ': cold boot: ' "$log")
cloned=$(grep -c 'VM cloned from the template' "$log")

declare -A median_of
for what in pod add; do
	cri_report "$results" "$what" "$runs" runc veil veil-pool veil-template
	for h in veil veil-pool veil-template; do
		ratio "  $h / runc" "${median_of[$h/$what]}" "${median_of[runc/$what]}"
	done
	ratio "  veil-pool / veil (cold)" "${median_of[veil-pool/$what]}" "${median_of[veil/$what]}"
	ratio "  veil-template / veil (cold)" "${median_of[veil-template/$what]}" "${median_of[veil/$what]}"
done
echo "pods of veil-template that cloned the template: $cloned of $runs; pods that missed the pool or the template: $misses"
