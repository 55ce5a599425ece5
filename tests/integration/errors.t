#!/bin/bash
# Bad input to veil run: one-line error naming the cause, non-zero exit, nothing left behind.
source "$(dirname "$0")/lib.sh"
write_config
B="$TEST_TMP/bundle"
make_bundle "$B" true

# expect_failure NAME PATTERN ID VEIL_ARGS... : fails, with one stderr line matching PATTERN.
expect_failure() {
	local name=$1 pattern=$2 id=$3
	shift 3
	"$@" >/dev/null 2>"$TEST_TMP/err"
	local rc=$?
	ok "$([ $rc -ne 0 ]; echo $?)" "$name: non-zero exit ($rc)"
	local lines
	lines=$(wc -l <"$TEST_TMP/err")
	if [ "$lines" -eq 1 ] && grep -qE "$pattern" "$TEST_TMP/err"; then
		ok 0 "$name: one-line error names the cause"
	else
		ok 1 "$name: one-line error names the cause"
		sed 's/^/#   stderr: /' "$TEST_TMP/err"
	fi
	assert_no_leftovers "$id" "$name"
}

expect_failure "missing bundle" "bundle.*(no such|No such|does not exist)" "$(cid nobundle)" \
	veil run --bundle "$TEST_TMP/does-not-exist" "$(cid nobundle)"

mkdir -p "$TEST_TMP/noconfig/rootfs"
expect_failure "bundle without config.json" "config.json" "$(cid nocfg)" \
	veil run --bundle "$TEST_TMP/noconfig" "$(cid nocfg)"

cp -r "$B" "$TEST_TMP/badjson" && echo '{"ociVersion": "1.0.2", "process": ' >"$TEST_TMP/badjson/config.json"
expect_failure "invalid config.json" "config.json.*(invalid|JSON)" "$(cid badjson)" \
	veil run --bundle "$TEST_TMP/badjson" "$(cid badjson)"

cp -r "$B" "$TEST_TMP/noargs" && edit_spec "$TEST_TMP/noargs" '.process.args = []'
expect_failure "config.json with empty process.args" "process.args" "$(cid noargs)" \
	veil run --bundle "$TEST_TMP/noargs" "$(cid noargs)"

expect_failure "invalid container id" "invalid container id" "bad id" veil run --bundle "$B" "../bad"

# create, run and exec share one option table: --preserve-fds is taken (and
# refused above 0) by all three alike; taken, 0 leads on to the next error.
for verb in create run exec; do
	expect_failure "$verb --preserve-fds 1" "$verb: --preserve-fds is not supported" "$(cid pfds$verb)" \
		veil "$verb" --preserve-fds 1 "$(cid pfds$verb)" true
done
for verb in create run; do
	expect_failure "$verb --preserve-fds 0 is accepted" "bundle.*(no such|No such)" "$(cid pfd0$verb)" \
		veil "$verb" --preserve-fds 0 --bundle "$TEST_TMP/does-not-exist" "$(cid pfd0$verb)"
done
expect_failure "exec --preserve-fds 0 is accepted" "container does not exist" "$(cid pfd0exec)" \
	veil exec --preserve-fds 0 "$(cid pfd0exec)" true

printf '[hypervisor.qemu]\nkernel = "/x"\ndefault_memory = "lots"\n' >"$TEST_TMP/bad.toml"
expect_failure "invalid TOML" "bad.toml:3:" "$(cid badtoml)" \
	"$VEIL_BIN" --config "$TEST_TMP/bad.toml" run --bundle "$B" "$(cid badtoml)"

expect_failure "missing --config file" "does not exist|No such" "$(cid nocfgfile)" \
	"$VEIL_BIN" --config "$TEST_TMP/none.toml" run --bundle "$B" "$(cid nocfgfile)"

CONF_PATH="$TEST_TMP/nokernel.toml" write_config
sed -i "s|^kernel = .*|kernel = \"$TEST_TMP/no-such-vmlinux\"|" "$TEST_TMP/nokernel.toml"
expect_failure "missing kernel" "kernel.*no-such-vmlinux" "$(cid nokernel)" \
	"$VEIL_BIN" --config "$TEST_TMP/nokernel.toml" run --bundle "$B" "$(cid nokernel)"

CONF_PATH="$TEST_TMP/badqemu.toml" write_config 'machine_type = "no-such-machine"'
expect_failure "QEMU failing to start" "QEMU failed to start" "$(cid badqemu)" \
	"$VEIL_BIN" --config "$TEST_TMP/badqemu.toml" run --bundle "$B" "$(cid badqemu)"

# An initramfs whose /init never speaks the protocol: the agent never reports ready.
mkdir -p "$TEST_TMP/hang" && cp /bin/busybox "$TEST_TMP/hang/init"
(cd "$TEST_TMP/hang" && echo init | cpio -o -H newc 2>/dev/null | gzip) >"$TEST_TMP/hang.img"
CONF_PATH="$TEST_TMP/hang.toml" DIAL_TIMEOUT=3 write_config
sed -i "s|^initrd = .*|initrd = \"$TEST_TMP/hang.img\"|" "$TEST_TMP/hang.toml"
expect_failure "guest never ready" "never reported ready.*dial_timeout" "$(cid hang)" \
	"$VEIL_BIN" --config "$TEST_TMP/hang.toml" run --bundle "$B" "$(cid hang)"

make_bundle "$B" no-such-binary
expect_failure "missing executable in the image" "no-such-binary" "$(cid noexec)" \
	veil run --bundle "$B" "$(cid noexec)"

# A duplicate ID must not disturb the container that owns it.
mkdir -p "$STATE/$(cid dup)"
veil run --bundle "$B" "$(cid dup)" >/dev/null 2>"$TEST_TMP/err"
ok "$([ $? -ne 0 ] && grep -q 'exists' "$TEST_TMP/err"; echo $?)" "a duplicate ID is refused"
ok "$([ -d "$STATE/$(cid dup)" ]; echo $?)" "the existing container's state is kept"
rmdir "$STATE/$(cid dup)"

# Interrupting veil run while the VM boots still cleans up.
make_bundle "$B" true
"${VEIL[@]}" run --bundle "$B" "$(cid intr)" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 100); do pgrep -f "qemu-system.*-name veil-$(cid intr)" >/dev/null && break; sleep 0.05; done
kill -INT "$pid"
wait "$pid"
ok "$([ $? -ne 0 ]; echo $?)" "SIGINT during boot fails the run"
assert_no_leftovers "$(cid intr)" "SIGINT during boot"
