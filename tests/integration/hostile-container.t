#!/bin/bash
# A hostile container against the processes the agent starts in it: while the
# agent sets up an exec, the container's init watches /proc for the new
# process and tries to reach the guest through its root and fd links.
source "$(dirname "$0")/lib.sh"
write_config
B="$TEST_TMP/bundle"
HELPER="$TEST_TMP/guest-helper"
gcc -static -O2 -o "$HELPER" "$REPO/tests/integration/guest-helper.c"
ok $? "the guest helper builds"

make_bundle "$B" /bin/guest-helper watch /tmp/race.log
cp "$HELPER" "$B/rootfs/bin/guest-helper"
edit_spec "$B" '.root.readonly = false'
ID=$(cid race)
"${VEIL[@]}" run --detach --bundle "$B" "$ID" >/dev/null 2>&1
ok $? "a container whose init watches /proc runs"
execs=0
for _ in $(seq 1 10); do
	veil exec "$ID" sh -c 'exit 0' && execs=$((execs + 1))
done
is "$execs" 10 "ten execs into it succeed"
log=$(veil exec "$ID" cat /tmp/race.log)
seen=$(grep -c '^seen' <<<"$log")
ok "$([ "$seen" -ge 10 ]; echo $?)" "the watcher saw the exec'd processes ($seen new pids): it was watching"
escapes=$(grep '^escape' <<<"$log")
is "$escapes" "" "no exec'd process exposed the guest's root or an agent fd"
veil delete --force "$ID"
assert_no_leftovers "$ID" "the watched container"
