#!/bin/bash
# veil factory: the VM cache daemon against real QEMU, on a private endpoint.
source "$(dirname "$0")/lib.sh"
write_config
SOCK="$TEST_TMP/cache.sock"
factory_config 2
LOG="$TEST_TMP/veil.log"
IMG="$TEST_TMP/rootfs.img"
# A rootfs image as veil pads them: the size of a VM's rootfs slot (1 TiB, sparse).
truncate -s 1T "$IMG"
FACTORY=("$VEIL_BIN" --config "$CONF" --log "$LOG" factory)
factory() { "${FACTORY[@]}" "$@"; }

# Every process of this endpoint's instance carries its tag.
TAG=""
instance_procs() { [ -n "$TAG" ] && pgrep -f "cache-$TAG-" | grep -vx "$$"; }
finish() {
	# Claim-test clients of a test that failed half-way hold VMs until told to stop.
	[ -n "${c1:-}${c2:-}" ] && kill -9 ${c1:-} ${c2:-} 2>/dev/null
	factory destroy >/dev/null 2>&1
	[ -n "$TAG" ] && pkill -9 -f "cache-$TAG-" 2>/dev/null
	cleanup_test_tmp
}
trap finish EXIT

pool_full() { [ "$(pooled_count)" = 2 ]; }

# ---- start, status, single instance ----
# Not through the function: $! must be veil's own pid.
"${FACTORY[@]}" init >"$TEST_TMP/init.out" 2>&1 &
DAEMON=$!
poll_until 120 pool_full
ok $? "init boots the pool to vm_cache_number = 2 paused VMs"
first=$(pooled_pids)
TAG=$(tr '\0' '\n' <"/proc/${first%% *}/cmdline" | sed -n 's/^veil-cache-\([0-9a-f]*\)-.*/\1/p')
json=$(status_json)
is "$(jq -r '.running' <<<"$json")|$(jq -r '.pid' <<<"$json")" "true|$DAEMON" "status --json names the daemon"
is "$(jq -r '[.vms[] | (.rss_kib > 0 and .pss_kib > 0 and .vcpus == 1 and .memory_mib == 256)] | all' <<<"$json")" \
	true "each VM reports RSS, PSS, vCPUs and memory"
factory status >"$TEST_TMP/status.txt"
grep -q "^factory pid $DAEMON: 2 of 2 VMs ready" "$TEST_TMP/status.txt" &&
	[ "$(grep -c ' paused ' "$TEST_TMP/status.txt")" = 2 ]
ok $? "status prints the daemon and a line per VM"
is "$(stat -c %a "$SOCK")" 600 "the endpoint is mode 0600"

# ---- warm-up ([factory] warm_up, on by default) ----
# Each pooled VM ran the warm-up container and was scrubbed, which the
# keeper logs with its parts; a warm-up is no tenant, so no scrub is counted.
is "$(status_json | jq -c '[.vms[] | [.warmed, .scrubs]] | unique')" '[[true,0]]' \
	"every pooled VM was warmed up, and its warm-up counts as no tenant's scrub"
warmed_logged() { [ "$(grep -c 'warmed up in [0-9]* ms (containers [0-9]* ms, scrub [0-9]* ms)' "$LOG")" -ge 2 ]; }
warmed_logged
ok $? "the keepers logged each warm-up with its container and its scrub"
held=""
for q in $first; do
	ls -l "/proc/$q/fd" | grep -q warm-up.erofs && held="$held $q"
done
[ -n "$first" ] && [ -z "$held" ]
ok $? "no pooled VM still holds the warm-up image: its rootfs slot was emptied (held by:$held)"
for bad in '"yes"' 1; do
	sed "s/^vm_cache_number = .*/&\nwarm_up = $bad/" "$CONF" >"$TEST_TMP/bad.toml"
	out=$("$VEIL_BIN" --config "$TEST_TMP/bad.toml" factory init 2>&1); rc=$?
	[ "$rc" = 1 ] && [ "$(wc -l <<<"$out")" = 1 ] && [[ "$out" == *"factory.warm_up: expected boolean"* ]]
	ok $? "warm_up = $bad is refused in one line (got: $out)"
done

out=$(factory init 2>&1); rc=$?
is "$rc|$out" "1|veil: factory is already running (pid $DAEMON)" "a second init is refused, naming the running one"
kill -0 "$DAEMON"
ok $? "the first daemon is unaffected"

