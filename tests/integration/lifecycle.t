#!/bin/bash
# The runc lifecycle on real microVMs: create/start/state/exec/ps/list/pause/
# resume/kill/delete, hooks, resources, console socket, and crash safety.
source "$(dirname "$0")/lib.sh"
write_config
B="$TEST_TMP/bundle"
V=("${VEIL[@]}")

status_of() { veil state "$1" 2>/dev/null | jq -r .status; }
wait_status() { # wait_status ID STATUS
	for _ in $(seq 1 300); do [ "$(status_of "$1")" = "$2" ] && return 0; sleep 0.1; done
	return 1
}

make_bundle "$B" sh -c 'echo started; trap "echo got-term; exit 5" TERM; while true; do sleep 0.1; done'
ID=$(cid life)
"${V[@]}" create --bundle "$B" --pid-file "$TEST_TMP/pid" "$ID" >"$TEST_TMP/life.out" 2>"$TEST_TMP/life.err"
is "$?" 0 "create succeeds"
pid=$(cat "$TEST_TMP/pid" 2>/dev/null)
is "$(status_of "$ID")" created "state is created after create"
is "$(veil state "$ID" | jq -r .pid)" "$pid" "state.pid is the pid written to --pid-file"
ok "$([ -d "/proc/$pid" ]; echo $?)" "the pid-file process is alive"
is "$(veil list -q)" "$ID" "list -q shows the container"
is "$(veil list --format json | jq -r '.[0].status')" created "list --format json shows its status"
ok "$(grep -q started "$TEST_TMP/life.out"; [ $? -ne 0 ]; echo $?)" "the process has not run before start"

veil start "$ID"
is "$?" 0 "start succeeds"
wait_status "$ID" running
is "$(status_of "$ID")" running "state is running after start"
for _ in $(seq 1 100); do grep -q started "$TEST_TMP/life.out" && break; sleep 0.1; done
is "$(cat "$TEST_TMP/life.out")" started "the container's stdout reaches the fd create inherited"

out=$(veil exec "$ID" sh -c 'echo exec-out; echo exec-err >&2; exit 3' 2>"$TEST_TMP/exec.err")
is "$?" 3 "exec returns the process's exit code"
is "$out" exec-out "exec stdout"
is "$(cat "$TEST_TMP/exec.err")" exec-err "exec stderr"
is "$(echo piped | veil exec "$ID" cat)" piped "exec stdin"
is "$(veil exec --env FOO=bar --cwd /tmp --user 1000:1000 "$ID" sh -c 'echo $FOO $(pwd) $(id -u)')" "bar /tmp 1000" \
	"exec --env --cwd --user"
jq '.process | .args = ["sh", "-c", "echo from-process-file; exit 4"] | .terminal = false' "$B/config.json" >"$TEST_TMP/process.json"
out=$(veil exec --process "$TEST_TMP/process.json" "$ID")
is "$?:$out" "4:from-process-file" "exec --process FILE"
veil exec "$ID" no-such-command >/dev/null 2>"$TEST_TMP/exec.err"
ok "$([ $? -ne 0 ] && grep -q no-such-command "$TEST_TMP/exec.err"; echo $?)" "exec of a missing command fails and names it"

veil exec --detach --pid-file "$TEST_TMP/exec.pid" "$ID" sh -c 'sleep 1; exit 0'
is "$?" 0 "exec --detach returns at once"
epid=$(cat "$TEST_TMP/exec.pid" 2>/dev/null)
ok "$([ -n "$epid" ] && [ -d "/proc/$epid" ]; echo $?)" "exec --detach --pid-file names a live process"
ok "$(veil ps --format json "$ID" | jq -e --argjson m "$pid" --argjson e "${epid:-0}" 'any(. == $m) and any(. == $e)' >/dev/null; echo $?)" \
	"ps --format json lists the host's pids that stand for the container's: the monitor, the exec's client"
ok "$(veil ps "$ID" | grep -q 'sh -c echo started; trap'; echo $?)" "ps lists the guest's processes: the init"
ok "$(veil ps "$ID" | grep -q 'sleep 1$'; echo $?)" "ps shows the exec's command line as the guest has it"
for _ in $(seq 1 100); do [ -d "/proc/$epid" ] || break; sleep 0.1; done
ok "$([ ! -d "/proc/$epid" ]; echo $?)" "the detached exec's process exits when the command does"

