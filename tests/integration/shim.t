#!/bin/bash
# containerd-shim-veil-v2 under a private containerd, driven by ctr: run with
# exit codes, -t, exec with and without -t, kill, pause/resume, ps, metrics,
# events, delete and delete --force, stdio to a file and to a logging
# binary, an exec whose child keeps stdout open, OOM, containerd restarted
# under a running task, and the shim or QEMU killed. Each container without
# CRI's annotations gets its own microVM.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/clients.sh"
require_tools containerd ctr umoci
IMG=localhost/veil-it-busybox:latest
E="$TEST_TMP/err"
shim_setup
RT=(--runtime "$SHIM_RUNTIME")
# nothing_left ID NAME : once the shim's last moments have passed, nothing of ID.
nothing_left() {
	wait_until shim_gone "$1"
	is "$(shim_leftovers "$1")" "" "$2"
}

check "containerd starts with containerd-shim-veil-v2 on its PATH" containerd_start || {
	diag "$CTRD_DIR/containerd.log"
	exit 1
}
check "ctr image import of an OCI image made with umoci" containerd_import_busybox "$IMG" || exit 1
ctrc events >"$TEST_TMP/events" 2>&1 {_tap_out}>&- {_tap_err}>&- &
EVENTS=$!
on_exit "kill $EVENTS"

# run: output and exit code
id=$(cid exit)
out=$(ctrc run --rm "${RT[@]}" "$IMG" "$id" sh -c 'echo out; echo err >&2; exit 4' 2>"$E" </dev/null); rc=$?
is "$out|$(grep -v level= "$E")" "out|err" "ctr run --runtime $SHIM_RUNTIME: stdout and stderr"
is "$rc" 4 "ctr run: the container's exit code (4) is ctr's"
nothing_left "$id" "ctr run --rm leaves no shim, QEMU, socket or state"
check "the shim logs to the bundle's log FIFO, which containerd copies into its log" \
	grep -q "shim for $id in namespace $CTRD_NS serving on " "$CTRD_DIR/containerd.log"

# a tty
out=$(in_tty "${CTR[@]}" run --rm -t "${RT[@]}" "$IMG" "$(cid tty)" sh -c 'tty; [ -t 0 ] && [ -t 1 ] && echo both-tty; exit 6'); rc=$?
is "$out" "/dev/pts/0
both-tty" "ctr run -t: the container's stdin and stdout are a terminal"
is "$rc" 6 "ctr run -t: exit code (6)"

# stdio to a file and to a logging binary (containerd's file:// and binary://)
out=$(ctrc run --rm "${RT[@]}" --log-uri "file://$TEST_TMP/logs/file.log" "$IMG" "$(cid file)" sh -c 'echo to-file; echo err-to-file >&2' 2>"$E" </dev/null)
is "$(sort "$TEST_TMP/logs/file.log" 2>/dev/null | tr '\n' ' ')" "err-to-file to-file " "--log-uri file://: stdout and stderr in the file"
cat >"$TEST_TMP/logger" <<EOF
#!/bin/sh
# containerd's binary:// protocol: stdout on fd 3, stderr on fd 4, ready once fd 5 closes.
exec 5>&-
{ echo "id=\$CONTAINER_ID ns=\$CONTAINER_NAMESPACE args=\$*"; cat <&3; } >"$TEST_TMP/logs/binary.out" &
cat <&4 >"$TEST_TMP/logs/binary.err"
wait
EOF
chmod +x "$TEST_TMP/logger"
id=$(cid binary)
ctrc run --rm "${RT[@]}" --log-uri "binary://$TEST_TMP/logger?k=v" "$IMG" "$id" sh -c 'echo to-logger; echo err-to-logger >&2' >/dev/null 2>"$E" </dev/null
wait_until grep -q to-logger "$TEST_TMP/logs/binary.out"
is "$(cat "$TEST_TMP/logs/binary.out" 2>/dev/null | tr '\n' ' ')|$(cat "$TEST_TMP/logs/binary.err" 2>/dev/null)" \
	"id=$id ns=$CTRD_NS args=k v to-logger |err-to-logger" "--log-uri binary://: the logger gets both streams, its ID, namespace and arguments"

