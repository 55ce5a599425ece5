#!/bin/bash
# Confidential containers end to end, with real QEMU guests, a real veil-kbs
# process and the emulated TEE: a container's secret reaches /run/secrets and
# nowhere on the host; every attack (another kernel or initrd, init-data the
# host altered, replayed or tampered evidence, a KBS that does not trust the
# emulated root, a resource the policy does not grant) leaves the container
# unstarted with the KBS's or the guest's reason; exec follows the init-data's
# policy; secrets come from annotations or the init-data's list; host files
# only where the init-data allows, on the host and in the guest; pooled VMs
# attest after their claim and carry their tenancy history.
source "$(dirname "$0")/lib.sh"
KBS="$VEIL_BUILD/veil-kbs"
CHIP="$TEST_TMP/chip"
LOG="$TEST_TMP/veil.log"
SECRET="veil-secret-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
PIDS=()
SOCK="$TEST_TMP/cache.sock"
finish() {
	"$VEIL_BIN" --config "$TEST_TMP/pool.toml" factory destroy >/dev/null 2>&1
	local p
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	cleanup_test_tmp
}
trap finish EXIT
source "$(dirname "$0")/kbs-lib.sh"

# The KBS's address goes into init-data, which the measurement covers: the
# port first, the KBS once veil measure has made the chip whose root it trusts.
good_PORT=$(free_port)
init_data "$TEST_TMP/init.toml" "$good_PORT"
conf "$CONF" "$TEST_TMP/init.toml"
V=("$VEIL_BIN" --config "$CONF" --log "$LOG")

# ---- veil measure, env, check ----

