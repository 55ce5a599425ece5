#!/bin/bash
# podman pods and `--network container:NAME` on veil: a container whose
# namespace paths name another veil container's monitor is created in that
# container's VM (hot-plugged) and shares those namespaces there
# (runtime/join.h, docs/oci-cli.md). Real podman, real guests; the VMs get
# spare PCIe root ports on q35 so that containers can join them.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/clients.sh"
select_runtime
require_tools podman conmon catatonit
write_config 'machine_type = "q35"'
podman_setup
IMG=localhost/veil-it-busybox
E="$TEST_TMP/err"

# The QEMUs of this test (its mark is in their environment).
qemus() { new_processes | awk '$2 ~ /qemu-system/ {print $1}' | sort; }
qemu_count() { qemus | grep -c .; }

check "podman import of a busybox rootfs" podman_import_busybox "$IMG" || exit 1
baseline=$(qemu_count)

# ---- a pod: localhost and the hostname shared, one VM ----
check "podman pod create --hostname podhost" pm pod create --name p1 --hostname podhost --network none || exit 1
web=$(pm run -d --pod p1 --name web "$IMG" sh -c \
	'mkdir -p /www && echo hello-from-web >/www/index.html && exec httpd -f -p 127.0.0.1:8080 -h /www' 2>"$E")
