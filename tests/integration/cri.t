#!/bin/bash
# Kubernetes' way in: containerd's CRI plugin (runtime handler "veil" ->
# containerd-shim-veil-v2), driven by the project's CRI client
# (tests/integration/cri/cri.py). A pod is one microVM: its sandbox and its
# containers, which reach each other over localhost; logs, ExecSync, exit
# codes, StopContainer (TERM, then KILL), UpdateContainerResources, the
# configuration through the shim options and through an annotation; the
# shim or QEMU killed mid-pod; 20 pods created and removed in a loop.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/clients.sh"
require_tools containerd ctr umoci jq protoc /usr/bin/python3 ip
IMG=localhost/veil-it-busybox:latest
shim_setup
# The shim must find its configuration through CRI's runtime options alone
# (the configuration.toml beside it in the build tree would put the pods'
# state under /run/veil).
unset VEIL_CONF_FILE
cri_setup

check "containerd starts with its CRI plugin and the veil runtime" containerd_start || {
	diag "$CTRD_DIR/containerd.log"
	exit 1
}
check "the sandbox image (its command sleeps) is imported" containerd_import_busybox "$CRI_SANDBOX_IMAGE" sleep "$LONG_SLEEP"
check "the containers' image is imported" containerd_import_busybox "$IMG"
is "$(cri_get Version '{}' .runtime_api_version)" v1 "CRI answers (v1)"
check "CRI sees the images" wait_until sh -c "$(printf '%q ' "${CRI_PY[@]}") $CTRD_SOCK ImageStatus '{\"image\":{\"image\":\"$IMG\"}}' | grep -q repo_tags"

# run_container POD_ID POD_CONFIG NAME CMD... : creates and starts a container
# whose command is CMD, logging to NAME.log; prints its ID.
run_container() {
	local pod=$1 config=$2 name=$3 id
	shift 3
	id=$(create_container "$pod" "$config" "$name" '{}' "$@") && start_container "$id" && echo "$id"
}
exit_code_of() { cri_get ContainerStatus "{\"container_id\": \"$1\"}" '.status.exit_code // 0'; }
exited() { [ "$(state_of "$1")" = CONTAINER_EXITED ]; }
# The QEMUs of this test's pods, and those of one pod (only this test's:
# other tests on the machine run pods too).
ANY_POD='[0-9a-f]{64}'
qemus() { new_processes | grep -cE "^[0-9]+ [^ ]*qemu-system[^ ]* .*-name veil-${1:-$ANY_POD},"; }

# ---- a pod: its sandbox and containers in one VM ----
config=$(pod_config web '{"linux": {"resources": {"memory_limit_in_bytes": 268435456, "cpu_quota": 100000, "cpu_period": 100000}}}')
pod=$(run_pod "$config")
ok "$([ -n "$pod" ]; echo $?)" "RunPodSandbox with runtime handler veil"
is "$(cri_get PodSandboxStatus "{\"pod_sandbox_id\": \"$pod\"}" '.status.state // "SANDBOX_READY"')" SANDBOX_READY "the pod is ready"
ip=$(cri_get PodSandboxStatus "{\"pod_sandbox_id\": \"$pod\"}" .status.network.ip)
ok "$([[ $ip == "$CRI_SUBNET_PREFIX".* ]]; echo $?)" "the pod has an address on the CNI bridge ($ip)"
is "$(qemus "$pod")" 1 "one QEMU runs the pod"
is "$(pgrep -af "qemu-system.*-name veil-$pod," | grep -o -- '-m [0-9]*\|-smp [0-9]*' | tr '\n' ' ')" "-m 512 -smp 2 " \
	"the VM is sized from the pod's limits (CRI's sandbox annotations): 256 + 256 MiB, 1 + 1 vCPUs"
ok "$([ -d "$STATE/containerd/k8s.io/$pod" ]; echo $?)" "the shim took its configuration from the runtime options' ConfigPath"