veil pause "$ID"
is "$(status_of "$ID")" paused "pause"
veil exec "$ID" true >/dev/null 2>&1
ok "$([ $? -ne 0 ]; echo $?)" "exec into a paused container is refused"
veil resume "$ID"
is "$(status_of "$ID")" running "resume"

veil delete "$ID" 2>"$TEST_TMP/err"
rc=$?
is "$rc:$(cat "$TEST_TMP/err")" "1:veil: cannot delete container $ID that is not stopped: running" \
	"delete of a running container without --force is refused as runc does"
is "$(status_of "$ID")" running "and the container keeps running"

veil kill "$ID"
wait_status "$ID" stopped
is "$(status_of "$ID")" stopped "kill sends SIGTERM by default; the container stops"
is "$(veil state "$ID" | jq -r .pid)" 0 "a stopped container has pid 0"
grep -q got-term "$TEST_TMP/life.out"
ok $? "the container saw SIGTERM"
veil kill "$ID" KILL 2>"$TEST_TMP/err"
is "$?:$(cat "$TEST_TMP/err")" "1:veil: container not running" "kill of a stopped container fails as runc does"
veil delete "$ID"
is "$?" 0 "delete of a stopped container"
assert_no_leftovers "$ID" "create/start/kill/delete"

veil state no-such-id 2>"$TEST_TMP/err"
is "$?:$(cat "$TEST_TMP/err")" "1:veil: container does not exist" "unknown container id"

ID=$(cid dup)
make_bundle "$B" sleep 1000
"${V[@]}" create --bundle "$B" "$ID" >/dev/null 2>&1
"${V[@]}" create --bundle "$B" "$ID" 2>"$TEST_TMP/err"
is "$?:$(cat "$TEST_TMP/err")" "1:veil: container with id exists: $ID" "duplicate id is refused as runc does"
is "$(status_of "$ID")" created "the first container is untouched"
veil delete "$ID"
is "$?" 0 "delete of a created container (no --force needed, as runc)"
assert_no_leftovers "$ID" "delete of a created container"

ID=$(cid force)
"${V[@]}" run --detach --bundle "$B" "$ID" >/dev/null 2>&1
is "$(status_of "$ID")" running "run --detach leaves a running container"
veil delete --force "$ID"
is "$?" 0 "delete --force of a running container"
assert_no_leftovers "$ID" "delete --force"

ID=$(cid corrupt)
mkdir -p "$STATE/$ID" && echo '{"id": "half-writ' >"$STATE/$ID/state.json"
veil state "$ID" 2>"$TEST_TMP/err"
ok "$([ $? -ne 0 ] && grep -q corrupt "$TEST_TMP/err"; echo $?)" "a corrupt state file is reported"
veil delete --force "$ID"
ok "$([ ! -e "$STATE/$ID" ]; echo $?)" "delete --force removes a corrupt container"

