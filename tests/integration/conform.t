#!/bin/bash
# OCI runtime-spec conformance inside the guest, with runc as the reference
# on the same bundle where runc has the feature: capabilities, seccomp,
# no_new_privileges, rlimits, oomScoreAdj, sysctls, devices and device rules,
# user and time namespaces, rootfs propagation, resources, HOME, the root's
# mode, host files, the executable check at create, veil ps, the clock after
# pause, the host cgroup and the host netns. Each feature is read from inside
# the container; each refusal is one line and leaves nothing behind.
source "$(dirname "$0")/lib.sh"
write_config
B="$TEST_TMP/bundle"
RUNC_ROOT="$TEST_TMP/runc-root"
E="$TEST_TMP/err"
LOG="$TEST_TMP/veil.log"
# Warnings go to the log, as runc's to its --log.
veil() { "$VEIL_BIN" --config "$CONF" --log "$LOG" "$@"; }
diag() { [ -s "$1" ] && tail -n 15 "$1" | sed 's/^/#   /'; return 0; }
# make_bundle's arguments are split at newlines: scripts stay on one line.

# run_both NAME : runs $B with veil and with runc; $V and $R get their stdout.
run_both() {
	V=$(veil run --bundle "$B" "$(cid "$1")" 2>"$E.veil")
	R=$(runc --root "$RUNC_ROOT" run --bundle "$B" "runc-$$-$1" 2>"$E.runc" </dev/null)
	[ "$V" = "$R" ] || { diag "$E.veil"; diag "$E.runc"; }
}
# refused NAME NEEDLE : veil run of $B fails with one line containing NEEDLE, leaving nothing.
refused() {
	veil run --bundle "$B" "$(cid "$1")" >/dev/null 2>"$E"
	local rc=$?
	ok "$([ $rc -ne 0 ] && [ "$(grep -c . "$E")" -eq 1 ] && grep -qF -- "$2" "$E"; echo $?)" "$1: refused: $2"
	[ $rc -ne 0 ] && grep -qF -- "$2" "$E" || diag "$E"
	assert_no_leftovers "$(cid "$1")" "$1"
}
status_line() { echo 'grep -E "^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):" /proc/self/status'; }

# ---- capabilities, no_new_privileges ----
make_bundle "$B" sh -c "$(status_line)"
run_both caps-default
is "$V" "$R" "runc's default capabilities and no_new_privileges, as runc applies them"
ok "$(grep -q 'CapEff:.*0000000020000420' <<<"$V" && grep -q 'NoNewPrivs:.1' <<<"$V"; echo $?)" \
	"CapEff is AUDIT_WRITE, KILL, NET_BIND_SERVICE and NoNewPrivs is 1 inside the guest"

edit_spec "$B" '.process.user = {uid: 1000, gid: 1000} | .process.noNewPrivileges = false |
	.process.capabilities = {bounding: ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"], effective: ["CAP_KILL"],
	  permitted: ["CAP_KILL", "CAP_NET_RAW"], inheritable: ["CAP_NET_RAW"], ambient: ["CAP_NET_RAW"]}'
run_both caps-user
is "$V" "$R" "all five sets for a non-root user, ambient included, as runc"
ok "$(grep -q 'CapAmb:.0000000000002000' <<<"$V" && grep -q 'CapBnd:.0000000000002021' <<<"$V"; echo $?)" \
	"CapAmb is NET_RAW and CapBnd CHOWN, KILL, NET_RAW"

edit_spec "$B" '.process.capabilities = {bounding: ["CAP_KILL", "CAP_NOT_A_CAPABILITY"], effective: [], permitted: []}'
run_both caps-unknown
is "$V" "$R" "an unknown capability is ignored, as runc ignores it"
grep -q 'ignoring unknown or unavailable capabilities: \[CAP_NOT_A_CAPABILITY\]' "$LOG"
ok $? "and warned about"

