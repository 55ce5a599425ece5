#!/bin/bash
# Reset between tenants, in both modes ([runtime] reset = "clone" | "scrub"):
# tenant A leaves a secret in its writable layer, its environment and its
# heap; after the reset the host dumps the guest's memory and the secret must
# be gone, and tenant B must see none of A's files or processes.
source "$(dirname "$0")/lib.sh"
write_config
SOCK="$TEST_TMP/cache.sock"
TMPL="$TEST_TMP/template"
LOG="$TEST_TMP/veil.log"
factory_config 1 "$TMPL"
MEMSEARCH="$REPO/tests/integration/memsearch.py"
V=("$VEIL_BIN" --config "$CONF" --log "$LOG")
factory() { "${V[@]}" factory "$@"; }
finish() {
	factory destroy >/dev/null 2>&1
	cleanup_test_tmp
}
trap finish EXIT

pool_full() { [ -n "$(pooled_pids)" ]; }
scrubs_of() { status_json | jq -r --argjson p "$1" '[.vms[]? | select(.qemu_pid == $p and .state == "paused") | .scrubs] | first // "none"'; }

# Tenant A writes its secret (from its environment) to a file in its
# writable layer and keeps a copy in a shell variable, on the heap. It also
# leaves a System V shared memory segment in the guest's own IPC namespace,
# whose key (another secret) the agent reads from /proc/sysvipc when it scrubs.
make_bundle "$TEST_TMP/a" sh -c 'guest-helper shm "$SHM_KEY"; echo "$SECRET" >/secret.txt; kept="$(cat /secret.txt)"; echo ready; sleep 100000; echo "$kept"'
gcc -static -O2 -o "$TEST_TMP/a/rootfs/bin/guest-helper" "$REPO/tests/integration/guest-helper.c"
# Tenant B looks for A's traces: files, processes (in the guest's own pid
# namespace), environment.
make_bundle "$TEST_TMP/b" sh -c 'cat /secret.txt 2>&1; ps -o pid,args; env'
edit_spec "$TEST_TMP/a" '.root.readonly = false | .linux.namespaces |= map(select(.type != "ipc"))'
edit_spec "$TEST_TMP/b" '.root.readonly = false | .linux.namespaces |= map(select(.type != "pid"))'

