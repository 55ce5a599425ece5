#!/bin/bash
# Volumes and the writable layer through unmodified podman (docs/volumes.md).
# shared_fs = "virtio-fs": bind mounts and named volumes both ways, ownership
# and modes, :ro, -w, --tz, /run/.containerenv, /dev/shm, --tmpfs; the
# rootfs on the host, so restart, diff, cp, commit and build see the
# container's writes. shared_fs = "none": a directory is refused in one line
# and the writable layer outlives the VM. A confidential container gets no
# host file its measured init-data does not name, and podman's own by default. Nothing is left after any of it: no
# virtiofsd, no socket, no mount. The podman part passes against runc too
# (OCI_RUNTIME=/usr/sbin/runc).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/clients.sh"
source "$(dirname "$0")/volume-checks.sh"
write_config 'shared_fs = "virtio-fs"'
select_runtime
require_tools podman conmon jq
podman_setup
volume_client pm podman podman_import_busybox

check_volumes

# ---- podman's own: --tz, /run/.containerenv ----
is "$(pm run --rm --network none --tz=Asia/Tokyo "$IMG" date +%Z 2>"$E")" JST "--tz=Asia/Tokyo: /etc/localtime is the zone's"
out=$(pm run --rm --network none "$IMG" sh -c '[ -f /run/.containerenv ] && echo present' 2>"$E")
is "$out" present "/run/.containerenv is there"
out=$(pm run --rm --network none --privileged "$IMG" cat /run/.containerenv 2>"$E")
ok "$([[ $out == *'engine="podman-'* ]]; echo $?)" "/run/.containerenv is podman's, with what it says of a privileged container ($(echo "$out" | head -1))"
no_leftovers "--tz, /run/.containerenv"

check_writable_layer

[ "$RUNTIME_NAME" = veil ] || { is "$(pm ps -aq | wc -l)" 0 "no containers left"; exit 0; }

# ---- failures leave nothing: veil run of a bundle with a volume ----
# bundle_with_volume DIR SOURCE ARG... : a bundle running ARGs, SOURCE on /data.
bundle_with_volume() {
	local dir=$1 source=$2
	shift 2
	make_bundle "$dir" "$@"
	edit_spec "$dir" ".root.readonly = false | .mounts += [{\"destination\": \"/data\", \"type\": \"bind\", \"source\": \"$source\", \"options\": [\"rbind\"]}]"
}
bundle_with_volume "$TEST_TMP/vol" "$H" cat /data/hello
is "$(veil run --bundle "$TEST_TMP/vol" "$(cid vol)" 2>"$E")" from-host "veil run: a volume from a bundle's spec"
bundle_with_volume "$TEST_TMP/gone" "$H/no-such-dir" true
out=$(veil run --bundle "$TEST_TMP/gone" "$(cid gone)" 2>&1)
ok "$([ $? -ne 0 ] && [ "$out" = "veil: bind mount source $H/no-such-dir (for /data): No such file or directory" ]; echo $?)" \
	"a volume whose source is missing fails in one line ($out)"
assert_no_leftovers "$(cid gone)" "the missing source"
write_config "$(printf 'shared_fs = "virtio-fs"\nvirtio_fs_daemon = "%s/no-virtiofsd"' "$TEST_TMP")"
out=$(veil run --bundle "$TEST_TMP/vol" "$(cid nodaemon)" 2>&1)
ok "$([ $? -ne 0 ] && [[ $out == "veil: starting virtiofsd ($TEST_TMP/no-virtiofsd): cannot execute $TEST_TMP/no-virtiofsd: No such file or directory" ]]; echo $?)" \
	"a virtio_fs_daemon that is not there fails in one line ($out)"
assert_no_leftovers "$(cid nodaemon)" "the missing daemon"
no_leftovers "failed starts"