# ---- seccomp ----
make_bundle "$B" sh -c "$(status_line) | grep Seccomp:; touch /tmp/f; mkdir /tmp/d 2>&1; chmod 4755 /tmp/f 2>&1; echo rc=\$?; chmod 755 /tmp/f && echo chmod-755-ok; sync 2>/dev/null; echo sync=\$?"
edit_spec "$B" '.root.readonly = false | .linux.seccomp = {defaultAction: "SCMP_ACT_ALLOW",
	architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"], syscalls: [
	{names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO", errnoRet: 1},
	{names: ["fchmodat"], action: "SCMP_ACT_ERRNO", errnoRet: 13,
	 args: [{index: 2, value: 2048, valueTwo: 2048, op: "SCMP_CMP_MASKED_EQ"}]},
	{names: ["chmod"], action: "SCMP_ACT_ERRNO", errnoRet: 13,
	 args: [{index: 1, value: 2048, valueTwo: 2048, op: "SCMP_CMP_MASKED_EQ"}]},
	{names: ["sync"], action: "SCMP_ACT_KILL_PROCESS"},
	{names: ["no_such_syscall_at_all"], action: "SCMP_ACT_ERRNO"}]}'
run_both seccomp
is "$V" "$R" "a seccomp profile: errnoRet, a masked argument condition, KILL_PROCESS, an unknown syscall skipped"
is "$V" "Seccomp:	2
mkdir: can't create directory '/tmp/d': Operation not permitted
chmod: /tmp/f: Permission denied
rc=1
chmod-755-ok
sync=159" "inside: filter mode 2, mkdir EPERM, chmod u+s EACCES but 755 allowed, sync killed by SIGSYS"
edit_spec "$B" '.linux.seccomp.defaultAction = "SCMP_ACT_NOTIFY"'
refused seccomp-notify "SCMP_ACT_NOTIFY needs a seccomp agent on the host"

# ---- rlimits, oomScoreAdj, HOME ----
make_bundle "$B" sh -c 'ulimit -n; ulimit -Hn; cat /proc/self/oom_score_adj; echo "HOME=$HOME"'
edit_spec "$B" '.process.oomScoreAdj = 500 | .process.rlimits = [{type: "RLIMIT_NOFILE", hard: 2048, soft: 512}] |
	.process.env = ["PATH=/bin"] | .process.user = {uid: 1000, gid: 1000}'
run_both limits
is "$V" "$R" "rlimits, oomScoreAdj and HOME from /etc/passwd for uid 1000, as runc"
is "$V" "512
2048
500
HOME=/home/user" "inside: NOFILE 512/2048, oom_score_adj 500, HOME=/home/user"

# ---- sysctls ----
make_bundle "$B" sh -c 'cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmax /proc/sys/kernel/msgmax'
edit_spec "$B" '.linux.sysctl = {"net.ipv4.ip_forward": "1", "kernel.shmmax": "1073741824", "kernel/msgmax": "16384"}'
run_both sysctl
is "$V" "$R" "namespaced sysctls (the slash form too), as runc"
is "$V" "1
1073741824
16384" "inside: the values written"
edit_spec "$B" '.linux.sysctl = {"vm.overcommit_memory": "1"}'
refused sysctl-global "sysctl \"vm.overcommit_memory\" is not in a separate kernel namespace"

# ---- devices and device rules ----
make_bundle "$B" sh -c 'stat -c "%t:%T %a %u:%g %F" /dev/mynull /dev/fifo0; echo x >/dev/mynull && echo null-writable; head -c1 /dev/mymem 2>&1 | grep -o "Operation not permitted"'
edit_spec "$B" '.linux.devices = [{path: "/dev/mynull", type: "c", major: 1, minor: 3, fileMode: 438, uid: 1000, gid: 1000},
	{path: "/dev/fifo0", type: "p", fileMode: 420}, {path: "/dev/mymem", type: "c", major: 1, minor: 1}] |
	.linux.resources.devices = [{allow: false, access: "rwm"}, {allow: true, type: "c", major: 1, minor: 3, access: "rw"}]'
