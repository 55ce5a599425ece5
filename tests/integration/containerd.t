#!/bin/bash
# containerd (through containerd-shim-runc-v2) drives the runtime under test:
# ctr run, task exec, kill, delete, pause/resume, ps, run -t. A private
# containerd (root, state and sockets in the test's temp dir, CRI off) and a
# local OCI image built with umoci, no registry.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/clients.sh"
select_runtime
require_tools containerd ctr containerd-shim-runc-v2 umoci
IMG=localhost/veil-it-busybox:latest
E="$TEST_TMP/err"

check "containerd starts (private root, state and socket)" containerd_start || {
	diag "$CTRD_DIR/containerd.log"
	exit 1
}
check "ctr image import of an OCI image made with umoci" containerd_import_busybox "$IMG" || exit 1
ctrc image ls -q 2>"$E" | grep -qx "$IMG"
ok $? "ctr image ls: the image is there as $IMG"

# run: output and exit code
out=$(ctrc run --rm "${CTR_RUN_FLAGS[@]}" "$IMG" "$(cid exit)" sh -c 'echo out; echo err >&2; exit 4' 2>"$E" </dev/null); rc=$?
is "$out|$(cat "$E")" "out|err" "ctr run: stdout and stderr"
is "$rc" 4 "ctr run: the container's exit code (4) is ctr's"

# (No stdin test: ctr does not pass EOF on its stdin through to the task, with runc too.)
out=$(ctrc run --rm "${CTR_RUN_FLAGS[@]}" --env VAR=x --cwd /tmp "$IMG" "$(cid env)" sh -c 'echo "$VAR $(pwd) $(id -u)"' 2>"$E" </dev/null)
is "$out" "x /tmp 0" "ctr run --env --cwd"

# a tty
out=$(in_tty "${CTR[@]}" run --rm -t "${CTR_RUN_FLAGS[@]}" "$IMG" "$(cid tty)" sh -c 'tty; [ -t 0 ] && [ -t 1 ] && echo both-tty; exit 6'); rc=$?
is "$out" "/dev/pts/0
both-tty" "ctr run -t: the container's stdin and stdout are /dev/pts/0"
is "$rc" 6 "ctr run -t: exit code (6)"

# a detached task: exec, ps, pause/resume, kill, delete
id=$(cid task)
check "ctr run -d" ctrc run -d "${CTR_RUN_FLAGS[@]}" "$IMG" "$id" sleep "$LONG_SLEEP"
check "ctr task ls: RUNNING" wait_until ctr_task_status_is "$id" RUNNING
ctrc task exec "${CTR_EXEC_FLAGS[@]}" --exec-id e1 "$id" sh -c 'exit 5' >/dev/null 2>"$E"
is "$?" 5 "ctr task exec: exit code (5)"
out=$(ctrc task exec "${CTR_EXEC_FLAGS[@]}" --exec-id e2 "$id" echo x 2>"$E")
is "$out" "x" "ctr task exec: output"
out=$(ctrc task exec "${CTR_EXEC_FLAGS[@]}" --exec-id e3 --cwd /tmp --user 1000 "$id" sh -c 'echo "$(pwd) $(id -u)"' 2>"$E")
is "$out" "/tmp 1000" "ctr task exec --cwd --user"
out=$(in_tty "${CTR[@]}" task exec "${CTR_EXEC_FLAGS[@]}" -t --exec-id e4 "$id" tty); rc=$?
out=$(echo "$out" | head -n 1) # ctr may add a harmless "resize pty" error after it
ok "$([[ $out =~ ^/dev/pts/[0-9]+$ ]] && [ "$rc" = 0 ]; echo $?)" "ctr task exec -t: a terminal ($out)"
out=$(ctrc task exec "${CTR_EXEC_FLAGS[@]}" --exec-id e5 "$id" sh -c 'ps -o pid,args | grep -c "[s]leep $0"' "$LONG_SLEEP" 2>"$E")
is "$out" 1 "ctr task exec: runs in the container's pid namespace (sees its init)"

pid=$(ctrc task ls 2>/dev/null | awk -v id="$id" '$1 == id {print $2}')
ctrc task ps "$id" >"$TEST_TMP/ps.out" 2>"$E"
if [ "$RUNTIME_NAME" = veil ]; then
	# The task's processes live in the VM; on the host it is its monitor
	# (the task's pid) and QEMU, as Kata's shim answers with its VM's pid.
	qemu=$(pgrep -P "$pid" -f qemu-system | head -n 1)
	ok "$(awk 'NR > 1 {print $1}' "$TEST_TMP/ps.out" | grep -qx "$pid" && awk 'NR > 1 {print $1}' "$TEST_TMP/ps.out" | grep -qx "${qemu:-none}"; echo $?)" \
		"ctr task ps: lists the task's host processes, its monitor ($pid) and QEMU (${qemu:-none})"
else
	ok "$(awk 'NR > 1 {print $1}' "$TEST_TMP/ps.out" | grep -qx "$pid"; echo $?)" "ctr task ps: lists the task's pid ($pid)"
fi
[ -s "$E" ] && diag "$E"

check "ctr task pause" ctrc task pause "$id"
is "$(ctr_task_status "$id")" PAUSED "ctr task ls: PAUSED"
check "ctr task resume" ctrc task resume "$id"
is "$(ctr_task_status "$id")" RUNNING "ctr task ls: RUNNING again"

check "ctr task kill -s SIGKILL" ctrc task kill -s SIGKILL "$id"
check "ctr task ls: STOPPED" wait_until ctr_task_status_is "$id" STOPPED
check "ctr task delete" ctrc task delete "$id"
ok "$(ctrc task ls -q 2>/dev/null | grep -qx "$id"; [ $? -eq 1 ]; echo $?)" "ctr task ls: the task is gone"
check "ctr container delete" ctrc container delete "$id"

# a running task removed with delete --force
id=$(cid force)
check "ctr run -d (second task)" ctrc run -d "${CTR_RUN_FLAGS[@]}" "$IMG" "$id" sleep "$LONG_SLEEP"
wait_until ctr_task_status_is "$id" RUNNING
check "ctr task delete --force of a running task" ctrc task delete --force "$id"
check "ctr container delete (second task)" ctrc container delete "$id"

# nothing left
is "$(ctrc container ls -q 2>/dev/null | wc -l)" 0 "ctr container ls: no containers left"
shims=$(pgrep -f "containerd-shim.*-address $CTRD_SOCK" | wc -l)
is "$shims" 0 "no containerd-shim left while containerd still runs"
containerd_stop
assert_no_new_processes "no containerd, shim, runtime or container processes left"