a=$(run_container "$pod" "$config" a sh -c 'mkdir -p /www && echo hello-from-a >/www/index.html && echo started-a && exec httpd -f -p 8080 -h /www')
b=$(run_container "$pod" "$config" b sh -c 'until wget -qO- http://127.0.0.1:8080/index.html; do sleep 0.2; done; exec sleep '"$LONG_SLEEP")
ok "$([ -n "$a" ] && [ -n "$b" ]; echo $?)" "two containers created and started in the pod"
is "$(qemus "$pod")|$(qemus)" "1|1" "still one QEMU for the pod, and no other"
check "container b reached container a over localhost (its log)" wait_until log_has web/b.log hello-from-a
check "container a's stdout is in its CRI log" log_has web/a.log started-a
is "$(state_of "$a")|$(state_of "$b")" "CONTAINER_RUNNING|CONTAINER_RUNNING" "both containers run"
out=$(exec_sync "$b" sh -c 'echo out; hostname; echo err >&2; exit 3')
is "$(jq -r '.stdout + "|" + .stderr + "|" + (.exit_code | tostring)' <<<"$out")" "out
web
|err
|3" "ExecSync: stdout, stderr and exit code; the pod's hostname"
check "UpdateContainerResources: 64 MiB for b" cri UpdateContainerResources "{\"container_id\": \"$b\", \"linux\": {\"memory_limit_in_bytes\": 67108864}}"
out=$(exec_sync "$b" sh -c "cat /sys/fs/cgroup/veil/$b/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory.max")
is "$(jq -r .stdout <<<"$out")" 67108864 "the guest applied it to the container's cgroup"

c=$(run_container "$pod" "$config" c sh -c 'echo bye; exit 7')
check "a container that exits" wait_until exited "$c"
is "$(exit_code_of "$c")" 7 "its exit code (7)"
term=$(run_container "$pod" "$config" term sh -c 'trap "echo got-term; exit 0" TERM; echo ready; while :; do sleep 1; done')
deaf=$(run_container "$pod" "$config" deaf sh -c 'trap "" TERM; echo ready; while :; do sleep 1; done')
wait_until log_has web/term.log ready
wait_until log_has web/deaf.log ready
check "StopContainer (10 s grace) of a container that exits on SIGTERM" cri StopContainer "{\"container_id\": \"$term\", \"timeout\": 10}"
is "$(state_of "$term")|$(exit_code_of "$term")" "CONTAINER_EXITED|0" "it got SIGTERM and exited (0)"
check "the SIGTERM handler ran" log_has web/term.log got-term
check "StopContainer (1 s grace) of a container that ignores SIGTERM" cri StopContainer "{\"container_id\": \"$deaf\", \"timeout\": 1}"
is "$(state_of "$deaf")|$(exit_code_of "$deaf")" "CONTAINER_EXITED|137" "SIGKILL followed (137)"
check "RemoveContainer of an exited container, while the pod runs" cri RemoveContainer "{\"container_id\": \"$c\"}"
is "$(state_of "$a")|$(qemus)" "CONTAINER_RUNNING|1" "the pod's other containers and its VM are untouched"
check "StopPodSandbox" cri StopPodSandbox "{\"pod_sandbox_id\": \"$pod\"}"
is "$(state_of "$a")|$(state_of "$b")" "CONTAINER_EXITED|CONTAINER_EXITED" "the pod's containers are stopped with it"
check "RemovePodSandbox" cri RemovePodSandbox "{\"pod_sandbox_id\": \"$pod\"}"
wait_until shim_gone "$pod"
is "$(shim_leftovers "$pod")" "" "nothing of the pod is left: shim, QEMU, socket, state"

# ---- the configuration named by an annotation (Kata's key) ----
CONF_PATH=$TEST_TMP/other.toml write_config 'default_memory = 192'
config=$(pod_config annotated "{\"annotations\": {\"io.katacontainers.config_path\": \"$TEST_TMP/other.toml\"}}")
pod=$(run_pod "$config")
is "$(pgrep -af "qemu-system.*-name veil-$pod," | grep -o -- '-m [0-9]*')" "-m 192" \
	"annotation io.katacontainers.config_path: the VM is the named configuration's (192 MiB)"
stop_and_remove "$pod"

