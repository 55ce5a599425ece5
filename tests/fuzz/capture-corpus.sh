#!/bin/bash
# Regenerates the seed corpora of the frame, agent-request and cache-request
# fuzz targets (tests/fuzz/corpus/fuzz_frame, fuzz_agent_request,
# fuzz_cache_request) from what veil really sends: a run of a container with
# the runtime spec's linux section filled in (capabilities, a seccomp
# profile, sysctls, devices, a host file, resources), execs with their
# options, a terminal, signals, ps, a factory VM that is claimed, returned
# and scrubbed. Each request frame veil writes, and each record it sends the
# factory, is recorded by tests/fuzz/capture.c (LD_PRELOAD). Then the frames
# no real run sends are added: responses, the hostile host's requests
# (tests/integration/hostile.py) and malformed ones. The attestation
# targets' seeds come from tests/fuzz/attest-seeds.sh, the config.json
# targets' from tests/fuzz/capture-configs.sh.
#
# Usage: tests/fuzz/capture-corpus.sh BUILD_DIR   (run as root, after make)
set -euo pipefail
build=$(cd "${1:?usage: capture-corpus.sh BUILD_DIR}" && pwd)
repo=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
cleanup() {
	"$build/veil" --config "$tmp/conf.toml" factory destroy >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT

gcc -shared -fPIC -O2 -I"$repo/src" -I"$build/gen" -o "$tmp/capture.so" "$repo/tests/fuzz/capture.c" \
	"$repo/src/proto/frame.c" -ldl
mkdir -p "$tmp/frames" "$tmp/records"
cat >"$tmp/conf.toml" <<TOML
[hypervisor.qemu]
kernel = "$build/guest/vmlinux"
initrd = "$build/guest/initrd.img"
[agent]
dial_timeout = 120
[runtime]
state_dir = "$tmp/state"
reset = "scrub"
[factory]
vm_cache_number = 1
vm_cache_endpoint = "$tmp/cache.sock"
TOML
"$repo/scripts/busybox-bundle.sh" "$tmp/bundle" "$build/veil" sh -c 'echo hi; sleep 1000' >/dev/null
printf '127.0.0.1 localhost\n' >"$tmp/hosts"
jq --arg hosts "$tmp/hosts" '.root.readonly = false | .hostname = "fuzzed" | .domainname = "example.org" |
	.process.rlimits += [{type: "RLIMIT_NPROC", hard: 64, soft: 32}] | .process.oomScoreAdj = 100 |
	.process.capabilities.ambient = ["CAP_KILL"] | .process.capabilities.inheritable = ["CAP_KILL"] |
	.linux.sysctl = {"net.ipv4.ip_forward": "1", "kernel.shmmax": "1073741824"} |
	.linux.devices = [{path: "/dev/mynull", type: "c", major: 1, minor: 3, fileMode: 438}] |
	.linux.resources = {devices: [{allow: false, access: "rwm"}, {allow: true, type: "c", major: 1, minor: 3, access: "rw"}],
	  memory: {limit: 67108864, reservation: 33554432}, cpu: {shares: 512, quota: 50000, period: 100000, cpus: "0"},
	  pids: {limit: 100}, blockIO: {weight: 300}, hugepageLimits: [{pageSize: "2MB", limit: 0}],
	  unified: {"memory.high": "60000000"}} |
	.linux.rootfsPropagation = "rslave" |
	.mounts += [{destination: "/etc/hosts", type: "bind", source: $hosts, options: ["rbind", "ro"]}] |
	.linux.seccomp = {defaultAction: "SCMP_ACT_ALLOW", architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
	  syscalls: [{names: ["mkdir"], action: "SCMP_ACT_ERRNO", errnoRet: 1},
	    {names: ["personality"], action: "SCMP_ACT_ERRNO", args: [{index: 0, value: 8, op: "SCMP_CMP_NE"}]},
	    {names: ["ptrace"], action: "SCMP_ACT_KILL_PROCESS"}]}' \
	"$tmp/bundle/config.json" >"$tmp/config.json" && mv "$tmp/config.json" "$tmp/bundle/config.json"
veil() { LD_PRELOAD="$tmp/capture.so" VEIL_CAPTURE_DIR="$tmp/frames" "$build/veil" --config "$tmp/conf.toml" "$@"; }

veil run --detach --bundle "$tmp/bundle" c1 >/dev/null
echo input | veil exec --env A=b --cwd /tmp --user 1000:1000 --additional-gids 10 --no-new-privs c1 cat >/dev/null
veil exec c1 no-such-command >/dev/null 2>&1 || true
veil exec --tty c1 true </dev/null >/dev/null 2>&1 || true
veil ps --format json c1 >/dev/null
veil kill --all c1 TERM
veil kill c1 KILL
sleep 1
veil delete --force c1
# A factory VM: Hello while pooled, the container, then Scrub when it returns.
veil factory init --detach >/dev/null
for _ in $(seq 1 300); do
	[ "$("$build/veil" --config "$tmp/conf.toml" factory status --json | jq '[.vms[]? | select(.state == "paused")] | length')" -ge 1 ] && break
	sleep 0.2
done
veil run --bundle "$tmp/bundle" c2 >/dev/null 2>&1 &
sleep 5
veil kill c2 KILL
wait
for _ in $(seq 1 300); do
	[ "$("$build/veil" --config "$tmp/conf.toml" factory status --json | jq '[.vms[]?.scrubs] | add // 0')" -ge 1 ] && break
	sleep 0.2
done
veil factory status --json >/dev/null
veil factory destroy >/dev/null

python3 "$repo/tests/fuzz/extra_seeds.py" "$tmp/frames"

# One file per distinct frame, named by content; a Scrub's megabytes of
# padding would only slow the fuzzer down, so big frames stay out.
for target in fuzz_frame fuzz_agent_request; do
	out="$repo/tests/fuzz/corpus/$target"
	rm -rf "$out"
	mkdir -p "$out"
	for f in "$tmp/frames"/*; do
		[ "$(stat -c %s "$f")" -le 65536 ] || continue
		name=$(sha1sum "$f" | cut -c1-16)
		# fuzz_agent_request reads its first byte as a read size: 0xff reads whole frames.
		if [ "$target" = fuzz_agent_request ]; then
			{ printf '\377'; cat "$f"; } >"$out/$name"
		else
			cp "$f" "$out/$name"
		fi
	done
	echo "$target: $(ls "$out" | wc -l) seeds"
done

# The factory's records: claims, returns, status requests and the keeper's
# (the monitors' own records, sent on other sockets, are left out).
out="$repo/tests/fuzz/corpus/fuzz_cache_request"
rm -rf "$out"
mkdir -p "$out"
for f in "$tmp/records"/*; do
	op=$(jq -r .op "$f" 2>/dev/null)
	case "$op" in claim | return | status | dump) cp "$f" "$out/$(sha1sum "$f" | cut -c1-16)" ;; esac
done
echo "fuzz_cache_request: $(ls "$out" | wc -l) seeds"
"$repo/tests/fuzz/attest-seeds.sh" "$repo/tests/fuzz/corpus"
