#!/bin/bash
# VM templates: the factory builds one, pools clones of it, containers start
# on clones (pooled or cloned on the spot), and every damaged or outdated
# template is rebuilt or bypassed with one log line. Real QEMU throughout.
source "$(dirname "$0")/lib.sh"
write_config
SOCK="$TEST_TMP/cache.sock"
TMPL="$TEST_TMP/template"
LOG="$TEST_TMP/veil.log"
factory_config 2 "$TMPL"
# The same host without a pool: containers clone the template themselves.
DIRECT="$TEST_TMP/direct.toml"
sed 's/^vm_cache_number = 2/vm_cache_number = 0/' "$CONF" >"$DIRECT"

FACTORY=("$VEIL_BIN" --config "$CONF" --log "$LOG" factory)
factory() { "${FACTORY[@]}" "$@"; }
finish() {
	factory destroy >/dev/null 2>&1
	cleanup_test_tmp
}
trap finish EXIT

pool_of_clones() { [ "$(pooled_count '.origin == "clone"')" = 2 ]; }
template_state() { status_json | jq -r '.template.state'; }
log_has() { grep -q -- "$1" "$LOG"; }
# Each test's log lines only: the log is cleared between sections.
reset_log() { : >"$LOG"; }

# ---- build and clones ----
factory init --detach >/dev/null
ok $? "init --detach with enable_template starts"
poll_until 180 pool_of_clones
ok $? "the factory builds the template and pools 2 clones of it"
is "$(template_state)" ready "status reports the template ready"
is "$(jq -r .config_hash "$TMPL/template.json")" "$(status_json | jq -r .template.hash)" \
	"template.json records the hash that status reports"
is "$(stat -c %a "$TMPL" "$TMPL/memory" "$TMPL/state" "$TMPL/template.json" | tr '\n' ' ')" "700 600 600 600 " \
	"the template's directory and files are private to their owner"
is "$(stat -c %s "$TMPL/memory")" $((256 << 20)) "its memory file holds the guest's 256 MiB"
factory status | grep -q '^template: ready, built in'
ok $? "the status table has a template line"
log_has "no template built yet; building one"
ok $? "the first build is logged with its reason"
veil env | grep -qx "  enable_template = true" && veil env | grep -qx "  template_path = \"$TMPL\""
ok $? "veil env shows the template settings"

# A clone's RAM is the template's file, mapped privately (copy-on-write).
clone=$(pooled_pids | cut -d' ' -f1)
grep -q " $TMPL/memory\$" "/proc/$clone/maps" && tr '\0' '\n' <"/proc/$clone/cmdline" | grep -q 'share=off'
ok $? "a pooled clone maps the template's memory with share=off"

# ---- containers on clones: fresh identity each ----
make_bundle "$TEST_TMP/bundle" sh -c 'head -c 32 /dev/urandom | od -An -tx1 | tr -d " \n"; echo; date +%s'
# run_bundle CONFIG BUNDLE NAME: runs BUNDLE as container NAME, logging to $LOG.
run_bundle() { "$VEIL_BIN" --config "$1" --log "$LOG" run --bundle "$2" "$(cid "$3")"; }
run_on() { run_bundle "$1" "$TEST_TMP/bundle" "$2"; }
rng_of() { run_on "$@" 2>>"$TEST_TMP/run.err" | head -n 1; }
reset_log
claimed=$(status_json | jq .claimed)
# The pool refilled before each (a warmed clone takes longer to pool than a
# container to run): an empty pool would log "cold boot: pool empty", even
# though the container then clones the template.
poll_until 120 pool_of_clones
r1=$(rng_of "$CONF" p1)
poll_until 120 pool_of_clones
r2=$(rng_of "$CONF" p2)
poll_until 120 pool_of_clones
r3=$(rng_of "$CONF" p3)
[ "$(status_json | jq .claimed)" -ge $((claimed + 2)) ]
ok $? "containers start on pooled clones"
[ "${#r1}" = 64 ] && [ "$r1" != "$r2" ] && [ "$r2" != "$r3" ] && [ "$r1" != "$r3" ]
ok $? "three containers on clones of one template read three different /dev/urandom outputs"
! log_has "cold boot"
ok $? "none of them cold-booted"

