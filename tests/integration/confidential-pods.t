#!/bin/bash
# Confidential pods through containerd's CRI plugin and the shim, with a real
# veil-kbs and the emulated TEE: each container of a pod gets its own secret
# after its own attestation, under its own /run/secrets; a secret the KBS
# refuses fails that container's start with the KBS's reason and leaves the
# pod's others running; ExecSync follows the init-data's policy in every
# container; the pod's init-data comes from the configuration (its VM from
# the VM cache) or from the pod's Kata annotation, and a container cannot
# change it; nothing is left afterwards.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/clients.sh"
require_tools containerd ctr umoci jq protoc /usr/bin/python3 ip gzip base64
KBS="$VEIL_BUILD/veil-kbs"
CHIP="$TEST_TMP/chip"
PIDS=()
source "$(dirname "$0")/kbs-lib.sh"
on_exit 'for p in "${PIDS[@]}"; do kill -9 "$p"; done'
IMG=localhost/veil-it-busybox:latest
secret_of() { echo "veil-secret-$1-$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')"; }
SECRET_A=$(secret_of a)
SECRET_B=$(secret_of b)
SECRET_P=$(secret_of p)

# The pods' configuration: the emulated TEE, init-data naming the KBS (its
# policy denies exec; CRI's host files allowed), and a factory that pools
# one confidential VM.
kbs_PORT=$(free_port)
init_data "$TEST_TMP/init.toml" "$kbs_PORT" && cri_host_files "$TEST_TMP/init.toml"
conf "$CONF" "$TEST_TMP/init.toml" "
[factory]
vm_cache_number = 1
vm_cache_endpoint = \"$TEST_TMP/pool.sock\""
# Init-data for a pod's annotation: the same KBS, exec allowed.
init_data "$TEST_TMP/exec.init.toml" "$kbs_PORT" 'default ExecProcessRequest := true' && cri_host_files "$TEST_TMP/exec.init.toml"
D2=$(sha384sum "$TEST_TMP/exec.init.toml" | cut -d' ' -f1)
"$VEIL_BIN" --config "$CONF" measure >"$TEST_TMP/measure.toml" &&
	"$VEIL_BIN" --config "$CONF" measure --init-data "$TEST_TMP/exec.init.toml" >"$TEST_TMP/measure-exec.toml" &&
	grep -q "^init_data = \[\"$D2\"\]" "$TEST_TMP/measure-exec.toml" &&
	M2=$(sed -n 's/^measurements = \["\([0-9a-f]*\)"\].*/\1/p' "$TEST_TMP/measure-exec.toml") &&
	sed -i -e "s/^init_data = \[\(\"[0-9a-f]*\"\)\]/init_data = [\1, \"$D2\"]/" \
		-e "s/^measurements = \[\(\"[0-9a-f]*\"\)\]/measurements = [\1, \"$M2\"]/" "$TEST_TMP/measure.toml" &&
	grep -q "^measurements = \[\"[0-9a-f]\{96\}\", \"[0-9a-f]\{96\}\"\]" "$TEST_TMP/measure.toml"
ok $? "veil measure: the reference values of both init-data (which the emulated measurement covers too), as one list"
start_kbs kbs yes "$kbs_PORT"
admin kbs reference set "$TEST_TMP/measure.toml" >/dev/null &&
	printf '[resource."default/key/a"]\ntee = ["emulated"]\n[resource."default/key/b"]\ntee = ["emulated"]\n[resource."default/key/p"]\ntee = ["emulated"]\n' |
	admin kbs policy set - >/dev/null &&
	printf '%s' "$SECRET_A" | admin kbs resource set default/key/a - >/dev/null &&
	printf '%s' "$SECRET_B" | admin kbs resource set default/key/b - >/dev/null &&
	printf '%s' "$SECRET_P" | admin kbs resource set default/key/p - >/dev/null &&
	printf 'not-for-pods' | admin kbs resource set default/key/denied - >/dev/null
ok $? "a veil-kbs trusting the emulated root, with reference values, policy and resources (default/key/denied in no rule)"

shim_setup
unset VEIL_CONF_FILE
cri_setup
"$VEIL_BIN" --config "$CONF" factory init --detach >/dev/null
on_exit "$VEIL_BIN --config $CONF factory destroy"
pool_has_vm() { [ -n "$(pooled_pids)" ]; }
check "the factory pools a confidential VM" poll_until 300 pool_has_vm
pooled=$(pooled_pids)

check "containerd starts with its CRI plugin and the veil runtime" containerd_start || {
	diag "$CTRD_DIR/containerd.log"
	exit 1
}
check "the sandbox image is imported" containerd_import_busybox "$CRI_SANDBOX_IMAGE" sleep "$LONG_SLEEP"
check "the containers' image is imported" containerd_import_busybox "$IMG"
check "CRI sees the images" wait_until sh -c "$(printf '%q ' "${CRI_PY[@]}") $CTRD_SOCK ImageStatus '{\"image\":{\"image\":\"$IMG\"}}' | grep -q repo_tags"

# A container that shows its secrets (name:content), then sleeps.
SHOW='for f in /run/secrets/*; do printf "%s:%s " "${f##*/}" "$(cat "$f")"; done; echo; exec sleep '"$LONG_SLEEP"
secret() { jq -cn --arg n "io.veil.secret.$1" --arg v "kbs:///$2" '{($n): $v}'; }
tee_services() { new_processes | while read -r pid _; do [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = veil-tee ] && echo "$pid"; done; }