run_both devices
is "$V" "$R" "devices made with mode and owner; the device rules enforced, as runc"
is "$V" "1:3 666 1000:1000 character special file
0:0 644 0:0 fifo
null-writable
Operation not permitted" "inside: /dev/mynull 1:3 0666 1000:1000, a fifo, c 1:1 denied by the rules"
edit_spec "$B" '.linux.resources.devices = [{allow: true, type: "c", major: -1, access: "rwm"}, {allow: false, type: "c", major: 1, minor: 3, access: "r"}]'
refused device-hole "cannot punch a hole in the wildcard rule"

# ---- user namespace ----
# The container's root (host uid 100000 for runc) must reach the bundle.
chmod 711 "$TEST_TMP"
make_bundle "$B" sh -c 'cat /proc/self/uid_map /proc/self/gid_map; id -u; echo x >/dev/null && echo devnull-ok; ls /proc/1 >/dev/null && echo proc-ok'
edit_spec "$B" '.linux.namespaces += [{type: "user"}] | .linux.uidMappings = [{containerID: 0, hostID: 100000, size: 65536}] |
	.linux.gidMappings = [{containerID: 0, hostID: 100000, size: 65536}]'
run_both userns
is "$V" "$R" "a user namespace with uid and gid mappings, as runc"
is "$(echo "$V" | tr -s ' ')" " 0 100000 65536
 0 100000 65536
0
devnull-ok
proc-ok" "inside: the maps, root in it, /dev/null (bound, as runc does in a user namespace) and proc usable"
edit_spec "$B" 'del(.linux.uidMappings) | del(.linux.gidMappings)'
refused userns-nomap "a user namespace needs uid mappings"

# ---- time and cgroup namespaces, propagation, domainname, resources ----
make_bundle "$B" sh -c 'cut -d. -f1 /proc/uptime; cat /proc/self/cgroup; grep " / / " /proc/self/mountinfo | grep -o unbindable; cat /proc/sys/kernel/domainname; cd /sys/fs/cgroup && cat memory.max memory.low pids.max cpu.weight cpu.max cpuset.cpus'
edit_spec "$B" '.linux.namespaces += [{type: "time"}, {type: "cgroup"}] |
	.linux.timeOffsets = {boottime: {secs: 864000, nanosecs: 0}, monotonic: {secs: 864000}} |
	.linux.rootfsPropagation = "unbindable" | .domainname = "example.org" |
	.linux.resources.memory = {limit: 67108864, reservation: 33554432} | .linux.resources.pids = {limit: 77} |
	.linux.resources.cpu = {shares: 1024, quota: 50000, period: 100000, cpus: "0"}'
out=$(veil run --bundle "$B" "$(cid ns)" 2>"$E")
uptime=$(echo "$out" | head -n 1)
ok "$([ "${uptime:-0}" -ge 864000 ]; echo $?)" "time namespace: the boottime offset shows in /proc/uptime ($uptime)"
is "$(echo "$out" | sed -n 2,3p)" "0::/
unbindable" "cgroup namespace: the container's cgroup is its root; the root mount is unbindable"
is "$(echo "$out" | tail -n +4)" "example.org
67108864
33554432
77
100
50000 100000
0" "domainname; memory.max, memory.low, pids.max, cpu.weight (from shares 1024), cpu.max, cpuset.cpus in the guest"
[ "$(echo "$out" | wc -l)" -gt 4 ] || diag "$E"