"${V[@]}" measure >"$TEST_TMP/measure.toml" 2>"$TEST_TMP/err"
ok $? "veil measure runs (it makes the emulated chip)"
grep -q "^#   ark = \"$CHIP/ark.der\"" "$TEST_TMP/measure.toml"
ok $? "and names the emulated root a KBS must be told to trust"
start_kbs good yes "$good_PORT"
start_kbs strict no
M=$(sed -n 's/^measurements = \["\([0-9a-f]*\)"\]/\1/p' "$TEST_TMP/measure.toml")
D=$(sha384sum "$TEST_TMP/init.toml" | cut -d' ' -f1)
grep -q "^init_data = \[\"$D\"\]" "$TEST_TMP/measure.toml" && [ ${#M} -eq 96 ] && grep -q '^\[emulated\]' "$TEST_TMP/measure.toml"
ok $? "veil measure prints [emulated] measurements and the init-data's SHA-384, as reference values"
stat -c %a "$CHIP" | grep -qx 700 && [ "$(stat -c %a "$CHIP/vcek.key")" = 600 ]
ok $? "the emulated chip's directory is 0700, its key 0600"
admin good reference set "$TEST_TMP/measure.toml" >/dev/null
ok $? "veil measure's output loads into veil-kbs as it is"
"${V[@]}" env | grep -q 'warning = "the emulated TEE protects nothing'
ok $? "veil env says in words that the emulated TEE protects nothing"
"${V[@]}" check | grep -q '^info  tee = "emulated" protects nothing'
ok $? "veil check says it too"

cat >"$TEST_TMP/policy.toml" <<'TOML'
[resource."default/key/db"]
tee = ["emulated"]
[resource."default/key/fresh"]
tee = ["emulated"]
vm = "fresh"
[resource."default/key/scrubbed"]
tee = ["emulated"]
vm = "scrubbed"
TOML
admin good policy set "$TEST_TMP/policy.toml" >/dev/null
for r in db fresh scrubbed other; do printf '%s' "$SECRET" | admin good resource set "default/key/$r" - >/dev/null; done

# ---- the secret reaches the container, and nowhere on the host ----

# secret_bundle DIR NAME=RESOURCE... : a container that says it started, then shows its secrets.
secret_bundle() {
	local dir=$1 f=""
	shift
	make_bundle "$dir" sh -c 'echo started; for f in /run/secrets/*; do echo "$(stat -c "%a %u" "$f") $(cat "$f")"; done'
	for s in "$@"; do f="$f | .annotations[\"io.veil.secret.${s%%=*}\"] = \"kbs:///${s#*=}\""; done
	edit_spec "$dir" ".process.user.uid = 1000 | .process.user.gid = 1000 $f"
}
secret_bundle "$TEST_TMP/b" db=default/key/db
out=$("${V[@]}" run --bundle "$TEST_TMP/b" "$(cid secret)" 2>"$TEST_TMP/err")
is "$out" "started
400 1000 $SECRET" "the container reads its secret at /run/secrets/db: mode 0400, owned by its user"
assert_no_leftovers "$(cid secret)" "a confidential container"

# A container that keeps running: what the host holds while it lives.
make_bundle "$TEST_TMP/long" sh -c 'cat /run/secrets/db >/dev/null && echo ready && sleep 1000'
edit_spec "$TEST_TMP/long" '.annotations["io.veil.secret.db"] = "kbs:///default/key/db"'
# Its secrets are fetched before create returns.
"${V[@]}" run --detach --bundle "$TEST_TMP/long" "$(cid long)" >/dev/null 2>&1
qemu=$(pgrep -f "qemu-system.*-name veil-$(cid long)")
leaks=""
grep -qF "$SECRET" "/proc/$qemu/cmdline" && leaks="$leaks qemu-cmdline"
grep -rlF "$SECRET" "$TEST_TMP" --exclude-dir=data --exclude=kbs.log >"$TEST_TMP/leaks" && leaks="$leaks files:$(tr '\n' ' ' <"$TEST_TMP/leaks")"
for d in good strict; do grep -qF "$SECRET" "$TEST_TMP/$d/kbs.log" && leaks="$leaks $d/kbs.log"; done
[ -n "$qemu" ] && [ -f "$STATE/$(cid long)/console.log" ] && [ -s "$LOG" ] && grep -q "container $(cid long): confidential guest" "$LOG"
ok $? "while it runs: QEMU, its console log and veil's log are there to search"
is "$leaks" "" "the secret is in no file veil wrote (state, console, logs, chip), no KBS log and not on QEMU's command line"
"${V[@]}" kill "$(cid long)" 9 && "${V[@]}" delete --force "$(cid long)" >/dev/null 2>&1
assert_no_leftovers "$(cid long)" "the running confidential container, deleted"
# This test's own: other tests on the machine may run TEE services too.
own_tee() { pgrep -a -x veil-tee | grep -qF "$TEST_TMP/"; }
poll_until 10 eval '! own_tee'
ok $? "no TEE service outlives its VM$(pgrep -a -x veil-tee | grep -F "$TEST_TMP/" | cut -c1-120 | tr '\n' ' ')"

# ---- attacks: no secret, the container never starts, and the reason ----

# refused NAME PATTERN CONF BUNDLE: veil run fails, the container printed nothing, the error matches.
refused() {
	local name=$1 pattern=$2 conf=$3 bundle=$4 out rc
	out=$("$VEIL_BIN" --config "$conf" run --bundle "$bundle" "$(cid "$name")" 2>"$TEST_TMP/err")
	rc=$?
	if [ $rc -ne 0 ] && [ -z "$out" ] && grep -qE "$pattern" "$TEST_TMP/err"; then
		ok 0 "$name: no secret, the container never started, and the reason"
	else
		ok 1 "$name: no secret, the container never started, and the reason"
		echo "#   rc=$rc stdout='$out'"
		sed 's/^/#   stderr: /' "$TEST_TMP/err"
	fi
	assert_no_leftovers "$(cid "$name")" "$name"
}

# Another initrd: the same bytes and a page of zeros more, which the kernel unpacks just the same.
cp "$VEIL_BUILD/guest/initrd.img" "$TEST_TMP/other-initrd.img"
head -c 4096 /dev/zero >>"$TEST_TMP/other-initrd.img"
conf "$TEST_TMP/other-initrd.toml" "$TEST_TMP/init.toml"
sed -i "s|^initrd = .*|initrd = \"$TEST_TMP/other-initrd.img\"|" "$TEST_TMP/other-initrd.toml"
refused other-initrd "KBS refused attest \(401 AttestationError\): measurement [0-9a-f]{96} is not in the reference values for emulated \(expected $M\)" \
	"$TEST_TMP/other-initrd.toml" "$TEST_TMP/b"
cp "$VEIL_BUILD/guest/vmlinux" "$TEST_TMP/other-vmlinux"
head -c 1 /dev/zero >>"$TEST_TMP/other-vmlinux"
conf "$TEST_TMP/other-kernel.toml" "$TEST_TMP/init.toml"
sed -i "s|^kernel = .*|kernel = \"$TEST_TMP/other-vmlinux\"|" "$TEST_TMP/other-kernel.toml"
refused other-kernel "measurement [0-9a-f]{96} is not in the reference values for emulated" "$TEST_TMP/other-kernel.toml" "$TEST_TMP/b"

# Init-data altered by the host: raw-host launches the guest with init.toml,
# and hostile_tee.py serves it other init-data on its TEE port.
RAW_HOST="$VEIL_BUILD/tests/tools/raw-host"
init_data "$TEST_TMP/altered.toml" 1
liar() {
	"$RAW_HOST" --config "$CONF" --name "$(cid "$1")" --rootfs "$TEST_TMP/b/rootfs" --console "$TEST_TMP/$1.console" \
		--tee-port -- python3 "$REPO/tests/integration/hostile_tee.py" "$@" 2>&1
}
out=$(liar honest "$TEST_TMP/init.toml")
is "$out" "create 0 " "a host that serves the init-data it launched with: the guest creates the container"
out=$(liar altered-init-data "$TEST_TMP/init.toml" "$TEST_TMP/altered.toml")
echo "$out" | grep -qE "^create 9 this confidential guest runs nothing: the init-data the host gave hashes to [0-9a-f]{64}, but the TEE's HOST_DATA holds $(cut -c1-64 <<<"$D"): the host altered it$"
ok $? "init-data altered by the host: the guest re-hashes it, and runs nothing (FAILED_PRECONDITION, both digests)"
echo "# $out"
grep -q "the host altered it; nothing will run in this VM" "$TEST_TMP/altered-init-data.console"
ok $? "and says so on its console"
out=$(liar bad-report "$TEST_TMP/init.toml")
echo "$out" | grep -q "^create 9 this confidential guest runs nothing: the emulated TEE's report: the host's TEE service answered badly"
ok $? "a TEE port that answers with a broken report: the guest runs nothing"
# Host files the host sends past veil's own check: the guest holds them to
# the init-data it checked (init.toml has no [mounts]: podman's files only).
out=$(liar host-file "$TEST_TMP/init.toml")
is "$out" "create 7 host file on /etc/motd refused: the init-data this guest checked does not name it (veil.toml [mounts] allow)" \
	"a host that sends a file on /etc/motd, which the init-data does not name: the guest refuses it (PERMISSION_DENIED)"
out=$(liar hosts-file "$TEST_TMP/init.toml")
is "$out" "create 0 " "and creates the container with one on /etc/hosts, which init-data without [mounts] allows"
out=$(liar shared-tree "$TEST_TMP/init.toml")
is "$out" 'create 7 a confidential guest shares no filesystem with the host (shared tree "veil-fs" refused)' \
	"a host that claims a shared tree for a confidential container: refused"
out=$(liar upper-disk "$TEST_TMP/init.toml")
is "$out" 'create 7 a confidential container'"'"'s writable layer stays in guest memory (disk "veil-upper" refused)' \
	"a host that offers a disk of its own for the writable layer: refused"

# Through a man in the middle on the relay: what a relaying host could try.
MITM="$REPO/tests/integration/kbs_mitm.py"
MEASUREMENTS=("$M")
measurement_of() { "$VEIL_BIN" --config "$1" measure | sed -n 's/^measurements = \["\([0-9a-f]*\)"\]/\1/p'; }
mitm() { # mitm MODE [FILE]: a relay to the good KBS; its init-data and config in $TEST_TMP/mitm-MODE.*
	local port
	port=$(free_port)
	python3 "$MITM" "$port" "$good_PORT" "$@" >"$TEST_TMP/mitm-$1.out" 2>&1 &
	PIDS+=($!)
	disown $!
	poll_until 10 grep -q ready "$TEST_TMP/mitm-$1.out"
	init_data "$TEST_TMP/mitm-$1.init.toml" "$port"
	conf "$TEST_TMP/mitm-$1.toml" "$TEST_TMP/mitm-$1.init.toml"
	MEASUREMENTS+=("$(measurement_of "$TEST_TMP/mitm-$1.toml")")
}
for mode in record replay tamper-report-data swap-key; do mitm "$mode" "$TEST_TMP/attest.json"; done
admin_refs() { printf '[emulated]\nmeasurements = [%s]\n' "$(printf '"%s",' "${MEASUREMENTS[@]}" | sed 's/,$//')" | admin good reference set -; }
admin_refs >/dev/null
out=$("$VEIL_BIN" --config "$TEST_TMP/mitm-record.toml" run --bundle "$TEST_TMP/b" "$(cid recorded)" 2>"$TEST_TMP/err")
is "$out" "started
400 1000 $SECRET" "through an honest relay the secret arrives (the relay recorded the attestation)"
refused replayed "KBS refused attest \(401 AttestationError\): runtime-data nonce \"[^\"]*\" is not this session's challenge \"[^\"]*\" \(replayed or stale evidence\)" \
	"$TEST_TMP/mitm-replay.toml" "$TEST_TMP/b"
refused tampered-report-data "KBS refused attest \(401 AttestationError\): SNP evidence: .*signature" \
	"$TEST_TMP/mitm-tamper-report-data.toml" "$TEST_TMP/b"
refused swapped-key "KBS refused attest \(401 AttestationError\): REPORT_DATA does not bind this session's nonce and tee-pubkey" \
	"$TEST_TMP/mitm-swap-key.toml" "$TEST_TMP/b"

# Secrets listed in init-data (veil.toml's [secrets]): every container of the VM gets them, annotation or not.
init_data "$TEST_TMP/listed.init.toml" "$good_PORT"
printf '"veil.toml" = %s\n[secrets]\nlisted = "kbs:///default/key/db"\n%s\n' "'''" "'''" >>"$TEST_TMP/listed.init.toml"
conf "$TEST_TMP/listed.toml" "$TEST_TMP/listed.init.toml"
MEASUREMENTS+=("$(measurement_of "$TEST_TMP/listed.toml")")
admin_refs >/dev/null
make_bundle "$TEST_TMP/plain" sh -c 'echo started; cat /run/secrets/listed'
out=$("$VEIL_BIN" --config "$TEST_TMP/listed.toml" run --bundle "$TEST_TMP/plain" "$(cid listed)" 2>"$TEST_TMP/err")
is "$out" "started
$SECRET" "a secret the init-data lists reaches /run/secrets/listed of a container without annotations"
assert_no_leftovers "$(cid listed)" "a container with init-data's secrets"
# The same init-data as veil's own annotation, on the configuration whose init-data lists no secret.
edit_spec "$TEST_TMP/plain" ".annotations[\"io.veil.init_data\"] = $(jq -Rs . <"$TEST_TMP/listed.init.toml")"
out=$("${V[@]}" run --bundle "$TEST_TMP/plain" "$(cid listed-annotation)" 2>"$TEST_TMP/err")
is "$out" "started
$SECRET" "and so does it when the init-data comes in veil's annotation io.veil.init_data"

# A KBS that does not trust the emulated root.
init_data "$TEST_TMP/strict.init.toml" "$strict_PORT"
conf "$TEST_TMP/strict.toml" "$TEST_TMP/strict.init.toml"
refused untrusted-root "KBS refused attest \(401 AttestationError\): SNP evidence: VCEK chain ends in veil's emulated root .*which protects nothing" \
	"$TEST_TMP/strict.toml" "$TEST_TMP/b"

# A resource no rule grants.
secret_bundle "$TEST_TMP/other" db=default/key/other
refused not-granted "KBS refused resource default/key/other \(403 PolicyDeny\): no policy rule grants default/key/other \(default deny\)" \
	"$CONF" "$TEST_TMP/other"
grep -q "resource session .*: refused (403 PolicyDeny): no policy rule grants default/key/other" "$TEST_TMP/good/kbs.log"
ok $? "the KBS log names the refusal too"

# ---- host files: only those the measured init-data names ----

echo "the host's motd" >"$TEST_TMP/motd"
printf '127.0.0.1 localhost\n10.0.0.7 db.example\n' >"$TEST_TMP/hosts"
# files_bundle DIR DESTINATION...: a container whose root is read-only (veil spec's default) that
# prints those files, each a bind mount of the host's, and whether its root stayed read-only.
files_bundle() {
	local dir=$1 f="" d
	shift
	make_bundle "$dir" sh -c 'echo started; for f; do cat "$f"; done; touch /probe 2>/dev/null || echo read-only' sh "$@"
	for d in "$@"; do
		f="$f | .mounts += [{destination: \"$d\", type: \"bind\", source: \"$TEST_TMP/$(basename "$d")\", options: [\"rbind\", \"ro\"]}]"
	done
	edit_spec "$dir" ".${f# | .}"
}
# refused_file NAME CONF BUNDLE DESTINATION: veil run fails at once, in one line naming the mount.
refused_file() {
	local out rc
	out=$("$VEIL_BIN" --config "$2" run --bundle "$3" "$(cid "$1")" 2>"$TEST_TMP/err")
	rc=$?
	[ $rc -ne 0 ] && [ -z "$out" ] && [ "$(wc -l <"$TEST_TMP/err")" -eq 1 ] &&
		grep -qF "bind mount of $TEST_TMP/$(basename "$4") on $4 refused: a confidential container gets no host file that its measured init-data does not name (veil.toml [mounts] allow)" "$TEST_TMP/err"
	ok $? "$1: a host file on $4 the init-data does not name is refused in one line naming it"
	sed 's/^/#   /' "$TEST_TMP/err"
	assert_no_leftovers "$(cid "$1")" "$1"
}
files_bundle "$TEST_TMP/motd-b" /etc/motd
refused_file unlisted-file "$CONF" "$TEST_TMP/motd-b" /etc/motd
files_bundle "$TEST_TMP/hosts-b" /etc/hosts
out=$("${V[@]}" run --bundle "$TEST_TMP/hosts-b" "$(cid default-files)" 2>"$TEST_TMP/err")
is "$out" "started
$(cat "$TEST_TMP/hosts")
read-only" "init-data without [mounts]: the host's /etc/hosts reaches the container, as podman's files do (its root read-only, the image without an /etc/hosts)"
assert_no_leftovers "$(cid default-files)" "a confidential container with a host file"
# A list in init-data replaces the default.
init_data "$TEST_TMP/files.init.toml" "$good_PORT"
printf '"veil.toml" = %s\n[mounts]\nallow = ["/etc/motd"]\n%s\n' "'''" "'''" >>"$TEST_TMP/files.init.toml"
conf "$TEST_TMP/files.toml" "$TEST_TMP/files.init.toml"
out=$("$VEIL_BIN" --config "$TEST_TMP/files.toml" run --bundle "$TEST_TMP/motd-b" "$(cid listed-file)" 2>"$TEST_TMP/err")
is "$out" "started
the host's motd
read-only" "a host file on /etc/motd reaches the container when the init-data's [mounts] allow names it"
assert_no_leftovers "$(cid listed-file)" "a confidential container with a listed host file"
refused_file replaced-default "$TEST_TMP/files.toml" "$TEST_TMP/hosts-b" /etc/hosts
# A mistake in [mounts] stops veil create with its place, before any VM.
init_data "$TEST_TMP/bad-files.init.toml" "$good_PORT"
printf '"veil.toml" = %s\n[mounts]\nallow = ["/etc/../etc/shadow"]\n%s\n' "'''" "'''" >>"$TEST_TMP/bad-files.init.toml"
conf "$TEST_TMP/bad-files.toml" "$TEST_TMP/bad-files.init.toml"
out=$("$VEIL_BIN" --config "$TEST_TMP/bad-files.toml" run --bundle "$TEST_TMP/motd-b" "$(cid bad-files)" 2>&1)
[[ $out == *'init-data veil.toml: [mounts] allow: "/etc/../etc/shadow" is not normalised'* ]]
ok $? "a path in [mounts] allow that is not normalised: refused, naming it ($out)"
assert_no_leftovers "$(cid bad-files)" "the refused configuration"

# ---- exec follows the init-data's policy ----

make_bundle "$TEST_TMP/sleeper" sh -c 'echo up; sleep 1000'
exec_in() { # exec_in NAME CONF: runs a sleeper, execs into it; prints exec's output and status
	"$VEIL_BIN" --config "$2" run --detach --bundle "$TEST_TMP/sleeper" "$(cid "$1")" >/dev/null 2>&1
	"$VEIL_BIN" --config "$2" exec "$(cid "$1")" echo inside 2>&1
	echo "status $?"
	"$VEIL_BIN" --config "$2" kill "$(cid "$1")" 9 >/dev/null 2>&1
	"$VEIL_BIN" --config "$2" delete --force "$(cid "$1")" >/dev/null 2>&1
}
out=$(exec_in exec-denied "$CONF")
echo "$out" | grep -q "exec into a confidential container is denied by the agent policy" && grep -q "^status 1$" <<<"$out"
ok $? "exec into a confidential container: denied by default"
# Allowed by the policy in init-data given as Kata's annotation (base64 of gzip).
init_data "$TEST_TMP/exec.init.toml" "$good_PORT" 'default ExecProcessRequest := true'
edit_spec "$TEST_TMP/sleeper" ".annotations[\"io.katacontainers.config.hypervisor.cc_init_data\"] = \"$(gzip -c "$TEST_TMP/exec.init.toml" | base64 -w0)\""
out=$(exec_in exec-allowed "$CONF")
is "$out" "inside
status 0" "exec allowed when the init-data's policy.rego allows it (Kata's annotation)"

# ---- refusals before any VM ----

CONF_PATH="$TEST_TMP/ordinary.toml" write_config
refused ordinary-vm "secrets need a confidential guest" "$TEST_TMP/ordinary.toml" "$TEST_TMP/b"
CONF_PATH="$TEST_TMP/snp.toml" write_config 'confidential_guest = true
tee = "snp"'
refused snp-here 'a confidential guest \(tee = "snp"\) cannot run on this host; missing: .*sev_snp.*/dev/sev.*sev-snp-guest.*firmware' \
	"$TEST_TMP/snp.toml" "$TEST_TMP/b"
grep -q "QEMU failed" "$TEST_TMP/err"
ok $((1 - $?)) "tee = \"snp\" here: the missing pieces, not a QEMU error"
conf "$TEST_TMP/template.toml" "$TEST_TMP/init.toml" "
[factory]
enable_template = true"
"$VEIL_BIN" --config "$TEST_TMP/template.toml" run --bundle "$TEST_TMP/b" "$(cid template)" 2>"$TEST_TMP/err"
grep -q "enable_template = true cannot serve confidential guests" "$TEST_TMP/err"
ok $? "templates for confidential guests: a configuration error that says why"

# ---- the VM cache: attestation after the claim, and the tenancy history ----

conf "$TEST_TMP/pool.toml" "$TEST_TMP/init.toml" "
[factory]
vm_cache_number = 1
vm_cache_endpoint = \"$SOCK\""
sed -i "s|^state_dir = .*|&\nreset = \"scrub\"|" "$TEST_TMP/pool.toml"
P=("$VEIL_BIN" --config "$TEST_TMP/pool.toml" --log "$LOG")
pool_paused() { "${P[@]}" factory status --json 2>/dev/null | jq -e "[.vms[]? | select(.state == \"paused\" and .scrubs == $1)] | length == 1" >/dev/null; }
"${P[@]}" factory init --detach >/dev/null && poll_until 180 pool_paused 0
ok $? "the factory pools a confidential VM"
# The KBS's log lines from here on.
kbs_lines=$(wc -l <"$TEST_TMP/good/kbs.log")
new_kbs_log() { tail -n "+$((kbs_lines + 1))" "$TEST_TMP/good/kbs.log"; }
auths=$(grep -c "auth session" "$TEST_TMP/good/kbs.log")
secret_bundle "$TEST_TMP/fresh" db=default/key/fresh
out=$("${P[@]}" run --bundle "$TEST_TMP/fresh" "$(cid pooled)" 2>"$TEST_TMP/err")
is "$out" "started
400 1000 $SECRET" "a pooled VM attests after its claim and gets a secret its policy keeps for never-used VMs"
grep -q "sandbox $(cid pooled): cold boot" "$LOG"
ok $((1 - $?)) "it came from the pool"
is "$(grep -c "auth session" "$TEST_TMP/good/kbs.log")" "$((auths + 1))" "with a fresh nonce from an auth made for it"
new_kbs_log | grep -q "tenancy: 0 earlier tenant(s), 0 scrubbed, 0 container(s) since"
ok $? "its evidence bound a tenancy history of a never-used VM"
poll_until 120 pool_paused 1
ok $? "the VM is scrubbed and pooled again"
secret_bundle "$TEST_TMP/scrubbed" db=default/key/scrubbed
out=$("${P[@]}" run --bundle "$TEST_TMP/scrubbed" "$(cid past-scrub)" 2>"$TEST_TMP/err")
is "$out" "started
400 1000 $SECRET" "the scrubbed VM gets a secret for VMs scrubbed after every tenant"
new_kbs_log | grep -q "tenancy: 1 earlier tenant(s), 1 scrubbed, 0 container(s) since"
ok $? "a VM past a scrub reports its tenancy count"
poll_until 120 pool_paused 2
refused past-scrub-fresh "KBS refused resource default/key/fresh \(403 PolicyDeny\): policy rule \"default/key/fresh\" demands a never-used VM \(vm = \"fresh\"\), but this VM served 2 tenant\(s\) before \(2 of them followed by a complete scrub\)" \
	"$TEST_TMP/pool.toml" "$TEST_TMP/fresh"
"${P[@]}" factory destroy >/dev/null 2>&1
