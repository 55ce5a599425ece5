#!/bin/bash
# A hostile host against the guest agent: raw frames from tests/integration/
# hostile.py through tests/tools/raw-host, which boots the VM with veil's own
# hypervisor code. Whatever the host sends, the agent answers with errors or
# backpressure, stays up, and keeps every container's I/O flowing.
source "$(dirname "$0")/lib.sh"
write_config
RAW_HOST="$VEIL_BUILD/tests/tools/raw-host"
B="$TEST_TMP/bundle"
make_bundle "$B" true
gcc -static -O2 -o "$B/rootfs/bin/guest-helper" "$REPO/tests/integration/guest-helper.c"
ok $? "the guest helper builds"

# scenario NAME [CONFIG]: runs hostile.py NAME against a fresh VM; its output in $OUT.
scenario() {
	local name=$1 conf=${2:-$CONF}
	OUT=$("$RAW_HOST" --config "$conf" --name "$(cid "$name")" --rootfs "$B/rootfs" \
		--console "$TEST_TMP/$name.console" -- python3 "$REPO/tests/integration/hostile.py" "$name" 2>&1)
	echo "$OUT" | sed "s/^/# $name: /"
}
# field KEY: the words after KEY on its line of $OUT.
field() { sed -n "s/^$1 //p" <<<"$OUT" | head -n 1; }

scenario decode-bomb
is "$(field empty-messages | cut -d' ' -f1)" 3 "4 MiB of empty repeated messages: INVALID_ARGUMENT, not a decoder running the guest out of memory"
is "$(field unknown-fields | cut -d' ' -f1)" 3 "4 MiB of unknown fields: INVALID_ARGUMENT"
is "$(field unknown-field)" "3 request has an unknown field 9 in veil.agent.v1.HelloRequest" \
	"one unknown field: INVALID_ARGUMENT, naming it"
is "$(field alive)" yes "the agent serves requests after the decode bombs"

scenario waits
refused=$(field refused)
ok "$([ "${refused:-0}" -ge 1 ]; echo $?)" "3000 pending WaitProcess: those past the bound are refused ($refused RESOURCE_EXHAUSTED)"
is "$(field other)" "0 flowing" "another container's I/O flows meanwhile"
is "$(field all-answered)" yes "every wait the agent kept is answered when its container goes"

scenario output-flood
is "$(field accepted-before-reading | cut -d' ' -f1)" part \
	"a host that does not read: the agent stops reading the port before 32 MiB of requests ($(field accepted-before-reading))"
resp=$(field responses)
is "${resp% of *}" "${resp#* of }" "once the host reads, every request has its response ($resp)"
is "$(field other)" "0 flowing" "and containers' I/O flows again"

scenario stdin-flood
is "$(field other)" "0 flowing" "a window of 1-byte stdin frames to a process that does not read: another container's I/O flows"
is "$(field credit-back-kib)" 64 "what the pipe took at once was credited back (64 KiB), the rest waits in the window"

scenario clock
is "$(field boot)" moved "the first Hello sets the clock"
is "$(field back-resumed)" "9 kept" "a resuming Hello may not turn the clock back"
is "$(field back)" "9 kept" "a later Hello may not turn the clock back"
is "$(field forward)" "9 kept" "a later Hello may not jump the clock forward"
is "$(field small-step)" "0 moved" "a later Hello may adjust the clock within the bound"
is "$(field forward-resumed)" "0 moved" "a resuming Hello moves the clock forward by the time the VM was stopped"

# No entropy source in the guest but the host's: no virtio-rng, no RDRAND credit.
CONF_PATH="$TEST_TMP/no-rng.toml" write_config \
	'kernel_params = "initcall_blacklist=virtio_rng_driver_init random.trust_cpu=off random.trust_bootloader=off"'
scenario entropy "$TEST_TMP/no-rng.toml"
avail=$(field entropy-avail)
ok "$([ -n "$avail" ] && [ "$avail" -lt 256 ]; echo $?)" \
	"host entropy is mixed in without credit: the guest's pool is not counted as seeded ($avail of 256 bits)"

scenario paths
is "$(field mount-through-magic-link | cut -d' ' -f1)" 9 "a mount destination through /proc/1/root is refused"
is "$(field guest-root-dir)" absent "and no directory appeared in the guest's root"
is "$(field oracle)" no "masked paths through /proc/1/root answer the same whether the guest file exists or not"
is "$(field cwd-in-guest-root | cut -d' ' -f1)" no "a cwd through /proc/1/root does not start a process in the guest's root"

scenario signal-all
is "$(field sub-cgroup)" 143 "SignalProcess all reaches a process in a cgroup the container made"

scenario setup-death
deaths=$(field setup-deaths)
ok "$([ "${deaths%% *}" -ge 1 ]; echo $?)" "a process killed before it exec'd fails its ExecProcess ($deaths)"
