#!/bin/bash
# podman (through conmon) drives the runtime under test: run, exec, stop, kill,
# pause/unpause, rm -f. A private podman: its own root, runroot, tmpdir and
# containers.conf; a local busybox image, no registry.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/clients.sh"
select_runtime
require_tools podman conmon
podman_setup
IMG=localhost/veil-it-busybox
E="$TEST_TMP/err"

check "podman import of a busybox rootfs" podman_import_busybox "$IMG" || exit 1

# run: output and exit code
out=$(pm run --rm --network none "$IMG" sh -c 'echo hi; exit 3' 2>"$E"); rc=$?
is "$out" "hi" "podman run: output reaches stdout"
is "$rc" 3 "podman run: the container's exit code (3) is podman's"
[ "$rc" = 3 ] || diag "$E"

out=$(pm run --rm --network none "$IMG" sh -c 'echo out; echo err >&2' 2>"$E")
is "$out|$(cat "$E")" "out|err" "podman run: stdout and stderr are kept apart"

out=$(pm run --rm --network none -e VAR=x "$IMG" sh -c 'echo "$VAR"' 2>"$E")
is "$out" "x" "podman run -e VAR=x"

out=$(pm run --rm --network none -w /tmp "$IMG" pwd 2>"$E")
is "$out" "/tmp" "podman run -w /tmp"

out=$(pm run --rm --network none -u 1000 "$IMG" id -u 2>"$E")
is "$out" "1000" "podman run -u 1000"

out=$(printf 'line one\nline two\n' | pm run --rm --network none -i "$IMG" cat 2>"$E")
is "$out" "line one
line two" "podman run -i: stdin is piped in"

out=$(in_tty "${PM[@]}" run --rm --network none -t "$IMG" sh -c 'tty; [ -t 0 ] && [ -t 1 ] && echo both-tty; exit 6'); rc=$?
is "$out" "/dev/pts/0
both-tty" "podman run -t: the container's stdin and stdout are /dev/pts/0"
is "$rc" 6 "podman run -t: exit code (6)"

# exec into a running, detached container
id=$(pm run -d --network none "$IMG" sleep "$LONG_SLEEP" 2>"$E")
check "podman run -d: container is running" wait_until podman_status_is "$id" running || diag "$E"
pm exec "$id" sh -c 'exit 5' >/dev/null 2>"$E"
is "$?" 5 "podman exec: exit code (5)"
out=$(pm exec "$id" echo x 2>"$E")
is "$out" "x" "podman exec: output"
out=$(pm exec -e FOO=bar -w /tmp -u 1000 "$id" sh -c 'echo "$FOO $(pwd) $(id -u)"' 2>"$E")
is "$out" "bar /tmp 1000" "podman exec -e -w -u"
out=$(echo piped | pm exec -i "$id" cat 2>"$E")
is "$out" "piped" "podman exec -i: stdin is piped in"
out=$(in_tty "${PM[@]}" exec -t "$id" tty); rc=$?
ok "$([[ $out =~ ^/dev/pts/[0-9]+$ ]] && [ "$rc" = 0 ]; echo $?)" "podman exec -t: a terminal ($out)"
out=$(pm exec "$id" sh -c 'ps -o pid,args | grep -c "[s]leep $0"' "$LONG_SLEEP" 2>"$E")
is "$out" 1 "podman exec: runs in the container's pid namespace (sees its init)"

# pause / unpause
check "podman pause" pm pause "$id"
is "$(podman_status "$id")" paused "podman inspect: paused"
check "podman unpause" pm unpause "$id"
is "$(podman_status "$id")" running "podman inspect: running again"
out=$(pm exec "$id" echo after-unpause 2>"$E")
is "$out" "after-unpause" "podman exec after unpause"

# rm -f of a running container
check "podman rm -f of a running container" pm rm -f "$id"
ok "$(pm container exists "$id"; [ $? -eq 1 ]; echo $?)" "podman rm -f: the container is gone"

# stop: SIGTERM, then SIGKILL after the timeout
id=$(pm run -d --network none "$IMG" sh -c "trap 'echo got TERM; exit 42' TERM; echo ready; while :; do sleep 0.1; done" 2>"$E")
wait_until podman_logs_have "$id" ready
check "podman stop of a container that handles SIGTERM" pm stop -t 30 "$id"
is "$(pm inspect --format '{{.State.ExitCode}}' "$id")" 42 "podman stop: SIGTERM reaches the trap (exit code 42)"
pm rm "$id" >/dev/null 2>&1

id=$(pm run -d --network none "$IMG" sh -c "trap '' TERM; echo ready; while :; do sleep 0.1; done" 2>"$E")
wait_until podman_logs_have "$id" ready
check "podman stop -t $STOP_TIMEOUT of a container that ignores SIGTERM" pm stop -t "$STOP_TIMEOUT" "$id"
is "$(pm inspect --format '{{.State.ExitCode}}' "$id")" 137 "podman stop: SIGKILL after the timeout (exit code 137)"
is "$(podman_status "$id")" exited "podman stop: the container has exited"
pm rm "$id" >/dev/null 2>&1

# kill -s USR1
id=$(pm run -d --network none "$IMG" sh -c "trap 'echo got USR1' USR1; echo ready; while :; do sleep 0.1; done" 2>"$E")
wait_until podman_logs_have "$id" ready
check "podman kill -s USR1" pm kill -s USR1 "$id"
check "podman kill -s USR1: the container's trap ran" \
	wait_until podman_logs_have "$id" 'got USR1'
is "$(podman_status "$id")" running "podman kill -s USR1: the container is still running"
check "podman kill (SIGKILL)" pm kill "$id"
check "podman kill: the container has exited" wait_until podman_status_is "$id" exited
is "$(pm inspect --format '{{.State.ExitCode}}' "$id")" 137 "podman kill: exit code 137"
check "podman rm of an exited container" pm rm "$id"

# nothing left
is "$(pm ps -aq | wc -l)" 0 "podman ps -a: no containers left"
assert_no_new_processes "no conmon, runtime or container processes left"