reset_log
d1=$(rng_of "$DIRECT" d1)
d2=$(rng_of "$DIRECT" d2)
[ "${#d1}" = 64 ] && [ "$d1" != "$d2" ] && [ "$d1" != "$r1" ]
ok $? "containers cloning the template directly (no pool) also read different bytes"
log_has "sandbox $(cid d1): VM cloned from the template" && ! log_has "cold boot"
ok $? "and were cloned, not booted"
# The kernel logs its reseed when the VM generation ID changes under it.
make_bundle "$TEST_TMP/dmesg" sh -c 'dmesg | grep -c "crng reseeded due to virtual machine fork"'
reseeds_on() { run_bundle "$1" "$TEST_TMP/dmesg" "$2" 2>>"$TEST_TMP/run.err"; }
COLD="$TEST_TMP/cold.toml"
sed -e 's/^vm_cache_number = 2/vm_cache_number = 0/' -e 's/^enable_template = true/enable_template = false/' "$CONF" >"$COLD"
is "$(reseeds_on "$CONF" g1)|$(reseeds_on "$DIRECT" g2)|$(reseeds_on "$COLD" g3)" "1|1|0" \
	"a clone's kernel, pooled or direct, reseeds its RNG on a new VM generation ID; a booted VM's does not"
run_on "$DIRECT" d3 >/dev/null 2>&1
guest=$(run_on "$DIRECT" d4 2>/dev/null | tail -n 1)
[ $(($(date +%s) - guest)) -le 5 ]
ok $? "a clone's clock is set at its start, not the template's (guest $guest, host $(date +%s))"

# ---- damaged, missing and outdated templates ----
factory destroy >/dev/null
[ ! -e "$TMPL" ]
ok $? "destroy removes the template"

restart() { # restart REASON_PATTERN: init, then the template must be rebuilt for REASON
	reset_log
	factory init --detach >/dev/null && poll_until 180 pool_of_clones && log_has "$1"
}
restart "no template built yet" && factory destroy >/dev/null && restart "no template built yet"
ok $? "a missing template is rebuilt"

factory destroy >/dev/null 2>&1
# destroy removed it: build one to damage, with a factory that is then stopped hard.
factory init --detach >/dev/null && poll_until 180 pool_of_clones
kill_hard "$(status_json | jq .pid)"
printf 'garbage' | dd of="$TMPL/state" bs=1 seek=4096 conv=notrunc status=none
restart "template corrupt: $TMPL/state does not match its recorded hash"
ok $? "a corrupt state file is detected and the template rebuilt"

kill_hard "$(status_json | jq .pid)"
printf 'garbage' | dd of="$TMPL/memory" bs=1 seek=$((100 << 20)) conv=notrunc status=none
restart "template corrupt: $TMPL/memory does not match its recorded hash"
ok $? "a corrupt memory file is detected (at init) and the template rebuilt"

kill_hard "$(status_json | jq .pid)"
truncate -s 1M "$TMPL/memory"
restart "template corrupt: its memory file has 1048576 bytes"
ok $? "a truncated memory file is detected and the template rebuilt"

kill_hard "$(status_json | jq .pid)"
rm -f "$TMPL/template.json"
restart "no template built yet"
ok $? "a template without its record is rebuilt"

kill_hard "$(status_json | jq .pid)"
old_hash=$(jq -r .config_hash "$TMPL/template.json")
sed -i 's/^\[hypervisor.qemu\]$/[hypervisor.qemu]\nkernel_params = "veil.template_test=1"/' "$CONF"
restart "template built for another kernel, initrd, QEMU or VM shape"
ok $? "a template built for another configuration is rebuilt"
[ "$(jq -r .config_hash "$TMPL/template.json")" != "$old_hash" ]
ok $? "with a new configuration hash"
[ "$(jq '.created > 1700000000 and .build_ms > 0' "$TMPL/template.json")" = true ]
ok $? "the template records when it was built and how long that took"