# ---- a pod on the pooled VM, the configuration's init-data ----
config=$(pod_config conf)
pod=$(run_pod "$config")
ok "$([ -n "$pod" ]; echo $?)" "RunPodSandbox of a confidential pod"
qemus_of() { pgrep -fc "qemu-system.*-name veil-$1,"; }
is "$(grep -cw "$pooled" <<<"$(pooled_pids)")|$(kill -0 "$pooled" 2>/dev/null && echo alive)|$(qemus_of "$pod")" "0|alive|0" \
	"the pod took the pooled confidential VM (out of the pool, running) and booted none of its own"
a=$(create_container "$pod" "$config" a "$(secret a default/key/a)" sh -c "$SHOW")
check "container a, with secret a, starts" start_container "$a"
b=$(create_container "$pod" "$config" b "$(secret b default/key/b)" sh -c "$SHOW")
check "container b, the pod's second, with secret b, starts" start_container "$b"
check "container a reads its own secret, and only it" wait_until log_has conf/a.log "a:$SECRET_A "
check "container b reads its own secret, and only it" wait_until log_has conf/b.log "b:$SECRET_B "
c=$(create_container "$pod" "$config" c "$(secret c default/key/denied)" sh -c "$SHOW")
start_container "$c" 2>"$TEST_TMP/err"
ok $((! $?)) "container c, whose secret the KBS's policy refuses, does not start"
grep -q "fetching the container's secrets: .*PolicyDeny.*no policy rule grants default/key/denied" "$TEST_TMP/err"
ok $? "CRI's error carries the KBS's reason" || diag "$TEST_TMP/err"
is "$(state_of "$a")|$(state_of "$b")" "CONTAINER_RUNNING|CONTAINER_RUNNING" "the pod's other containers still run"
exec_sync "$a" cat /run/secrets/a >"$TEST_TMP/out" 2>"$TEST_TMP/err"
ok $((! $?)) "ExecSync into container a is refused (the init-data's policy: exec denied by default)"
grep -q "denied by the agent policy" "$TEST_TMP/err" && ! grep -q "$SECRET_A" "$TEST_TMP/out"
ok $? "with the agent's reason, and no secret"
exec_sync "$b" true >/dev/null 2>"$TEST_TMP/err"
ok $((! $?)) "and into container b: the policy is the pod's"
init_other=$(gzip -c "$TEST_TMP/exec.init.toml" | base64 -w0)
d=$(create_container "$pod" "$config" d "{\"io.katacontainers.config.hypervisor.cc_init_data\": \"$init_other\"}" sh -c "$SHOW")
start_container "$d" 2>"$TEST_TMP/err"
ok $((! $?)) "a container with other init-data than its pod's VM does not start"
grep -q "init-data annotation differs from the init-data its pod's VM was launched with" "$TEST_TMP/err"
ok $? "with that reason" || diag "$TEST_TMP/err"
check "StopPodSandbox and RemovePodSandbox" stop_and_remove "$pod"
wait_until shim_gone "$pod"
is "$(shim_leftovers "$pod")" "" "nothing of the pod is left: shim, QEMU, socket, state"

# ---- a pod whose init-data is its Kata annotation (exec allowed) ----
config=$(pod_config annotated "{\"annotations\": {\"io.katacontainers.config.hypervisor.cc_init_data\": \"$init_other\"}}")
pod=$(run_pod "$config")
ok "$([ -n "$pod" ]; echo $?)" "RunPodSandbox of a pod with init-data in its annotation (a cold boot)"
p=$(create_container "$pod" "$config" p "$(secret p default/key/p)" sh -c "$SHOW")
check "its container (given the pod's annotation by CRI) starts" start_container "$p"
check "and reads its secret" wait_until log_has annotated/p.log "p:$SECRET_P "
out=$(exec_sync "$p" cat /run/secrets/p 2>"$TEST_TMP/err")
is "$(jq -r '.stdout + "|" + (.exit_code | tostring)' <<<"$out")" "$SECRET_P|0" \
	"ExecSync allowed by the annotation's policy.rego"
check "StopPodSandbox and RemovePodSandbox" stop_and_remove "$pod"
wait_until shim_gone "$pod"
is "$(shim_leftovers "$pod")" "" "nothing of the pod is left"

"$VEIL_BIN" --config "$CONF" factory destroy >/dev/null 2>&1
containerd_stop
no_tee_services() { [ -z "$(tee_services)" ]; }
check "no veil-tee left" poll_until 30 no_tee_services
ok "$([ ! -e "$STATE/containerd" ]; echo $?)" "no pod state left ($STATE/containerd)"
grep -rlF -D skip "$SECRET_A" "$TEST_TMP" --exclude-dir=kbs 2>/dev/null | grep -v '/pods/' >"$TEST_TMP/found"
is "$(cat "$TEST_TMP/found")" "" "no secret on the host's disk but in the KBS's store and the CRI logs the test made"
for p in "${PIDS[@]}"; do kill "$p"; done
assert_no_new_processes "no containerd, shim, QEMU, veil-tee, factory or KBS process left"