write_config 'shared_fs = "virtio-fs"'
bundle_with_volume "$TEST_TMP/long" "$H" sleep "$LONG_SLEEP"
"${VEIL[@]}" run --bundle "$TEST_TMP/long" "$(cid killed)" >/dev/null 2>&1 &
run_pid=$!
has_daemon() { new_processes | awk '$2 ~ /virtiofsd$/' | grep -q .; }
check "a container with a volume runs (its virtiofsd is up)" poll_until 300 has_daemon
sleep_runs() { pgrep -f "qemu-system.*-name veil-$(cid killed)" >/dev/null; }
check "and its VM" poll_until 10 sleep_runs
kill -9 "$run_pid"
wait "$run_pid" 2>/dev/null
poll_until 10 eval '! sleep_runs'
ok $? "veil run killed with SIGKILL: its VM goes with it"
# Its state directory stays until a delete, as runc's does.
check "veil delete --force" veil delete --force "$(cid killed)"
no_leftovers "veil run killed with SIGKILL: its virtiofsd and view go with it"

id=$(pm run -d --network none -v "$H:/data" "$IMG" sleep "$LONG_SLEEP" 2>"$E")
check "a container with a volume is running" wait_until podman_status_is "$id" running || diag "$E"
kill -9 $(new_processes | awk '$2 ~ /virtiofsd$/ {print $1}')
check "its virtiofsd killed, the container stops (the guest would wait on it forever)" \
	wait_until podman_status_is "$id" exited
check "podman rm" pm rm "$id"
no_leftovers "a virtiofsd that died"

# ---- the VM cache: a pooled VM gets its virtio-fs device at claim ----
SOCK="$TEST_TMP/cache.sock"
factory_config 1
check "veil factory init" "${VEIL[@]}" factory init --detach --pid-file "$TEST_TMP/factory.pid"
on_exit "$(printf '%q ' "${VEIL[@]}") factory destroy"
pooled() { [ "$(pooled_count)" -ge 1 ]; }
check "the factory pools a VM with shared memory" poll_until 300 pooled
out=$(veil --log "$TEST_TMP/cached.log" run --bundle "$TEST_TMP/vol" "$(cid cached)" 2>"$E")
is "$out" from-host "a container with a volume in a pooled VM (the device hot-plugged at claim)"
is "$(status_json | jq .claimed)" 1 "the VM came from the pool"
grep -q "cold boot" "$TEST_TMP/cached.log" && diag "$TEST_TMP/cached.log"
check "veil factory destroy" "${VEIL[@]}" factory destroy
no_leftovers "the VM cache"

# ---- a template cannot serve virtio-fs: skipped, saying why ----
write_config 'shared_fs = "virtio-fs"'
factory_config 0 "$TEST_TMP/template"
out=$(veil --log "$TEST_TMP/template.log" run --bundle "$TEST_TMP/vol" "$(cid templ)" 2>"$E")
is "$out" from-host "with enable_template, a container with virtio-fs still starts"
check "booted, saying why the template's clone was skipped" \
	grep -q "no clone of the template: virtio-fs needs the VM's memory shared, and a clone maps the template's privately" \
	"$TEST_TMP/template.log"
out=$("${VEIL[@]}" factory init 2>&1)
rc=$?
ok "$([ "$rc" -ne 0 ] && [ "$out" = 'veil: no pool (vm_cache_number = 0) and no template to build: shared_fs = "virtio-fs" needs the VMs'"'"' memory shared, and a clone maps the template'"'"'s privately' ]; echo $?)" \
	"with no pool, veil factory init refuses to build a template no container could clone ($out)"
ok "$([ ! -e "$TEST_TMP/template" ]; echo $?)" "and builds nothing"

# ---- shared_fs = "none" ----
write_config
out=$(pm run --rm --network none -v "$H:/data" "$IMG" true 2>&1)
rc=$?
ok "$([ "$rc" -ne 0 ] && [[ $out == *"bind mount of directory $H on /data refused"*'set shared_fs = "virtio-fs"'* ]]; echo $?)" \
	"shared_fs = \"none\": a directory mount is refused, naming it and how to share it ($(echo "$out" | tail -1 | cut -c1-200))"