# A clone's QEMU that dies mid-restore: a state file QEMU cannot load, recorded
# as if it were good, so that only the restore itself can fail.
reset_log
head -c 65536 /dev/urandom >"$TMPL/state"
jq --arg h "$(sha256sum "$TMPL/state" | cut -d' ' -f1)" '.state_sha256 = $h' "$TMPL/template.json" >"$TMPL/t.json" &&
	mv "$TMPL/t.json" "$TMPL/template.json"
sed 's/^vm_cache_number = 2/vm_cache_number = 0/' "$CONF" >"$DIRECT"
run_on "$DIRECT" bad >"$TEST_TMP/bad.out" 2>&1
rc=$?
[ "$rc" = 0 ] && [ "$(head -n 1 "$TEST_TMP/bad.out" | wc -c)" = 65 ] &&
	grep -q "sandbox $(cid bad): cold boot: no clone of the template: .*restoring the VM's state" "$LOG"
ok $? "a container whose clone dies mid-restore cold-boots instead, saying why"
for pid in $(pooled_pids); do kill -9 "$pid"; done
rebuilt() { log_has "its clones keep failing; building one" && pool_of_clones; }
poll_until 240 rebuilt
ok $? "the factory rebuilds a template whose clones keep dying mid-restore, and pools clones again"
kill -0 "$(status_json | jq .pid)"
ok $? "the factory survived it all"

# Whoever can write the template decides what clones run.
factory destroy >/dev/null
mkdir -m 0777 "$TMPL"
reset_log
factory init --detach >/dev/null
pool_of_boots() { [ "$(pooled_count '.origin == "boot"')" = 2 ]; }
poll_until 180 pool_of_boots && [ "$(template_state)" = failed ] &&
	log_has "template_path $TMPL is not a directory private to uid $(id -u)"
ok $? "a template directory others can write to is refused: the pool boots VMs instead"

# ---- a template without a pool ----
factory destroy >/dev/null
reset_log
out=$("$VEIL_BIN" --config "$DIRECT" --log "$LOG" factory init 2>&1); rc=$?
is "$rc|$out" "0|template ready in $TMPL; no pool (vm_cache_number = 0): containers clone it on the spot" \
	"init with vm_cache_number = 0 builds the template and returns"
[ -f "$TMPL/template.json" ] && [ ! -e "$SOCK" ] && [ -z "$(pgrep -f "qemu-system.*$TMPL")" ] &&
	[ "$(status_json | jq .running)" = false ]
ok $? "leaving the template, and no daemon, socket or QEMU"
built=$(stat -c %i:%Y "$TMPL/template.json")
out=$("$VEIL_BIN" --config "$DIRECT" --log "$LOG" factory init 2>&1); rc=$?
[ "$rc" = 0 ] && [ "$(stat -c %i:%Y "$TMPL/template.json")" = "$built" ] && [ "$(grep -c "building one" "$LOG")" = 1 ]
ok $? "a second init verifies it instead of building another"
r=$(rng_of "$DIRECT" nopool)
[ "${#r}" = 64 ] && log_has "sandbox $(cid nopool): VM cloned from the template"
ok $? "a container clones the template on the spot"
out=$(sed 's/^enable_template = true/enable_template = false/' "$DIRECT" >"$TEST_TMP/nothing.toml" &&
	"$VEIL_BIN" --config "$TEST_TMP/nothing.toml" factory init 2>&1); rc=$?
is "$rc|$out" "1|veil: the VM cache is disabled ([factory] vm_cache_number = 0) and there is no template ([factory] enable_template = false)" \
	"init with neither a pool nor a template is refused in one line"

factory destroy >/dev/null
[ ! -e "$TMPL" ] && [ ! -e "$SOCK" ] && [ -z "$(pgrep -f "qemu-system.*$TMPL")" ]
ok $? "destroy leaves no template, socket or clone behind"
[ -z "$(ls -A "$STATE" 2>/dev/null)" ]
ok $? "no container left state behind"
