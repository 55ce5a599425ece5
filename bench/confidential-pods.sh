#!/bin/bash
# Confidential pods through containerd's CRI against ordinary ones, both from
# the VM cache, in one run, interleaved (bench/shim_cri.py):
#   - RunPodSandbox plus the first container's start;
#   - one container added to the running pod;
# the confidential pod's containers each with a secret from a real veil-kbs
# (the emulated TEE), so each start includes an attestation and a fetch.
# A private containerd with its CRI plugin and a CNI bridge, as
# tests/integration/confidential-pods.t runs it. Prints medians, p90s and ratios.
# Usage: bench/confidential-pods.sh BUILD_DIR [RUNS]
set -o pipefail
here=$(cd "$(dirname "$0")" && pwd)
export VEIL_BUILD=$(cd "${1:-build}" && pwd)
runs=${2:-10}
source "$here/../tests/integration/lib.sh"
source "$here/../tests/integration/clients.sh"
source "$here/stats.sh"
KBS="$VEIL_BUILD/veil-kbs"
CHIP="$TEST_TMP/chip"
PIDS=()
source "$here/../tests/integration/kbs-lib.sh"
on_exit 'for p in "${PIDS[@]}"; do kill -9 "$p"; done'
VEIL=("$VEIL_BUILD/veil")
IMG=localhost/veil-bench-busybox:latest

factory_section() { printf '\n[factory]\nvm_cache_number = 1\nvm_cache_endpoint = "%s"\n' "$1"; }
plain_conf=$TEST_TMP/plain.toml
cc_conf=$TEST_TMP/cc.toml
CONF_PATH=$plain_conf write_config
factory_section "$TEST_TMP/plain.sock" >>"$plain_conf"
kbs_PORT=$(free_port)
init_data "$TEST_TMP/init.toml" "$kbs_PORT" && cri_host_files "$TEST_TMP/init.toml"
conf "$cc_conf" "$TEST_TMP/init.toml" "$(factory_section "$TEST_TMP/cc.sock")"
"${VEIL[@]}" --config "$cc_conf" measure >"$TEST_TMP/measure.toml" || exit 1
start_kbs kbs yes "$kbs_PORT"
admin kbs reference set "$TEST_TMP/measure.toml" >/dev/null &&
	printf '[resource."default/key/db"]\ntee = ["emulated"]\n' | admin kbs policy set - >/dev/null &&
	printf 'bench-secret' | admin kbs resource set default/key/db - >/dev/null || exit 1

shim_setup
unset VEIL_CONF_FILE
cri_setup
annotations='  container_annotations = ["io.veil.*"]'
cri_runtime veil-plain "$plain_conf" "$annotations"
cri_runtime veil-cc "$cc_conf" "$annotations"
on_exit "${VEIL[*]} --config $plain_conf factory destroy"
on_exit "${VEIL[*]} --config $cc_conf factory destroy"

cri_start "$IMG"
"${VEIL[@]}" --config "$plain_conf" factory init --detach >/dev/null &&
	"${VEIL[@]}" --config "$cc_conf" factory init --detach >/dev/null || exit 1

results=$TEST_TMP/results
/usr/bin/python3 "$here/shim_cri.py" "$CTRD_SOCK" "$IMG" "$TEST_TMP/pods" "$runs" veil-plain veil-cc \
	--wait-pool veil-plain "$VEIL_BUILD/veil" "$plain_conf" --wait-pool veil-cc "$VEIL_BUILD/veil" "$cc_conf" \
	--annotations veil-cc '{"io.veil.secret.db": "kbs:///default/key/db"}' >"$results" || exit 1
misses=$(grep -c ': cold boot: ' "$CTRD_DIR/containerd.log")
attested=$(grep -c "resource session .*: default/key/db released" "$TEST_TMP/kbs/kbs.log")

declare -A median_of
for what in pod add; do
	cri_report "$results" "$what" "$runs" veil-plain veil-cc
	ratio "  veil-cc / veil-plain" "${median_of[veil-cc/$what]}" "${median_of[veil-plain/$what]}"
done
echo "pods that missed the pool: $misses; secrets released by the KBS: $attested"
