#!/bin/bash
# Regenerates the seed corpora of fuzz_oci_spec and fuzz_seccomp from the
# config.json files real clients write: podman (with the options people use:
# capabilities, seccomp profiles, devices, sysctls, ulimits, resources, a
# terminal, a user), containerd's ctr, docker (a private dockerd on the
# private containerd, when docker.io is installed) and `veil spec`. The
# clients run runc through a wrapper that keeps a copy of every bundle's
# config.json; each file's linux.seccomp becomes a fuzz_seccomp seed, and
# podman's default profile too.
#
# Usage: tests/fuzz/capture-configs.sh BUILD_DIR   (run as root, after make)
set -u
export VEIL_BUILD=$(cd "${1:?usage: capture-configs.sh BUILD_DIR}" && pwd)
repo=$(cd "$(dirname "$0")/../.." && pwd)
source "$repo/tests/integration/lib.sh"
source "$repo/tests/integration/clients.sh"
configs="$TEST_TMP/configs"
mkdir -p "$configs" "$TEST_TMP/bin"
cat >"$TEST_TMP/bin/runc" <<EOF
#!/bin/bash
# Keeps each bundle's config.json, then is runc.
prev=
for a in "\$@"; do
	[ "\$prev" = --bundle ] && cp "\$a/config.json" "$configs/\$(date +%s%N).json" 2>/dev/null
	prev=\$a
done
exec $(command -v runc) "\$@"
EOF
chmod +x "$TEST_TMP/bin/runc"
export OCI_RUNTIME="$TEST_TMP/bin/runc"
select_runtime >/dev/null
podman_setup
IMG=localhost/veil-it-busybox
CTR_IMG=localhost/veil-it-busybox:latest
podman_import_busybox "$IMG" >/dev/null 2>&1
cat >"$TEST_TMP/profile.json" <<'EOF'
{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1, "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
 "flags": ["SECCOMP_FILTER_FLAG_LOG"], "syscalls": [{"names": ["read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW"},
 {"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
 {"names": ["clone"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 2114060288, "op": "SCMP_CMP_MASKED_EQ"}]},
 {"names": ["mkdir"], "action": "SCMP_ACT_KILL_PROCESS"}, {"names": ["uname"], "action": "SCMP_ACT_TRAP"},
 {"names": ["chmod"], "action": "SCMP_ACT_LOG"}, {"names": ["ptrace"], "action": "SCMP_ACT_TRACE", "errnoRet": 38}]}
EOF
for opts in "" "-t" "--cap-drop ALL --cap-add NET_ADMIN --security-opt no-new-privileges" \
	"--security-opt seccomp=$TEST_TMP/profile.json" "--security-opt seccomp=unconfined --privileged" \
	"--device /dev/null:/dev/mynull --sysctl net.ipv4.ip_forward=1 --sysctl kernel.msgmax=4096" \
	"--ulimit nofile=512:1024 --ulimit nproc=1024:2048 --memory 64m --cpus 0.5 --pids-limit 50" \
	"-u 1000:1000 -w /tmp -e A=b --hostname h1 --read-only --tmpfs /scratch:size=1m" \
	"--memory-reservation 32m --cpu-shares 512 --cpuset-cpus 0 --blkio-weight 300 --oom-score-adj 100" \
	"--uidmap 0:100000:65536 --gidmap 0:100000:65536"; do
	# shellcheck disable=SC2086
	pm run --rm --network none $opts "$IMG" true </dev/null >/dev/null 2>&1
done
containerd_start
containerd_import_busybox "$CTR_IMG" >/dev/null 2>&1
for opts in "" "--tty" "--privileged" "--seccomp --cap-add CAP_NET_ADMIN --memory-limit 67108864 --env A=b"; do
	# shellcheck disable=SC2086
	ctrc run "${CTR_RUN_FLAGS[@]}" --rm $opts "$CTR_IMG" "capture-$RANDOM" true </dev/null >/dev/null 2>&1
done
if command -v dockerd >/dev/null && docker_start "capture=$TEST_TMP/bin/runc"; then
	docker_import_busybox capture-busybox >/dev/null
	for opts in "" "-t" "--cap-drop ALL --cap-add NET_RAW --security-opt no-new-privileges" \
		"--security-opt seccomp=$TEST_TMP/profile.json --read-only --tmpfs /scratch" "--privileged" \
		"--device /dev/null:/dev/mynull --sysctl kernel.msgmax=4096 --ulimit nofile=512:1024" \
		"--memory 64m --cpus 0.5 --pids-limit 50 --cpuset-cpus 0 --blkio-weight 300 --oom-score-adj 100" \
		"-u 1000:1000 -w /tmp -e A=b --hostname h1 --init --shm-size 1m"; do
		# shellcheck disable=SC2086
		dk run --rm --network none $opts capture-busybox true </dev/null >/dev/null 2>&1
	done
else
	echo "capture-configs: no dockerd, so no docker config.json files" >&2
fi
"$VEIL_BIN" spec --bundle "$TEST_TMP" && cp "$TEST_TMP/config.json" "$configs/veil-spec.json"

out="$repo/tests/fuzz/corpus"
rm -rf "$out/fuzz_oci_spec" "$out/fuzz_seccomp"
mkdir -p "$out/fuzz_oci_spec" "$out/fuzz_seccomp"
for f in "$configs"/*.json; do
	name=$(sha1sum "$f" | cut -c1-16)
	cp "$f" "$out/fuzz_oci_spec/$name"
	jq -e .linux.seccomp "$f" >"$TEST_TMP/seccomp.json" 2>/dev/null &&
		cp "$TEST_TMP/seccomp.json" "$out/fuzz_seccomp/$(sha1sum "$TEST_TMP/seccomp.json" | cut -c1-16)"
done
for f in "$TEST_TMP/profile.json" /usr/share/containers/seccomp.json; do
	[ -f "$f" ] && cp "$f" "$out/fuzz_seccomp/$(sha1sum "$f" | cut -c1-16)"
done
echo "fuzz_oci_spec: $(ls "$out/fuzz_oci_spec" | wc -l) seeds, fuzz_seccomp: $(ls "$out/fuzz_seccomp" | wc -l) seeds" >&2