# Hooks run on the host with the state on stdin.
ID=$(cid hooks)
make_bundle "$B" true
cat >"$TEST_TMP/hook.sh" <<EOF
#!/bin/sh
cat > "$TEST_TMP/hook-\$1.json"
echo "\$2 \${HOOK_MARK:-}" > "$TEST_TMP/hook-\$1.args"
EOF
chmod +x "$TEST_TMP/hook.sh"
edit_spec "$B" ".hooks = {
	createRuntime: [{path: \"$TEST_TMP/hook.sh\", args: [\"hook.sh\", \"createRuntime\", \"second-arg\"],
		env: [\"HOOK_MARK=from-env\", \"PATH=/usr/bin:/bin\"]}],
	poststart: [{path: \"$TEST_TMP/hook.sh\", args: [\"hook.sh\", \"poststart\"]}],
	poststop: [{path: \"$TEST_TMP/hook.sh\", args: [\"hook.sh\", \"poststop\"]}]}"
veil run --bundle "$B" "$ID" >/dev/null 2>&1
for h in createRuntime poststart poststop; do
	is "$(jq -r .id "$TEST_TMP/hook-$h.json" 2>/dev/null)" "$ID" "$h hook ran with the state on stdin"
done
is "$(jq -r .status "$TEST_TMP/hook-createRuntime.json")" created "createRuntime hook sees status created"
is "$(cat "$TEST_TMP/hook-createRuntime.args" 2>/dev/null)" "second-arg from-env" "a hook gets its args and env"
edit_spec "$B" ".hooks = {createRuntime: [{path: \"/bin/false\"}]}"
veil run --bundle "$B" "$(cid badhook)" >/dev/null 2>"$TEST_TMP/err"
ok "$([ $? -ne 0 ] && grep -q 'createRuntime hook /bin/false failed' "$TEST_TMP/err"; echo $?)" "a failing createRuntime hook fails the create"
assert_no_leftovers "$(cid badhook)" "a failing hook"

# linux.resources apply in the guest and size the VM.
make_bundle "$B" sh -c 'cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max; grep MemTotal /proc/meminfo | tr -s " " | cut -d" " -f2'
edit_spec "$B" '.linux.resources = {memory: {limit: 134217728}, pids: {limit: 50}, cpu: {quota: 100000, period: 100000}}'
out=$(veil run --bundle "$B" "$(cid res)" 2>/dev/null)
is "$(echo "$out" | sed -n 1,2p | tr '\n' ' ')" "134217728 50 " "memory and pids limits apply through cgroup v2 in the guest"
mem=$(echo "$out" | sed -n 3p)
ok "$([ "${mem:-0}" -gt $(( (256 + 100) * 1024 )) ]; echo $?)" "the VM is sized as default_memory + memory limit (MemTotal ${mem} kB)"

# --console-socket: the pty master arrives over the socket, as with runc.
ID=$(cid tty)
make_bundle "$B" sh -c 'tty; stty size'
edit_spec "$B" '.process.terminal = true | .process.consoleSize = {height: 30, width: 100}'
python3 "$(dirname "$0")/console-receiver.py" "$TEST_TMP/console.sock" "$TEST_TMP/console.out" &
recv=$!
for _ in $(seq 1 50); do [ -S "$TEST_TMP/console.sock" ] && break; sleep 0.1; done
"${V[@]}" create --bundle "$B" --console-socket "$TEST_TMP/console.sock" "$ID" >/dev/null 2>&1
veil start "$ID"
wait_status "$ID" stopped
wait $recv
is "$(tr -d '\r' <"$TEST_TMP/console.out")" "/dev/pts/0
30 100" "the process runs on a guest pty whose size comes from the spec"
veil delete "$ID"

# A create killed with -9 at any point leaves nothing that delete --force cannot clean.
make_bundle "$B" sleep 1000
leaks=0
for delay in 0.05 0.3 0.8 1.5 2.5; do
	ID=$(cid crash${delay/./})
	"${V[@]}" create --bundle "$B" "$ID" >/dev/null 2>&1 &
	pid=$!
	sleep "$delay"
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	veil delete --force "$ID" >/dev/null 2>&1
	sleep 0.2
	if pgrep -f "qemu-system.*-name veil-$ID" >/dev/null || [ -e "$STATE/$ID" ]; then
		leaks=$((leaks + 1))
		echo "# leak after kill -9 at ${delay}s"
	fi
done
is "$leaks" 0 "kill -9 of create at 5 points, then delete --force: no VM, no state left"

is "$(veil features | jq -r .ociVersionMax)" 1.2.0 "features reports the OCI version range"

# A 64-character ID (podman's) under a long state root still has a reachable monitor.
LONG=$(printf 'a%.0s' $(seq 1 60))$$
LONG=${LONG:0:64}
make_bundle "$B" sleep 1000
"$VEIL_BIN" --config "$CONF" --root "$TEST_TMP/a-rather-long-state-root-directory" create --bundle "$B" "$LONG" >/dev/null 2>&1
is "$("$VEIL_BIN" --config "$CONF" --root "$TEST_TMP/a-rather-long-state-root-directory" state "$LONG" | jq -r .status)" created \
	"a monitor socket path longer than sun_path is still reached"
"$VEIL_BIN" --config "$CONF" --root "$TEST_TMP/a-rather-long-state-root-directory" delete --force "$LONG"
ok "$(pgrep -f "qemu-system.*-name veil-$LONG" >/dev/null; [ $? -ne 0 ]; echo $?)" "and delete --force of it leaves no VM"