# ---- the root's mode, host files ----
make_bundle "$B" sh -c 'stat -c %a /; cat /etc/hosts; ls /data 2>&1 | grep -c "No such"'
chmod 555 "$B/rootfs"
printf '10.1.2.3 from-the-host\n' >"$TEST_TMP/hosts"
mkdir -p "$TEST_TMP/datadir"
head -c $((100 * 1024)) /dev/zero >"$TEST_TMP/big"
edit_spec "$B" ".root.readonly = false | .mounts += [
	{destination: \"/etc/hosts\", type: \"bind\", source: \"$TEST_TMP/hosts\", options: [\"rbind\", \"ro\", \"rprivate\"]},
	{destination: \"/big\", type: \"bind\", source: \"$TEST_TMP/big\", options: [\"bind\"]}]"
V=$(veil run --bundle "$B" "$(cid files)" 2>"$E")
is "$V" "555
10.1.2.3 from-the-host
1" "the root keeps the image's mode 555; a small host file is copied in"
ok "$(grep -q "bind mount of $TEST_TMP/big on /big skipped: it is larger than 64 KiB" "$LOG"; echo $?)" \
	"the skipped large file is warned about, with why"
# A directory needs shared_fs = "virtio-fs" (docs/volumes.md): refused, never dropped.
cp "$B/config.json" "$TEST_TMP/files.json"
edit_spec "$B" ".mounts += [{destination: \"/data\", type: \"bind\", source: \"$TEST_TMP/datadir\", options: [\"rbind\"]}]"
out=$(veil run --bundle "$B" "$(cid dir)" 2>&1)
rc=$?
ok "$([ "$rc" -ne 0 ] && [[ $out == "veil: bind mount of directory $TEST_TMP/datadir on /data refused: "* ]]; echo $?)" \
	"a host directory is refused in one line with shared_fs = \"none\" ($(echo "$out" | cut -c1-120))"
cp "$TEST_TMP/files.json" "$B/config.json"
edit_spec "$B" '.mounts |= map(select(.destination != "/big"))'
R=$(runc --root "$RUNC_ROOT" run --bundle "$B" "runc-$$-files" 2>/dev/null </dev/null | head -n 2)
is "$(echo "$V" | head -n 2)" "$R" "the root's mode and the host file as with runc"
chmod 755 "$B/rootfs"

# ---- a missing executable fails the create ----
make_bundle "$B" no-such-command
"${VEIL[@]}" create --bundle "$B" "$(cid noexec)" >/dev/null 2>"$E"
rc=$?
runc --root "$RUNC_ROOT" create --bundle "$B" "runc-$$-noexec" >/dev/null 2>"$E.runc"
# runc's log escapes the quotes: \"no-such-command\".
ok "$([ $rc -ne 0 ] && grep -qF 'exec: "no-such-command": executable file not found in $PATH' "$E" &&
	grep -qF 'no-such-command\": executable file not found in $PATH' "$E.runc"; echo $?)" \
	"a missing executable fails create in runc's words"
assert_no_leftovers "$(cid noexec)" "a create with a missing executable"
runc --root "$RUNC_ROOT" delete --force "runc-$$-noexec" >/dev/null 2>&1

# ---- namespace paths, LSMs, cgroups and the host netns ----
make_bundle "$B" true
edit_spec "$B" '.linux.namespaces |= map(if .type == "ipc" then .path = "/proc/self/ns/net" else . end)'
refused nspath-type "is a network namespace, not ipc: failed to setns into ipc namespace: Invalid argument"
edit_spec "$B" ".linux.namespaces |= map(if .type == \"ipc\" then .path = \"/proc/$$/ns/ipc\" else . end)"
refused nspath-host "a container in a VM cannot join the host's ipc namespace"
make_bundle "$B" true
edit_spec "$B" '.process.apparmorProfile = "docker-default"'
refused apparmor "cannot be applied: the guest kernel has no AppArmor"
make_bundle "$B" true
edit_spec "$B" '.linux.cgroupsPath = "system.slice:veil:x"'
"$VEIL_BIN" --config "$CONF" --systemd-cgroup run --bundle "$B" "$(cid systemd)" >/dev/null 2>"$E"
ok "$([ $? -ne 0 ] && grep -q "systemd not running on this host, can't use systemd as cgroups manager" "$E"; echo $?)" \
	"--systemd-cgroup without systemd is refused in runc's words"
assert_no_leftovers "$(cid systemd)" "--systemd-cgroup"

CG="veil-it-$$"
make_bundle "$B" sleep 9999
edit_spec "$B" ".linux.cgroupsPath = \"/$CG/c1\" | .linux.resources.memory = {limit: 67108864} |
	.linux.resources.cpu = {quota: 50000, period: 100000}"
ID=$(cid cg)
"${VEIL[@]}" create --bundle "$B" --pid-file "$TEST_TMP/cg.pid" "$ID" 2>"$E"
veil start "$ID" 2>>"$E"
mon=$(cat "$TEST_TMP/cg.pid" 2>/dev/null)
qemu=$(pgrep -f "qemu-system.*-name veil-$ID" | head -n 1)
if [ -d /sys/fs/cgroup/memory ]; then
	mem=/sys/fs/cgroup/memory/$CG/c1 cpu=/sys/fs/cgroup/cpu/$CG/c1
	limit=$(cat "$mem/memory.limit_in_bytes" 2>/dev/null) quota=$(cat "$cpu/cpu.cfs_quota_us" 2>/dev/null)
else
	mem=/sys/fs/cgroup/$CG/c1 cpu=$mem
	limit=$(cat "$mem/memory.max" 2>/dev/null) quota=$(cut -d' ' -f1 "$cpu/cpu.max" 2>/dev/null)
fi
ok "$(grep -qx "$mon" "$mem/cgroup.procs" && grep -qx "${qemu:-none}" "$mem/cgroup.procs" && grep -qx "$qemu" "$cpu/cgroup.procs"; echo $?)" \
	"the monitor and QEMU are in the host cgroup /$CG/c1"
is "$limit:$quota" "$(((256 + 64 + 192) << 20)):50000" \
	"its limits: the VM's memory (256 MiB + the 64 MiB limit) plus 192 MiB for QEMU; the container's CPU quota"
ok "$([ "$(readlink "/proc/$mon/ns/net")" != "$(readlink /proc/self/ns/net)" ]; echo $?)" \
	"the pid veil reports lives in a network namespace of its own on the host"
# host_links: the host's interfaces, less the veths and test bridges that other
# users' containers (CNI, network.t) add and remove meanwhile on a shared host.
host_links() { ip -o link | cut -d: -f2 | grep -v -e '^ veth' -e '^ veilbr' | sort; }
before=$(host_links)

# ---- veil ps, and the clock across a pause ----
veil exec --detach "$ID" sleep 4242
is "$(veil ps "$ID" | awk 'NR > 1 {print $(NF - 1), $NF}' | sort | tr '\n' ',')" "sleep 4242,sleep 9999," \
	"veil ps shows the guest's processes: the init and the exec'd one"
ok "$(veil ps --format json "$ID" | jq -e --argjson m "$mon" --argjson q "${qemu:-0}" 'any(. == $m) and any(. == $q)' >/dev/null; echo $?)" \
	"veil ps --format json lists host pids, as runc's: the monitor and QEMU, not the guest's (host ps would misread them)"
veil pause "$ID"
out=$(veil ps "$ID" 2>&1)
is "$?:$out" "1:veil: cannot list the processes of a paused container: its VM is stopped" "veil ps of a paused container"
ok "$(veil ps --format json "$ID" | jq -e --argjson m "$mon" 'any(. == $m)' >/dev/null; echo $?)" \
	"veil ps --format json of a paused container still lists its host pids, as runc does"
sleep 6
veil resume "$ID"
skew=$(( $(veil exec "$ID" date +%s) - $(date +%s) ))
ok "$([ "${skew#-}" -lt 3 ]; echo $?)" "after a 6 s pause the guest's clock has caught up (off by ${skew} s)"
veil delete --force "$ID"
ok "$([ ! -e "$mem" ] && [ ! -e "$cpu" ]; echo $?)" "delete removes the host cgroup"
assert_no_leftovers "$ID" "the cgroup container"
is "$(host_links)" "$before" "the host's interfaces are as they were"
rmdir "/sys/fs/cgroup/memory/$CG" "/sys/fs/cgroup/cpu/$CG" "/sys/fs/cgroup/$CG" 2>/dev/null
for d in /sys/fs/cgroup/*/"$CG"; do rmdir "$d" 2>/dev/null; done
rm -rf "$RUNC_ROOT"