leak_test() { # leak_test MODE
	local mode=$1 secret qemu after dump counts id_a id_b
	sed -i '/^reset = /d' "$CONF"
	sed -i "s|^state_dir = .*|&\nreset = \"$mode\"|" "$CONF"
	secret=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
	# Ten digits, as /proc/sysvipc/shm prints a key.
	key=$((1000000000 + $(od -An -N4 -tu4 /dev/urandom) % 1000000000))
	edit_spec "$TEST_TMP/a" "(.process.env |= map(select((startswith(\"SECRET=\") or startswith(\"SHM_KEY=\")) | not))) |
		.process.env += [\"SECRET=$secret\", \"SHM_KEY=$key\"]"
	id_a=$(cid "a-$mode")
	id_b=$(cid "b-$mode")

	factory init --detach >/dev/null && poll_until 180 pool_full
	ok $? "$mode: the factory pools a clone"
	qemu=$(pooled_pids)
	# The clone ran the warm-up container and was scrubbed, as a tenant's VM
	# is ([factory] warm_up): A is served by a warmed VM, and the warm-up is
	# not counted as a tenant.
	is "$(status_json | jq -c '[.vms[] | [.warmed, .scrubs]]')" '[[true,0]]' "$mode: the pooled clone is warmed up, with no tenant counted"
	"${V[@]}" run --detach --bundle "$TEST_TMP/a" "$id_a" >/dev/null 2>&1
	poll_until 30 gone_from_pool "$qemu" && poll_until 30 secret_written "$id_a" "$secret"
	ok $? "$mode: tenant A runs on the pooled VM and wrote its secret"

	# Positive control: while A runs, its VM's RAM (QEMU's private mapping of
	# the template's memory) holds the secret, so the search can find it.
	counts=$("$MEMSEARCH" "pid:$qemu:$TMPL/memory" "$secret" "$key")
	[ "${counts%% *}" -ge 1 ] && [ "${counts##* }" -ge 1 ]
	ok $? "$mode: while A runs, its secret and shm key are in its guest's memory ($counts copies): the search works"

	"${V[@]}" kill "$id_a" KILL
	poll_until 60 stopped "$id_a" && "${V[@]}" delete "$id_a"
	ok $? "$mode: tenant A is killed and deleted"
	if [ "$mode" = scrub ]; then
		after=$qemu
		poll_until 60 scrubbed_once "$qemu"
		ok $? "scrub: A's VM went back to the pool, scrubbed (QEMU $qemu, scrubs: $(scrubs_of "$qemu"))"
	else
		poll_until 60 gone "$qemu" && poll_until 60 pool_full
		after=$(pooled_pids)
		[ -n "$after" ] && [ "$after" != "$qemu" ]
		ok $? "clone: A's VM is discarded and a fresh clone takes its place (QEMU $qemu -> $after)"
	fi

	dump="$TEST_TMP/dump-$mode.elf"
	factory dump-memory --qemu-pid "$after" "$dump" >/dev/null
	ok $? "$mode: the host dumps the reset VM's memory (dump-guest-memory)"
	# Whole, and in quarters: a copy split across pages still shows.
	counts=$("$MEMSEARCH" "$dump" "$secret" "${secret:0:16}" "${secret:16:16}" "${secret:32:16}" "${secret:48:16}" "$key" "Linux version")
	[ "${counts% *}" = "0 0 0 0 0 0" ] && [ "${counts##* }" -ge 1 ]
	ok $? "$mode: after the reset the secret and the shm key are nowhere in guest memory (counts: $counts; last: the kernel banner, present)"
	rm -f "$dump"

	"${V[@]}" run --bundle "$TEST_TMP/b" "$id_b" >"$TEST_TMP/b.out" 2>&1
	grep -q "can't open '/secret.txt': No such file" "$TEST_TMP/b.out" && ! grep -q "$secret\|sleep 100000" "$TEST_TMP/b.out"
	ok $? "$mode: tenant B sees none of A's files, processes or environment"
	if [ "$mode" = scrub ]; then
		poll_until 60 scrubbed_twice "$qemu"
		ok $? "scrub: B ran on the same VM, which was scrubbed again"
		"${V[@]}" run --bundle "$TEST_TMP/b" "$(cid c-$mode)" >/dev/null 2>&1 && poll_until 60 scrubbed_thrice "$qemu"
		ok $? "scrub: a third tenant runs there too: the devices of earlier tenants were unplugged"
		! ls -l "/proc/$qemu/fd" | grep -q rootfs.erofs
		ok $? "scrub: the pooled VM holds no tenant's rootfs image: its slot was emptied"
	fi
	factory destroy >/dev/null
	[ -z "$(ls -A "$STATE" 2>/dev/null)" ] && gone "$qemu"
	ok $? "$mode: no container state or VM is left"
}
secret_written() { [ "$("${V[@]}" exec "$1" cat /secret.txt 2>/dev/null)" = "$2" ]; }
stopped() { [ "$("${V[@]}" state "$1" 2>/dev/null | jq -r .status)" = stopped ]; }
gone_from_pool() { [[ " $(pooled_pids) " != *" $1 "* ]]; }
scrubbed_once() { [ "$(scrubs_of "$1")" = 1 ]; }
scrubbed_twice() { [ "$(scrubs_of "$1")" = 2 ]; }
scrubbed_thrice() { [ "$(scrubs_of "$1")" = 3 ]; }

leak_test clone
leak_test scrub

# ---- dump-memory's bad input ----
out=$(factory dump-memory "$TEST_TMP/x" 2>&1); rc=$?
[ "$rc" != 0 ] && [[ "$out" == "veil: no factory is running on $SOCK"* ]] && [ ! -e "$TEST_TMP/x" ]
ok $? "dump-memory without a factory fails in one line and leaves no file (got: $out)"
touch "$TEST_TMP/exists"
out=$(factory dump-memory "$TEST_TMP/exists" 2>&1); rc=$?
[ "$rc" != 0 ] && [[ "$out" == *"exists"*"File exists"* ]] && [ ! -s "$TEST_TMP/exists" ]
ok $? "dump-memory never overwrites a file (got: $out)"
out=$(factory dump-memory --qemu-pid abc "$TEST_TMP/y" 2>&1); rc=$?
[ "$rc" != 0 ] && [ ! -e "$TEST_TMP/y" ]
ok $? "dump-memory refuses a bad --qemu-pid"
