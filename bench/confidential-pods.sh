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
init_data "$TEST_TMP/init.toml" "$kbs_PORT"
conf "$cc_conf" "$TEST_TMP/init.toml" "$(factory_section "$TEST_TMP/cc.sock")"
"${VEIL[@]}" --config "$cc_conf" measure >"$TEST_TMP/measure.toml" || exit 1
start_kbs kbs yes "$kbs_PORT"
admin kbs reference set "$TEST_TMP/measure.toml" >/dev/null &&
	printf '[resource."default/key/db"]\ntee = ["emulated"]\n' | admin kbs policy set - >/dev/null &&
	printf 'bench-secret' | admin kbs resource set default/key/db - >/dev/null || exit 1

shim_setup
unset VEIL_CONF_FILE
cri_setup
for rt in plain:"$plain_conf" cc:"$cc_conf"; do
	CTRD_CRI_CONFIG+="
[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.veil-${rt%%:*}]
  runtime_type = \"$SHIM_RUNTIME\"
  container_annotations = [\"io.veil.*\"]
  [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.veil-${rt%%:*}.options]
    ConfigPath = \"${rt#*:}\"
"
done
factories_destroy() {
	"${VEIL[@]}" --config "$plain_conf" factory destroy >/dev/null 2>&1
	"${VEIL[@]}" --config "$cc_conf" factory destroy >/dev/null 2>&1
}
on_exit factories_destroy

containerd_start >/dev/null || { tail -n 20 "$CTRD_DIR/containerd.log" >&2; exit 1; }
containerd_import_busybox "$CRI_SANDBOX_IMAGE" sleep "$LONG_SLEEP" >/dev/null &&
	containerd_import_busybox "$IMG" >/dev/null || { echo "confidential-pods.sh: importing the images failed" >&2; exit 1; }
wait_until sh -c "$(printf '%q ' "${CRI_PY[@]}") $CTRD_SOCK ImageStatus '{\"image\":{\"image\":\"$IMG\"}}' | grep -q repo_tags"
"${VEIL[@]}" --config "$plain_conf" factory init --detach >/dev/null &&
	"${VEIL[@]}" --config "$cc_conf" factory init --detach >/dev/null || exit 1

results=$TEST_TMP/results
/usr/bin/python3 "$here/shim_cri.py" "$CTRD_SOCK" "$IMG" "$TEST_TMP/pods" "$runs" veil-plain veil-cc \
	--wait-pool veil-plain "$VEIL_BUILD/veil" "$plain_conf" --wait-pool veil-cc "$VEIL_BUILD/veil" "$cc_conf" \
	--annotations veil-cc '{"io.veil.secret.db": "kbs:///default/key/db"}' >"$results" || exit 1
misses=$(grep -c ': cold boot: ' "$CTRD_DIR/containerd.log")
attested=$(grep -c "resource session .*: default/key/db released" "$TEST_TMP/kbs/kbs.log")

ms_of() { jq -r --arg h "$1" --arg w "$2" 'select(.handler == $h and .what == $w) | .ms' "$results"; }
declare -A median_of
for what in pod add; do
	case $what in
	pod) echo "RunPodSandbox + first container started, VM from the cache (CRI, $runs runs each, interleaved):" ;;
	add) echo "one container added to a running pod (CreateContainer + StartContainer):" ;;
	esac
	for h in veil-plain veil-cc; do
		mapfile -t v < <(ms_of "$h" "$what")
		report "  $h" "${v[@]}"
		median_of[$h/$what]=$(median "${v[@]}")
	done
	ratio "  veil-cc / veil-plain" "${median_of[veil-cc/$what]}" "${median_of[veil-plain/$what]}"
done
echo "pods that missed the pool: $misses; secrets released by the KBS: $attested"