# ---- a pod from the VM cache, its VM scrubbed and pooled again ----
# The same factory and reset as veil run's (docs/templates-and-reset.md),
# chosen for this pod by io.veil.config_path.
pool_conf=$TEST_TMP/pool.toml
CONF_PATH=$pool_conf write_config
printf '\n[factory]\nvm_cache_number = 1\nvm_cache_endpoint = "%s"\n' "$TEST_TMP/pool.sock" >>"$pool_conf"
sed -i 's|^state_dir = .*|&\nreset = "scrub"|' "$pool_conf"
pool() { CONF=$pool_conf "$@"; }
on_exit "$VEIL_BIN --config $pool_conf factory destroy"
pool_has_vm() { [ -n "$(pooled_pids)" ]; }
"$VEIL_BIN" --config "$pool_conf" factory init --detach >/dev/null && pool poll_until 180 pool_has_vm
pooled=$(pool pooled_pids)
ok "$([ -n "$pooled" ]; echo $?)" "a factory pools a VM ($pooled)"
config=$(pod_config pooled "{\"annotations\": {\"io.veil.config_path\": \"$pool_conf\"}}")
pod=$(run_pod "$config")
x=$(run_container "$pod" "$config" x sh -c 'echo from-the-pool; exec sleep '"$LONG_SLEEP")
check "RunPodSandbox and a container on the pooled VM" wait_until log_has pooled/x.log from-the-pool
is "$(pool pooled_pids)|$(kill -0 "$pooled" 2>/dev/null && echo alive)|$(qemus "$pod")" "|alive|0" \
	"the pod took the pooled VM (out of the pool, running) and booted none of its own"
check "StopPodSandbox and RemovePodSandbox of the pooled pod" stop_and_remove "$pod"
scrubbed() { [ "$(status_json | jq -r --argjson p "$pooled" '[.vms[]? | select(.qemu_pid == $p and .state == "paused") | .scrubs] | first // 0')" = 1 ]; }
check "the VM went back to the pool, scrubbed once (reset = \"scrub\")" pool poll_until 60 scrubbed
wait_until shim_gone "$pod"
is "$(shim_leftovers "$pod")" "" "nothing else of the pooled pod is left"
"$VEIL_BIN" --config "$pool_conf" factory destroy >/dev/null 2>&1
check "factory destroy takes the pooled VM down" poll_until 30 gone "$pooled"

# ---- faults ----
config=$(pod_config shimkill)
pod=$(run_pod "$config")
x=$(run_container "$pod" "$config" x sleep "$LONG_SLEEP")
kill -9 $(pgrep -f "containerd-shim-veil-v2 .*-id $pod ")
check "shim killed with -9: its container is reported exited" wait_until exited "$x"
check "shim killed with -9: StopPodSandbox and RemovePodSandbox" stop_and_remove "$pod"
wait_until shim_gone "$pod"
is "$(shim_leftovers "$pod")" "" "shim killed with -9: no QEMU, socket or state left"

config=$(pod_config vmkill)
pod=$(run_pod "$config")
x=$(run_container "$pod" "$config" x sleep "$LONG_SLEEP")
y=$(run_container "$pod" "$config" y sleep "$LONG_SLEEP")
pkill -9 -f "qemu-system.*-name veil-$pod,"
check "QEMU killed with -9: every container of the pod is reported exited" wait_until sh -c \
	"$(printf '%q ' "${CRI_PY[@]}") $CTRD_SOCK ListContainers '{\"filter\":{\"pod_sandbox_id\":\"$pod\"}}' | jq -e '[.containers[] | select(.state != \"CONTAINER_EXITED\")] | length == 0'"
is "$(exit_code_of "$x")|$(exit_code_of "$y")" "137|137" "with 128+9"
check "QEMU killed with -9: the pod can be stopped and removed" stop_and_remove "$pod"
wait_until shim_gone "$pod"
is "$(shim_leftovers "$pod")" "" "QEMU killed with -9: nothing left"

# ---- 20 pods, one after the other ----
pods=() netns=() failures=0
for i in $(seq 1 20); do
	config=$(pod_config "loop$i")
	pod=$(run_pod "$config") && run_container "$pod" "$config" x sleep "$LONG_SLEEP" >/dev/null || failures=$((failures + 1))
	pods+=("$pod")
	netns+=("$(jq -r '.linux.namespaces[] | select(.type == "network") | .path' \
		"$CTRD_DIR/state/io.containerd.runtime.v2.task/k8s.io/$pod/config.json" 2>/dev/null)")
	stop_and_remove "$pod" || failures=$((failures + 1))
done
is "$failures" 0 "20 pods, each with a container, created and removed"
left=$(shim_leftovers "${pods[@]}")
for n in "${netns[@]}"; do [ -n "$n" ] && [ -e "$n" ] && left+=" netns $n"; done
is "$left" "" "no QEMU, shim, socket, state or network namespace of them left"
is "$(grep -c "$CTRD_DIR" /proc/self/mountinfo)" 0 "no mount of theirs left"

ok "$([ ! -e "$STATE/containerd" ]; echo $?)" "no pod state left ($STATE/containerd)"
containerd_stop
assert_no_new_processes "no containerd, shim, QEMU or container processes left"