# a detached task: exec, ps, metrics, pause/resume, kill, delete
id=$(cid task)
check "ctr run -d" ctrc run -d "${RT[@]}" "$IMG" "$id" sleep "$LONG_SLEEP"
check "ctr task ls: RUNNING" wait_until ctr_task_status_is "$id" RUNNING
ctrc task exec --exec-id e1 "$id" sh -c 'exit 5' >/dev/null 2>"$E"
is "$?" 5 "ctr task exec: exit code (5)"
out=$(ctrc task exec --exec-id e2 "$id" sh -c 'echo x; ps -o pid,args | grep -c "[s]leep $0"' "$LONG_SLEEP" 2>"$E")
is "$out" "x
1" "ctr task exec: output, in the container's pid namespace (it sees the init)"
out=$(in_tty "${CTR[@]}" task exec -t --exec-id e3 "$id" tty); rc=$?
out=$(echo "$out" | head -n 1)
ok "$([[ $out =~ ^/dev/pts/[0-9]+$ ]] && [ "$rc" = 0 ]; echo $?)" "ctr task exec -t: a terminal ($out)"
# Kata #3913: the exit is reported although a child still holds stdout.
out=$(ctrc task exec --exec-id e4 "$id" sh -c "sleep $LONG_SLEEP & echo started; exit 3" 2>"$E"); rc=$?
is "$out|$rc" "started|3" "ctr task exec: the exit is reported while a background child keeps stdout open"
pid=$(ctrc task ls 2>/dev/null | awk -v id="$id" '$1 == id {print $2}')
ctrc task ps "$id" >"$TEST_TMP/ps.out" 2>"$E"
ok "$(awk 'NR > 1 {print $1}' "$TEST_TMP/ps.out" | grep -qx "$pid" && pgrep -f "qemu-system.*-name veil-$id," | grep -qx "$pid"; echo $?)" \
	"ctr task ps: the task's pid is its VM's QEMU ($pid)"
ctrc task metrics "$id" >"$TEST_TMP/metrics" 2>"$E"
ok "$(grep -Eq '^memory.usage +[1-9]' "$TEST_TMP/metrics" && grep -Eq '^pids.current +[1-9]' "$TEST_TMP/metrics"; echo $?)" \
	"ctr task metrics: the guest cgroup's figures (memory.usage, pids.current)"
check "ctr task pause" ctrc task pause "$id"
is "$(ctr_task_status "$id")" PAUSED "ctr task ls: PAUSED"
check "ctr task resume" ctrc task resume "$id"
is "$(ctr_task_status "$id")" RUNNING "ctr task ls: RUNNING again"
check "ctr task kill -s SIGKILL" ctrc task kill -s SIGKILL "$id"
check "ctr task ls: STOPPED" wait_until ctr_task_status_is "$id" STOPPED
check "ctr task delete" ctrc task delete "$id"
ok "$(ctrc task ls -q 2>/dev/null | grep -qx "$id"; [ $? -eq 1 ]; echo $?)" "ctr task ls: the task is gone"
check "ctr container delete" ctrc container delete "$id"
nothing_left "$id" "the task's shim, QEMU, socket and state are gone"

# a running task removed with delete --force
id=$(cid force)
check "ctr run -d (second task)" ctrc run -d "${RT[@]}" "$IMG" "$id" sleep "$LONG_SLEEP"
wait_until ctr_task_status_is "$id" RUNNING
check "ctr task delete --force of a running task" ctrc task delete --force "$id"
check "ctr container delete (second task)" ctrc container delete "$id"
nothing_left "$id" "delete --force leaves nothing of it"

# OOM in the guest: TaskOOM, and the process's exit (137)
id=$(cid oom)
ctrc run --rm "${RT[@]}" --memory-limit 33554432 "$IMG" "$id" sh -c 'x=$(yes xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx | head -c 200000000); echo survived' >"$TEST_TMP/oom.out" 2>"$E" </dev/null
is "$?|$(cat "$TEST_TMP/oom.out")" "137|" "a container over its memory limit is killed (137)"
check "ctr events: /tasks/oom for it" wait_until grep -q "/tasks/oom {\"container_id\":\"$id\"}" "$TEST_TMP/events"

# containerd restarts while a task runs: the shim is reconnected
id=$(cid restart)
check "ctr run -d (before containerd restarts)" ctrc run -d "${RT[@]}" "$IMG" "$id" sleep "$LONG_SLEEP"
wait_until ctr_task_status_is "$id" RUNNING
kill "$EVENTS"
containerd_stop
check "containerd starts again" containerd_start
ctrc events >>"$TEST_TMP/events" 2>&1 {_tap_out}>&- {_tap_err}>&- &
EVENTS=$!
is "$(ctr_task_status "$id")" RUNNING "after the restart the task is still listed, RUNNING"
out=$(ctrc task exec --exec-id r1 "$id" echo still-here 2>"$E")
is "$out" still-here "and serves exec"
check "ctr task kill after the restart" ctrc task kill -s SIGKILL "$id"
check "ctr task ls: STOPPED" wait_until ctr_task_status_is "$id" STOPPED
check "ctr task delete after the restart" ctrc task delete "$id"
ctrc container delete "$id" >/dev/null 2>&1
nothing_left "$id" "nothing of it is left"

