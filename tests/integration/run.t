#!/bin/bash
# veil run: a container in a real microVM (QEMU + guest kernel + veil-agent).
source "$(dirname "$0")/lib.sh"
write_config
B="$TEST_TMP/bundle"

make_bundle "$B" echo hello from the guest
out=$(veil run --bundle "$B" "$(cid echo)" 2>"$TEST_TMP/err"); rc=$?
is "$out" "hello from the guest" "echo output reaches stdout"
is "$rc" 0 "exit code 0"
assert_no_leftovers "$(cid echo)" "a successful run"

for code in 7 0; do
	make_bundle "$B" sh -c "exit $code"
	veil run --bundle "$B" "$(cid exit$code)" >/dev/null 2>&1
	is "$?" "$code" "exit code $code is returned"
done

# The init of a pid namespace is immune to SIGKILL from inside it, so this one runs without its own.
make_bundle "$B" sh -c 'kill -9 $$'
edit_spec "$B" '.linux.namespaces |= map(select(.type != "pid"))'
veil run --bundle "$B" "$(cid kill)" >/dev/null 2>&1
is "$?" 137 "a process killed by SIGKILL gives 137"

make_bundle "$B" sh -c 'echo "$FOO|$(pwd)|$(id -u):$(id -g)|$(id -G)"; echo to-stderr >&2'
edit_spec "$B" '.process.env += ["FOO=bar baz"] | .process.cwd = "/tmp" | .process.user = {uid: 1000, gid: 1000, additionalGids: [65534]}'
out=$(veil run --bundle "$B" "$(cid env)" 2>"$TEST_TMP/err")
is "$out" "bar baz|/tmp|1000:1000|1000 65534" "env, cwd, uid, gid and additional gids apply"
is "$(cat "$TEST_TMP/err")" "to-stderr" "stderr is kept apart from stdout"

make_bundle "$B" sh -c 'hostname; cat /proc/1/cmdline | tr "\0" " "; echo; ls /proc/1/root >/dev/null && echo procfs'
edit_spec "$B" '.hostname = "veil-box"'
out=$(veil run --bundle "$B" "$(cid ns)" 2>/dev/null)
is "$out" "veil-box
sh -c hostname; cat /proc/1/cmdline | tr \"\\0\" \" \"; echo; ls /proc/1/root >/dev/null && echo procfs 
procfs" "hostname is set and the process is pid 1 of its own pid namespace"

make_bundle "$B" sh -c 'echo data > /written && cat /written && touch /etc/new-file && echo writable'
edit_spec "$B" '.root.readonly = false'
out=$(veil run --bundle "$B" "$(cid rw)" 2>/dev/null)
is "$out" "data
writable" "the rootfs has a writable layer in the guest (root.readonly = false)"
edit_spec "$B" '.root.readonly = true'
veil run --bundle "$B" "$(cid ro)" >/dev/null 2>&1
ok "$([ $? -ne 0 ]; echo $?)" "root.readonly = true makes the rootfs read-only"

make_bundle "$B" cat
out=$(printf 'line one\nline two\n' | veil run --bundle "$B" "$(cid stdin)" 2>/dev/null)
is "$out" "line one
line two" "stdin is piped in"

head -c $((10 * 1024 * 1024)) /dev/urandom >"$TEST_TMP/big.in"
veil run --bundle "$B" "$(cid big)" <"$TEST_TMP/big.in" >"$TEST_TMP/big.out" 2>/dev/null
cmp -s "$TEST_TMP/big.in" "$TEST_TMP/big.out"
ok $? "10 MiB through stdin and stdout arrive intact"

make_bundle "$B" sh -c 'seq 1 1500000'
veil run --bundle "$B" "$(cid seq)" 2>/dev/null | sha256sum >"$TEST_TMP/seq.guest"
seq 1 1500000 | sha256sum >"$TEST_TMP/seq.host"
cmp -s "$TEST_TMP/seq.guest" "$TEST_TMP/seq.host"
ok $? "10.9 MB of output generated in the guest arrive intact"

make_bundle "$B" sh -c 'echo "I am $0"' 
pids=()
for i in 1 2 3 4; do
	edit_spec "$B" ".process.args = [\"sh\", \"-c\", \"echo container $i\"]"
	cp -r "$B" "$TEST_TMP/b$i"
	veil run --bundle "$TEST_TMP/b$i" "$(cid par$i)" >"$TEST_TMP/par$i.out" 2>&1 &
	pids+=($!)
done
failed=0
for i in 1 2 3 4; do
	wait "${pids[$((i - 1))]}" || failed=1
	[ "$(cat "$TEST_TMP/par$i.out")" = "container $i" ] || failed=1
done
ok $failed "4 containers run at once, each with its own output"
for i in 1 2 3 4; do [ -e "$STATE/$(cid par$i)" ] && failed=1; done
ok $failed "the 4 parallel containers leave no state behind"

make_bundle "$B" sh -c 'trap "echo got TERM; exit 42" TERM; echo ready; while true; do sleep 0.1; done'
"${VEIL[@]}" run --bundle "$B" "$(cid sig)" >"$TEST_TMP/sig.out" 2>&1 &
pid=$!
for _ in $(seq 1 600); do grep -q ready "$TEST_TMP/sig.out" 2>/dev/null && break; sleep 0.1; done
kill -TERM "$pid"
wait "$pid"; rc=$?
is "$rc" 42 "SIGTERM to veil run is forwarded to the container"
grep -q "got TERM" "$TEST_TMP/sig.out"
ok $? "the container's trap ran"
assert_no_leftovers "$(cid sig)" "a signalled run"
