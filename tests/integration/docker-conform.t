#!/bin/bash
# docker (Debian's docker.io, a private dockerd on a private containerd)
# against the runtime under test, with runc as the reference on the same
# commands (docker run --runtime reference): capabilities, seccomp and
# no_new_privileges as docker sets them; the host's /etc/hosts,
# /etc/resolv.conf and /etc/hostname in the container; top, stats, --memory
# and --cpus on the host cgroup.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/clients.sh"
select_runtime
require_tools dockerd containerd runc
containerd_start
check "dockerd with the runtime under test and runc" docker_start "it=$RUNTIME" "reference=$(command -v runc)" ||
	{ diag "$DOCKER_DIR/dockerd.log"; exit 1; }
IMG=veil-it-busybox
E="$TEST_TMP/err"
check "docker import of a busybox rootfs" docker_import_busybox "$IMG" || exit 1

# both (clients.sh): docker run --rm with the runtime under test and with runc.
BOTH_RUN=(dk run --rm --network none)
BOTH_REFERENCE=(--runtime reference)
STATUS='grep -E "^(CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):" /proc/self/status'

both "default capabilities and seccomp" "$IMG" sh -c "$STATUS"
ok "$(grep -q 'Seccomp:.2' <<<"$V" && grep -q 'CapEff:.00000000a80425fb' <<<"$V"; echo $?)" \
	"docker's default capabilities, and its seccomp profile filtering inside the guest"
both "--cap-drop ALL --cap-add NET_RAW, no-new-privileges" --cap-drop ALL --cap-add NET_RAW \
	--security-opt no-new-privileges "$IMG" sh -c "$STATUS"
ok "$(grep -q 'CapEff:.0000000000002000' <<<"$V" && grep -q 'NoNewPrivs:.1' <<<"$V"; echo $?)" \
	"--cap-add NET_RAW alone, NoNewPrivs 1"

# The files docker makes on the host and bind-mounts: copied into the guest.
both "/etc/hosts, /etc/resolv.conf, /etc/hostname" --hostname h1 "$IMG" cat /etc/hosts /etc/resolv.conf /etc/hostname
ok "$(grep -q h1 <<<"$V" && [ "$(echo "$V" | tail -n 1)" = h1 ]; echo $?)" "the host's files carry docker's content (hostname h1)"

# top, stats, and the host cgroup
id=$(dk run -d --network none --memory 64m --cpus 0.5 "$IMG" sh -c 'sleep 4001 & sleep 4002' 2>"$E")
check "docker run -d --memory 64m --cpus 0.5" wait_until sh -c "[ \"\$(${DK[*]} inspect --format '{{.State.Running}}' $id)\" = true ]" ||
	diag "$E"
pid=$(dk inspect --format '{{.State.Pid}}' "$id")
qemu=$(pgrep -P "$pid" -f qemu-system | head -n 1)
# docker top filters the host's ps(1) by the pids the runtime lists: with
# veil those are the host's processes of the container, its monitor and QEMU
# (docs/oci-cli.md); guest pids would name unrelated host processes.
out=$(dk top "$id" 2>"$E")
if [ "$RUNTIME_NAME" = veil ]; then
	is "$(awk 'NR > 1 {print $2}' <<<"$out" | sort -n | tr '\n' ' ')" "$(printf '%s\n' "$pid" "${qemu:-none}" | sort -n | tr '\n' ' ')" \
		"docker top shows the container's host processes, the monitor and QEMU, and nothing else" || diag "$E"
else
	ok "$(grep -q 'sleep 4001' <<<"$out" && grep -q 'sleep 4002' <<<"$out"; echo $?)" "docker top shows the container's processes" ||
		diag "$E"
fi
usage=$(dk stats --no-stream --format '{{.MemUsage}}' "$id" 2>"$E" | cut -d/ -f1 | tr -d ' ')
ok "$([ -n "$usage" ] && [ "${usage%%[A-Za-z]*}" != 0 ]; echo $?)" "docker stats shows the container's memory ($usage)" || diag "$E"
[ "$RUNTIME_NAME" = veil ] && check_host_cgroup_64m "$pid"
check "docker rm -f" dk rm -f "$id"

is "$(dk ps -aq | wc -l)" 0 "docker ps -a: no containers left"
docker_stop
containerd_stop
assert_no_new_processes "no dockerd, containerd, shim, runtime or container processes left"