# the shim killed with -9: containerd's delete path leaves nothing
id=$(cid shimkill)
check "ctr run -d (its shim to be killed)" ctrc run -d "${RT[@]}" "$IMG" "$id" sleep "$LONG_SLEEP"
wait_until ctr_task_status_is "$id" RUNNING
shim=$(pgrep -f "containerd-shim-veil-v2 .*-id $id ")
kill -9 $shim
# containerd cleans up after a dead shim (its delete, run in the bundle),
# then publishes the task's exit. A task deleted before that would lose its
# bundle first and the clean-up could not run: with any shim, runc's too.
# (The pid is 0, so ctr leaves it out: the shim that knew it is gone.)
check "containerd's clean-up after the dead shim: /tasks/exit (137)" wait_until \
	grep -Eq "/tasks/exit \\{\"container_id\":\"$id\",\"id\":\"$id\",(\"pid\":[0-9]+,)?\"exit_status\":137" "$TEST_TMP/events"
not_running() { ! ctrc task ls 2>/dev/null | grep -q "^$1 .*RUNNING"; }
check "ctr task ls: the task is gone or STOPPED once its shim died" wait_until not_running "$id"
ctrc task delete "$id" >/dev/null 2>&1
ctrc container delete "$id" >/dev/null 2>&1
nothing_left "$id" "a shim killed with -9 leaves no QEMU, socket or state"

# QEMU killed with -9: the task exits with 128+9
id=$(cid vmkill)
check "ctr run -d (its VM to be killed)" ctrc run -d "${RT[@]}" "$IMG" "$id" sleep "$LONG_SLEEP"
wait_until ctr_task_status_is "$id" RUNNING
pkill -9 -f "qemu-system.*-name veil-$id,"
check "ctr task ls: STOPPED once its VM died" wait_until ctr_task_status_is "$id" STOPPED
check "ctr events: its exit status is 137" grep -q "/tasks/exit {\"container_id\":\"$id\",\"id\":\"$id\",\"pid\":[0-9]*,\"exit_status\":137" "$TEST_TMP/events"
check "ctr task delete of the task whose VM died" ctrc task delete "$id"
ctrc container delete "$id" >/dev/null 2>&1
nothing_left "$id" "nothing of it is left"

# CloseIO right after stdin was written: all of it reaches the process first
# (Kata #439). ctr cannot time that, so containerd's calls are made by hand.
make_bundle "$TEST_TMP/drain" wc -c
mkdir -p "$TEST_TMP/drain-fifos"
addr=$(cd "$TEST_TMP/drain" && "$VEIL_BUILD/containerd-shim-veil-v2" -namespace veil-it-raw -address "$TEST_TMP/raw.sock" \
	-id drain start 2>"$E" {_tap_out}>&- {_tap_err}>&-)
is "$addr" "unix://$(CTRD_SOCK=$TEST_TMP/raw.sock CTRD_NS=veil-it-raw shim_socket drain)" \
	"start prints the address of a new shim, named as containerd's shims are"
out=$(timeout 300 /usr/bin/python3 "$(dirname "$0")/shimwire.py" stdin-drain "${addr#unix://}" "$TEST_TMP/drain" \
	"$TEST_TMP/drain-fifos" 300000 2>"$E")
is "$out" "300000|0" "CloseIO right after 300000 bytes of stdin: the process reads them all first"
check "the shim exits after Shutdown, and removes its socket" wait_until test ! -e "${addr#unix://}"

# the events containerd got from the shims
for topic in create start exit delete exec-added exec-started paused resumed; do
	grep -q "/tasks/$topic {" "$TEST_TMP/events"
	ok $? "ctr events: /tasks/$topic"
done

# nothing left
is "$(ctrc container ls -q 2>/dev/null | wc -l)" 0 "ctr container ls: no containers left"
is "$(pgrep -f "containerd-shim-veil-v2 .*-address $CTRD_SOCK" | wc -l)" 0 "no shim left while containerd still runs"
ok "$([ ! -e "$STATE/containerd" ]; echo $?)" "no pod state left ($STATE/containerd)"
kill "$EVENTS"
containerd_stop
assert_no_new_processes "no containerd, shim, QEMU or container processes left"