vms() { ls -A "$STATE"; new_processes | awk '$2 ~ /qemu|virtiofsd$/ {print $2}'; }
no_vm() { [ -z "$(vms)" ]; }
poll_until 10 no_vm
ok "$?" "and nothing is left of the container (no state, no VM)$(vms | tr '\n' ' ')"

id=$(pm run -d --network none "$IMG" sleep "$LONG_SLEEP" 2>"$E")
check "shared_fs = \"none\": a container is running" wait_until podman_status_is "$id" running || diag "$E"
pm exec "$id" sh -c 'echo on-its-disk >/kept' 2>"$E"
check "podman restart" pm restart -t 0 "$id"
is "$(pm exec "$id" cat /kept 2>"$E")" on-its-disk "shared_fs = \"none\": the writable layer outlives the VM (restart)"
check "podman stop" pm stop -t 0 "$id"
check "podman start" pm start "$id"
is "$(pm exec "$id" cat /kept 2>"$E")" on-its-disk "and a stop and a start"
check "podman rm -f" pm rm -f -t 0 "$id"
out=$(pm run --rm --network none --shm-size=16m "$IMG" sh -c 'df -k /dev/shm | tail -1' 2>"$E")
is "$(echo "$out" | awk '{print $2}')" 16384 "shared_fs = \"none\": /dev/shm is a guest tmpfs of the size asked for"
no_leftovers "shared_fs = \"none\""

# ---- a confidential container ----
write_config "$(printf 'confidential_guest = true\ntee = "emulated"\nemulated_tee_dir = "%s"' "$TEST_TMP/chip")"
make_bundle "$TEST_TMP/conf" true
echo secret-of-the-host >"$H/file"
edit_spec "$TEST_TMP/conf" ".mounts += [{\"destination\": \"/etc/motd\", \"type\": \"bind\", \"source\": \"$H/file\", \"options\": [\"rbind\", \"ro\"]}]"
out=$(veil run --bundle "$TEST_TMP/conf" "$(cid conf)" 2>&1)
rc=$?
ok "$([ "$rc" -ne 0 ] && [[ $out == *"bind mount of $H/file on /etc/motd refused: a confidential container gets no host file that its measured init-data does not name (veil.toml [mounts] allow)"* ]]; echo $?)" \
	"confidential: a host file the policy does not name is refused ($out)"
assert_no_leftovers "$(cid conf)" "the refused confidential container"
out=$(pm run --rm --network none -v "$H/file:/etc/motd:ro" "$IMG" true 2>&1)
rc=$?
ok "$([ "$rc" -ne 0 ] && [[ $out == *"bind mount of $H/file on /etc/motd refused: a confidential container"* ]]; echo $?)" \
	"confidential, podman -v of a file the policy does not name: refused ($(echo "$out" | tail -1 | cut -c1-200))"
# Without [mounts] in init-data, podman's own files are allowed: podman run works.
out=$(pm run --rm --network none --hostname conf-host "$IMG" sh -c \
	'echo "$(cat /etc/hostname)"; grep -q localhost /etc/hosts && echo hosts; test -f /run/.containerenv && echo containerenv' 2>"$E")
is "$out" "conf-host
hosts
containerenv" "confidential, podman run: /etc/hostname, /etc/hosts and /run/.containerenv reach the container (the default policy)"
[ -n "$out" ] || diag "$E"
# podman --read-only mounts a tmpfs on /run and gives no /run/.containerenv.
out=$(pm run --rm --network none --read-only --hostname ro-host "$IMG" sh -c \
	'echo "$(cat /etc/hostname)"; grep -q localhost /etc/hosts && echo hosts; touch /probe 2>/dev/null || echo read-only' 2>"$E")
is "$out" "ro-host
hosts
read-only" "confidential, podman run --read-only: podman's files reach a read-only root"
[ -n "$out" ] || diag "$E"
no_leftovers "confidential"

is "$(pm ps -aq | wc -l)" 0 "no containers left"
no_leftovers "the whole test"
