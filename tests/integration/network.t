#!/bin/bash
# Networking through a netns path (podman/CNI style): the VM's NIC takes over
# the netns's veth (tap + tc redirects), the agent gives it the veth's MAC,
# addresses and route. Netns A holds the container's veth; netns B its peer.
source "$(dirname "$0")/lib.sh"
write_config
B="$TEST_TMP/bundle"
NS_A="veil-it-$$-a"
NS_B="veil-it-$$-b"
NET="10.99.$((RANDOM % 250 + 1))"
IP_A="$NET.2"
IP_B="$NET.1"
PEER_PID=""
FACTORY_PID=""

finish() {
	[ -n "$PEER_PID" ] && kill "$PEER_PID" 2>/dev/null
	veil delete --force "$(cid srv)" >/dev/null 2>&1
	veil delete --force "$(cid fsrv)" >/dev/null 2>&1
	[ -n "$FACTORY_PID" ] && { veil factory destroy >/dev/null 2>&1; kill -9 "$FACTORY_PID" 2>/dev/null; }
	ip netns del "$NS_A" 2>/dev/null
	ip netns del "$NS_B" 2>/dev/null
	cleanup_test_tmp
}
trap finish EXIT

ip netns add "$NS_A" && ip netns add "$NS_B" &&
	ip link add "vA$$" netns "$NS_A" type veth peer name "vB$$" netns "$NS_B" &&
	ip -n "$NS_A" link set "vA$$" name eth0 && ip -n "$NS_A" addr add "$IP_A/24" dev eth0 &&
	ip -n "$NS_A" link set eth0 up && ip -n "$NS_A" link set lo up &&
	ip -n "$NS_A" route add default via "$IP_B" &&
	ip -n "$NS_B" addr add "$IP_B/24" dev "vB$$" && ip -n "$NS_B" link set "vB$$" up &&
	ip -n "$NS_B" link set lo up
ok $? "two network namespaces joined by a veth pair ($IP_A, $IP_B)"

WWW="$TEST_TMP/www"
mkdir -p "$WWW" && echo "hello from netns B" >"$WWW/index.html"
ip netns exec "$NS_B" busybox httpd -f -p 8081 -h "$WWW" &
PEER_PID=$!

netns_spec() {
	edit_spec "$B" ".linux.namespaces |= map(if .type == \"network\" then .path = \"/var/run/netns/$NS_A\" else . end)"
}

# ---- the container as a client ----
make_bundle "$B" sh -c "ip addr show eth0 | grep -o 'inet [0-9./]*'; ip route | grep -o '^default via [0-9.]*'; wget -qO- http://$IP_B:8081/"
netns_spec
out=$(veil run --bundle "$B" "$(cid client)" 2>"$TEST_TMP/err"); rc=$?
is "$out" "inet $IP_A/24
default via $IP_B
hello from netns B" "the container has the veth's address and route, and reaches netns B"
is "$rc" 0 "the client exits 0"
[ "$rc" = 0 ] || sed 's/^/# /' "$TEST_TMP/err"
assert_no_leftovers "$(cid client)" "a networked run"
ip -n "$NS_A" -o link show | grep -q veiltap
ok "$([ $? -ne 0 ]; echo $?)" "the tap is gone with the VM"

# ---- the container as a server ----
# serve ID: a detached container serving on 8080 in netns A; netns B fetches.
serve() {
	local id=$1
	make_bundle "$B" sh -c 'mkdir -p /tmp/www && echo "hello from the guest" >/tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www'
	netns_spec
	edit_spec "$B" '.root.readonly = false'
	veil create --bundle "$B" "$id" >/dev/null 2>"$TEST_TMP/err" && veil start "$id" 2>>"$TEST_TMP/err"
	local got="" i
	for i in $(seq 1 100); do
		got=$(ip netns exec "$NS_B" wget -T 2 -qO- "http://$IP_A:8080/" 2>/dev/null) && break
		sleep 0.2
	done
	echo "$got"
}
out=$(serve "$(cid srv)")
is "$out" "hello from the guest" "netns B reaches a server in the container"
[ "$out" = "hello from the guest" ] || sed 's/^/# /' "$TEST_TMP/err"
veil delete --force "$(cid srv)" >/dev/null 2>&1

# ---- again with a VM from the factory: the NIC is hot-plugged ----
SOCK="$TEST_TMP/cache.sock"
factory_config 1
"${VEIL[@]}" --log "$TEST_TMP/factory.log" factory init >/dev/null 2>&1 &
FACTORY_PID=$!
pool_full() { [ "$(pooled_count)" = 1 ]; }
poll_until 120 pool_full
make_bundle "$B" sh -c "wget -qO- http://$IP_B:8081/"
netns_spec
claimed() { status_json | jq -r '.claimed'; }
before=$(claimed)
out=$(veil run --bundle "$B" "$(cid fclient)" 2>"$TEST_TMP/err")
is "$out" "hello from netns B" "a cached VM's hot-plugged NIC reaches netns B"
[ "$out" = "hello from netns B" ] || sed 's/^/# /' "$TEST_TMP/err"
is "$(claimed)" "$((before + 1))" "the networked container ran in the cached VM"
out=$(serve "$(cid fsrv)")
is "$out" "hello from the guest" "netns B reaches a server in a cached VM"
veil delete --force "$(cid fsrv)" >/dev/null 2>&1

# ---- reused VMs (reset = "scrub"): the NIC is unplugged and the next tenant's plugged in ----
veil factory destroy >/dev/null 2>&1
wait "$FACTORY_PID" 2>/dev/null
sed -i 's|^state_dir = .*|&\nreset = "scrub"|' "$CONF"
"${VEIL[@]}" --log "$TEST_TMP/factory.log" factory init >/dev/null 2>&1 &
FACTORY_PID=$!
scrubbed_vm() { status_json | jq -r "[.vms[]? | select(.state == \"paused\" and .scrubs == $1) | .qemu_pid] | first // empty"; }
has_scrubbed_vm() { [ -n "$(scrubbed_vm "$1")" ]; }
poll_until 120 has_scrubbed_vm 0
make_bundle "$B" sh -c "wget -qO- http://$IP_B:8081/"
netns_spec
first=$(veil run --bundle "$B" "$(cid s1)" 2>"$TEST_TMP/err") && poll_until 60 has_scrubbed_vm 1
vm=$(scrubbed_vm 1)
second=$(veil run --bundle "$B" "$(cid s2)" 2>>"$TEST_TMP/err") && poll_until 60 has_scrubbed_vm 2
[ "$first|$second" = "hello from netns B|hello from netns B" ] && [ -n "$vm" ] && [ "$(scrubbed_vm 2)" = "$vm" ]
ok $? "two networked tenants in turn on one scrubbed VM each reach netns B (VM $vm)"
[ "$first|$second" = "hello from netns B|hello from netns B" ] || sed 's/^/# /' "$TEST_TMP/err"
