#!/bin/bash
# The start trace (docs/tracing.md): a record of contiguous phases per start
# with --debug or [runtime] trace, nothing without, and a Chrome trace file
# whose guest spans land inside the host's requests that carried them.
source "$(dirname "$0")/lib.sh"
write_config
B="$TEST_TMP/bundle"
LOG="$TEST_TMP/veil.log"
TRACES="$TEST_TMP/traces"
mkdir -p "$TRACES"
make_bundle "$B" echo traced
records() { sed -n 's/.*msg="trace \(.*\)"$/\1/p' "$LOG"; }

out=$(veil --log "$LOG" run --bundle "$B" "$(cid off)")
is "$out" traced "a run without tracing works"
is "$(records | wc -l)" 0 "without --debug or trace = true no record is logged"

out=$(veil --debug --log "$LOG" run --bundle "$B" "$(cid debug)")
is "$out" traced "a run with --debug works"
r=$(records | tail -n 1)
is "$(jq -r '"\(.kind) \(.id) \(.how)"' <<<"$r")" "container $(cid debug) booted" \
	"--debug logs a record naming the container and how its VM came"
is "$(jq -r '.phases | keys_unsorted | join(" ")' <<<"$r")" \
	"config image qemu boot create start first_output exit teardown" \
	"a cold start's phases, in order, the first output among them"
jq -e '(.phases | add) as $sum | ($sum - .total_ms | fabs) < 1' <<<"$r" >/dev/null
ok $? "the phases add up to the total"
W="$TEST_TMP/writable"
make_bundle "$W" echo traced
edit_spec "$W" '.root.readonly = false'
veil --debug --log "$LOG" run --bundle "$W" "$(cid writable)" >/dev/null
is "$(records | tail -n 1 | jq -r '.phases | keys_unsorted | join(" ")')" \
	"config image layer qemu boot create start first_output exit teardown" \
	"a writable rootfs adds the writable layer's disk (docs/volumes.md) after the image"

# q35: a microvm under TCG cannot calibrate its TSC (no PIT it can time, no
# HPET) and keeps time in jiffies, which lose ticks when the host is busy;
# the factory's q35 VMs calibrate against the HPET.
sed -i "s|^state_dir = .*|&\ntrace = true\ntrace_dir = \"$TRACES\"|; s|^initrd = .*|&\nmachine_type = \"q35\"|" "$CONF"
: >"$LOG"
veil --log "$LOG" run --bundle "$B" "$(cid file)" >/dev/null
is "$(records | jq -r .id)" "$(cid file)" "[runtime] trace = true logs the record too"
file=$(ls "$TRACES"/container-"$(cid file)"-*.json 2>/dev/null)
is "$(stat -c %a "$file" 2>/dev/null)" 600 "trace_dir receives a private trace file for the start"
# Every request the host waited on must lie, in the guest, within the host's
# send-to-answer of it (WaitProcess is answered asynchronously), to within
# the microseconds the trace file rounds to.
jq -e '[.traceEvents[] | select(.ph == "X")] as $e
	| [$e[] | select(.pid == 2 and (.name | IN("Hello", "CreateContainer", "ExecProcess")))] as $guest
	| ($guest | length) == 3 and
	  all($guest[]; . as $g | any($e[]; .pid == 1 and .name == "agent.\($g.name)"
	      and .ts <= $g.ts + 2 and .ts + .dur + 2 >= $g.ts + $g.dur))' "$file" >/dev/null
ok $? "the guest's requests (Hello, CreateContainer, ExecProcess) sit inside the host's"
jq -e '[.traceEvents[] | select(.pid == 2) | .name] | index("disk") and index("fork") and index("setup")' \
	"$file" >/dev/null
ok $? "the agent's steps (disk, fork, setup) are in the file"
assert_no_leftovers "$(cid file)" "a traced run"