# ---- claims ----
out=$(factory claim-test --image "$IMG"); rc=$?
claimed=${out#qemu }
[ "$rc" = 0 ] && [[ " $first " == *" $claimed "* ]]
ok $? "a claim hands out one of the pooled VMs (image in its rootfs slot, resumed, agent answered)"
poll_until 10 gone "$claimed"
ok $? "the claimed VM dies with its client"
truncate -s 1M "$TEST_TMP/small.img"
out=$(factory claim-test --image "$TEST_TMP/small.img" 2>&1); rc=$?
[ "$rc" = 1 ] && [ "$out" = "veil: readying the cached VM: rootfs image $TEST_TMP/small.img has 1048576 bytes, not the 1099511627776 of the VM's rootfs slot" ]
ok $? "an image of another size than the slot's is refused in one line (got: $out)"
poll_until 120 pool_full
ok $? "the pool refills to 2 after a claim"
[[ " $(pooled_pids) " != *" $claimed "* ]]
ok $? "the claimed VM is no longer in the pool"

# Two claims at once never get the same VM.
"${FACTORY[@]}" claim-test --image "$IMG" --hold >"$TEST_TMP/c1" 2>&1 &
c1=$!
"${FACTORY[@]}" claim-test --image "$IMG" --hold >"$TEST_TMP/c2" 2>&1 &
c2=$!
poll_until 30 grep -qs qemu "$TEST_TMP/c1" && poll_until 30 grep -qs qemu "$TEST_TMP/c2"
q1=$(awk '{print $2}' "$TEST_TMP/c1")
q2=$(awk '{print $2}' "$TEST_TMP/c2")
[ -n "$q1" ] && [ -n "$q2" ] && [ "$q1" != "$q2" ]
ok $? "two simultaneous claims get two different VMs"
{ kill -9 "$c1"; wait "$c1"; } 2>/dev/null
poll_until 10 gone "$q1"
ok $? "a client killed while holding its VM does not leak it"

factory destroy >/dev/null 2>&1 &
destroyer=$!
poll_until 30 gone "$DAEMON"
wait "$destroyer"
kill -0 "$q2" 2>/dev/null
ok $? "destroy leaves a claimed VM to its client"
kill -TERM "$c2"
wait "$c2"
poll_until 10 gone "$q2"
ok $? "which tears it down when done"
# The last claimed VM's keeper removes the directory as it goes.
nothing_left() { [ -z "$(instance_procs)" ] && [ ! -e "$SOCK" ] && [ ! -e "$SOCK.d" ]; }
poll_until 10 nothing_left
ok $? "destroy leaves no process, socket, lock or file (found: $(instance_procs) $(ls -d "$SOCK"* 2>/dev/null))"
is "$(factory status)" "factory is off" "status says the factory is off"
is "$(status_json)" '{"running":false}' "and so does status --json"
factory destroy >/dev/null
ok $? "destroy without a factory succeeds"

# ---- losses and leftovers ----
factory init --detach --pid-file "$TEST_TMP/factory.pid" >/dev/null
ok $? "init --detach returns once the daemon serves"
DAEMON=$(cat "$TEST_TMP/factory.pid")
is "$(status_json | jq .pid)" "$DAEMON" "the pid file names the daemon"
poll_until 120 pool_full
before=$(pooled_pids)
victim=${before%% *}
kill -9 "$victim"
replaced() { pool_full && [[ " $(pooled_pids) " != *" $victim "* ]]; }
poll_until 120 replaced && [ "$(status_json | jq .failures)" -ge 1 ]
ok $? "a cached QEMU that dies is replaced and counted"
after=$(pooled_pids)

# Garbage: random bytes, wrong JSON, oversize records, silent clients.
/usr/bin/python3 - "$SOCK" <<'PY'
import os, socket, sys
for i in range(200):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(sys.argv[1])
    msg = [os.urandom(300), b'{"op":"claim","shape":{"kernel":7}}', b'{' * 70000, b'[1,2,3]', b''][i % 5]
    try:
        if msg:
            s.send(msg)
    except OSError:
        pass
    s.close()
PY
kill -0 "$DAEMON" && [ "$(pooled_pids)" = "$after" ]
ok $? "a flood of garbage is rejected with the daemon and pool intact"

# Another uid reaching the socket (made reachable on purpose) is turned away by SO_PEERCRED.
chmod 711 "$TEST_TMP"
chmod 666 "$SOCK"
reply=$(setpriv --reuid=65534 --regid=65534 --clear-groups /usr/bin/python3 - "$SOCK" 2>&1 <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(sys.argv[1])
try:
    s.send(b'{"op":"status"}')
    print(s.recv(65536).decode() or "closed")
except OSError as e:
    print("closed", e.errno)
PY
)
chmod 600 "$SOCK"
chmod 700 "$TEST_TMP"
[[ "$reply" == closed* ]] && kill -0 "$DAEMON"
ok $? "a peer of another uid gets nothing and the daemon lives (got: ${reply:0:60})"

# The daemon dies hard while a pooled keeper cannot react (stopped): the next init cleans up.
stuck=$(status_json | jq '.vms[0].keeper_pid')
stuck_qemu=$(status_json | jq '.vms[0].qemu_pid')
kill -STOP "$stuck"
kill_hard "$DAEMON" && [ -S "$SOCK" ] && [ -e "$SOCK.d/lock" ]
ok $? "a daemon killed by SIGKILL leaves its socket and lock behind"
factory init --detach >/dev/null
ok $? "the next init starts despite them"
poll_until 10 gone "$stuck" && poll_until 10 gone "$stuck_qemu"
ok $? "and has killed the stray pooled keeper and its QEMU"
DAEMON=$(status_json | jq .pid)
poll_until 120 pool_full
ok $? "the new daemon fills its pool"

# ---- containers on cached VMs ----
make_bundle "$TEST_TMP/bundle" sh -c 'head -c 32 /dev/urandom | od -An -tx1 | tr -d " \n"; echo; date +%s'
claims=$(status_json | jq .claimed)
veil run --bundle "$TEST_TMP/bundle" "$(cid rng1)" >"$TEST_TMP/rng1" 2>"$TEST_TMP/rng1.err"
rc1=$?
veil run --bundle "$TEST_TMP/bundle" "$(cid rng2)" >"$TEST_TMP/rng2" 2>"$TEST_TMP/rng2.err"
rc2=$?
r1=$(head -n 1 "$TEST_TMP/rng1")
r2=$(head -n 1 "$TEST_TMP/rng2")
[ "$rc1$rc2" = 00 ] && [ "${#r1}" = 64 ] && [ "${#r2}" = 64 ] && [ "$r1" != "$r2" ] &&
	[ "$(status_json | jq .claimed)" = $((claims + 2)) ]
ok $? "two containers on two claimed VMs read different bytes from /dev/urandom"
guest=$(tail -n 1 "$TEST_TMP/rng2")
[ -n "$guest" ] && [ $(( $(date +%s) - guest )) -le 5 ]
ok $? "the claimed VM's clock was set at claim time (guest $guest, host $(date +%s))"


# ---- a failed warm-up ----
# The factory's warm-up image, spoilt: the next VM's warm-up cannot mount it,
# and the VM is discarded with the reason logged instead of pooled.
poll_until 120 pool_full
dd if=/dev/zero of="$SOCK.d/warm-up.erofs" bs=4096 count=1 conv=notrunc status=none
failures=$(status_json | jq .failures)
victim=$(pooled_pids)
victim=${victim%% *}
kill_hard "$victim"
failed_warm_up() { grep -q "cached VM .*: warming up: " "$LOG" && [ "$(status_json | jq .failures)" -ge $((failures + 2)) ]; }
poll_until 120 failed_warm_up
ok $? "a VM whose warm-up fails is discarded and counted, with the reason in the log"
is "$(pooled_count)" 1 "and is not pooled"
failed_vm=$(sed -n 's/.*cached VM \(cache-[0-9a-f]*-[0-9]*-[0-9]*\): warming up: .*/\1/p' "$LOG" | head -n 1)
[ -n "$failed_vm" ] && ! pgrep -f "qemu-system.*-name veil-$failed_vm," >/dev/null && [ ! -e "$SOCK.d/$failed_vm.console" ]
ok $? "its QEMU and console are gone ($failed_vm)"

factory destroy >/dev/null
poll_until 10 nothing_left
ok $? "destroy again leaves nothing, the warm-up image included (found: $(instance_procs) $(ls -d "$SOCK"* 2>/dev/null))"

# ---- warm_up = false ----
sed -i "s/^vm_cache_number = .*/&\nwarm_up = false/" "$CONF"
factory init --detach >/dev/null && poll_until 120 pool_full
ok $? "with warm_up = false the pool fills"
is "$(status_json | jq -c '[.vms[].warmed] | unique')" '[false]' "and its VMs are not warmed up"
[ ! -e "$SOCK.d/warm-up.erofs" ]
ok $? "and no warm-up image is built"
veil run --bundle "$TEST_TMP/bundle" "$(cid unwarmed)" >/dev/null 2>&1
ok $? "an unwarmed pooled VM serves a container"
factory destroy >/dev/null
poll_until 10 nothing_left
ok $? "destroy leaves nothing"