check "a container in the pod is running" wait_until podman_status_is web running || diag "$E"
got=
for _ in $(seq 1 50); do
	got=$(pm run --rm --pod p1 "$IMG" wget -qO- http://127.0.0.1:8080/ 2>"$E") && break
	sleep 0.2
done
is "$got" "hello-from-web" "another container of the pod reaches it on 127.0.0.1"
is "$(pm exec web hostname 2>"$E")" podhost "the pod's hostname in one container"
is "$(pm run --rm --pod p1 "$IMG" hostname 2>"$E")" podhost "the pod's hostname in another"
infra=$(pm pod inspect --format '{{.InfraContainerID}}' p1)
is "$(qemu_count)" "$((baseline + 1))" "the pod's containers share one VM (one QEMU)"
ipc_key=$(pm exec web sh -c 'ls -l /proc/self/ns/ipc' 2>"$E" | sed 's/.*ipc:/ipc:/')
is "$(pm run --rm --pod p1 "$IMG" sh -c 'ls -l /proc/self/ns/ipc' 2>"$E" | sed 's/.*ipc:/ipc:/')" "$ipc_key" \
	"the pod's containers share the ipc namespace in the guest"
mnt_web=$(pm exec web sh -c 'ls -l /proc/self/ns/mnt' 2>"$E" | sed 's/.*mnt:/mnt:/')
mnt_other=$(pm run --rm --pod p1 "$IMG" sh -c 'ls -l /proc/self/ns/mnt' 2>"$E" | sed 's/.*mnt:/mnt:/')
ok "$([ -n "$mnt_web" ] && [ "$mnt_web" != "$mnt_other" ]; echo $?)" "namespaces not named stay private (mount: $mnt_web, $mnt_other)"

# ---- a member's volumes: host files copied in, a host directory refused ----
echo member-file >"$TEST_TMP/motd"
is "$(pm run --rm --pod p1 -v "$TEST_TMP/motd:/motd:ro" "$IMG" cat /motd 2>"$E")" member-file \
	"a member's bind-mounted host file is copied into the VM"
mkdir -p "$TEST_TMP/vol"
out=$(pm run --rm --pod p1 -v "$TEST_TMP/vol:/data" "$IMG" true 2>&1); rc=$?
ok "$([ $rc -ne 0 ] && grep -q "bind mount of directory $TEST_TMP/vol on /data refused: a container that joins" <<<"$out"; echo $?)" \
	"a member's host directory is refused in one line: $(grep -o 'bind mount of directory.*' <<<"$out" | head -n 1 | cut -c1-200)"
is "$(qemu_count)" "$((baseline + 1))" "the refused member left no QEMU behind"

# ---- a member paused alone: frozen in the guest, the VM runs on ----
check "podman pause of a member" pm pause web
is "$(podman_status web)" paused "the member is paused"
is "$(pm run --rm --pod p1 "$IMG" echo alive 2>"$E")" alive "another container of the pod still runs meanwhile"
check "podman unpause of the member" pm unpause web
is "$(pm run --rm --pod p1 "$IMG" wget -qO- http://127.0.0.1:8080/ 2>"$E")" "hello-from-web" \
	"the unpaused member serves again"

# ---- one member goes, the others stay ----
side=$(pm run -d --pod p1 --name side "$IMG" sleep "$LONG_SLEEP" 2>"$E")
check "a second long-running member" wait_until podman_status_is side running || diag "$E"
check "podman rm -f of one member" pm rm -f side
is "$(podman_status web)" running "the other member still runs"
is "$(pm run --rm --pod p1 "$IMG" wget -qO- http://127.0.0.1:8080/ 2>"$E")" "hello-from-web" \
	"and still serves its pod on localhost"
check "podman stop of a member" pm stop -t "$STOP_TIMEOUT" web
is "$(podman_status web)" exited "the stopped member has exited"
is "$(podman_status "$infra")" running "the infra container runs on after its members stop"
check "podman start of a stopped member joins the VM again" pm start web
is "$(pm run --rm --pod p1 "$IMG" wget -qO- http://127.0.0.1:8080/ 2>"$E")" "hello-from-web" \
	"the restarted member serves the pod again"

# ---- pod rm leaves nothing ----
check "podman pod rm -f" pm pod rm -f p1
is "$(qemu_count)" "$baseline" "pod rm: the pod's QEMU is gone"
left=$(ls -A "$STATE" 2>/dev/null)
is "$left" "" "pod rm: no state directory, socket or image left under the runtime's root"

# ---- a pod sharing its pid namespace too ----
check "podman pod create --share ipc,net,uts,pid" pm pod create --name p2 --share ipc,net,uts,pid --network none
out=$(pm run --rm --pod p2 "$IMG" ps -o pid,args 2>"$E")
ok "$(grep -q '^ *1 .*catatonit' <<<"$out"; echo $?)" "with pid shared, a member sees the infra's pause process as pid 1"
[[ $out == *catatonit* ]] || { echo "$out" | sed 's/^/#   /'; diag "$E"; }
check "podman pod rm -f p2" pm pod rm -f p2

# ---- podman run --network container:NAME ----
b=$(pm run -d --name base "$IMG" sh -c \
	'mkdir -p /www && echo hello-from-base >/www/index.html && exec httpd -f -p 127.0.0.1:8081 -h /www' 2>"$E")
check "a plain container" wait_until podman_status_is base running || diag "$E"
out=$(pm run --rm --network container:base "$IMG" sh -c 'wget -qO- http://127.0.0.1:8081/' 2>"$E")
is "$out" "hello-from-base" "--network container:base: localhost is base's"
[ "$out" = hello-from-base ] || diag "$E"
uts_base=$(pm exec base hostname 2>"$E")
uts_joined=$(pm run --rm --network container:base "$IMG" hostname 2>"$E")
ok "$([ -n "$uts_joined" ] && [ "$uts_joined" != "$uts_base" ]; echo $?)" \
	"--network container:base: the uts namespace stays its own ($uts_joined, not $uts_base)"
check "podman rm -f base" pm rm -f base

# ---- refused: a VM without spare root ports, a host process, another root ----
write_config
pm run -d --name small "$IMG" sleep "$LONG_SLEEP" >/dev/null 2>"$E"
check "a container on microvm" wait_until podman_status_is small running || diag "$E"
before=$(qemu_count)
out=$(pm run --rm --network container:small "$IMG" true 2>&1); rc=$?
ok "$([ $rc -ne 0 ] && grep -q 'no spare PCIe root port' <<<"$out"; echo $?)" \
	"joining a microvm VM is refused: $(tail -n 1 <<<"$out" | cut -c1-160)"
is "$(qemu_count)" "$before" "the refused container left no QEMU behind"
pm rm -f small >/dev/null 2>&1

make_bundle "$TEST_TMP/hostns" true
edit_spec "$TEST_TMP/hostns" "(.linux.namespaces[] | select(.type == \"ipc\")).path = \"/proc/$$/ns/ipc\""
veil create --bundle "$TEST_TMP/hostns" "$(cid hostns)" >/dev/null 2>"$E"; rc=$?
out=$(cat "$E")
ok "$([ $rc -ne 0 ] && [ "$(wc -l <<<"$out")" = 1 ] && grep -q "host.s ipc namespace" <<<"$out"; echo $?)" "a namespace path to a host process is refused: $out"
is "$(ls -A "$STATE")" "" "nothing left of it"

other_root=$TEST_TMP/other-root
make_bundle "$TEST_TMP/lone" sleep "$LONG_SLEEP"
veil --root "$other_root" create --bundle "$TEST_TMP/lone" lone >/dev/null 2>"$E"
lone_pid=$(veil --root "$other_root" state lone 2>/dev/null | jq -r .pid)
make_bundle "$TEST_TMP/cross" true
edit_spec "$TEST_TMP/cross" \
	"(.linux.namespaces[] | select(.type == \"network\")).path = \"/proc/$lone_pid/ns/net\""
veil create --bundle "$TEST_TMP/cross" "$(cid cross)" >/dev/null 2>"$E"; rc=$?
out=$(cat "$E")
ok "$([ $rc -ne 0 ] && grep -q 'under another --root' <<<"$out"; echo $?)" \
	"a path to a veil container of another --root is refused: $out"
veil --root "$other_root" delete --force lone >/dev/null 2>&1
is "$(ls -A "$STATE")" "" "nothing left of it"

# ---- refused by the VM's monitor: other init-data, secrets of a joiner ----
write_config 'machine_type = "q35"'
make_bundle "$TEST_TMP/own" sleep "$LONG_SLEEP"
veil create --bundle "$TEST_TMP/own" "$(cid own)" >/dev/null 2>"$E"
own_pid=$(veil state "$(cid own)" 2>/dev/null | jq -r .pid)
for ann in '"io.veil.init_data": "[data]\n"' '"io.veil.secret.key": "kbs:///default/key/1"'; do
	rm -rf "$TEST_TMP/joiner"
	make_bundle "$TEST_TMP/joiner" true
	edit_spec "$TEST_TMP/joiner" \
		"(.linux.namespaces[] | select(.type == \"network\")).path = \"/proc/$own_pid/ns/net\" | .annotations = {$ann}"
	veil create --bundle "$TEST_TMP/joiner" "$(cid joiner)" >/dev/null 2>"$E"; rc=$?
	out=$(cat "$E")
	ok "$([ $rc -ne 0 ] && [ "$(wc -l <<<"$out")" = 1 ] && grep -q "init-data\|secrets are fetched" <<<"$out"; echo $?)" \
		"a joiner with ${ann%%:*} is refused: $out"
	is "$(ls -A "$STATE")" "$(cid own)" "nothing left of it"
done
is "$(veil state "$(cid own)" 2>/dev/null | jq -r .status)" created "the VM's own container is untouched"
veil delete --force "$(cid own)" >/dev/null 2>&1
is "$(ls -A "$STATE")" "" "delete of the VM's own container leaves nothing"
