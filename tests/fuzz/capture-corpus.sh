#!/bin/bash
# Regenerates the seed corpora of the frame and agent-request fuzz targets
# (tests/fuzz/corpus/fuzz_frame, tests/fuzz/corpus/fuzz_agent_request) from
# the requests veil really sends: a run, execs with their options, a
# terminal, signals, a factory VM that is scrubbed. Each request frame veil
# writes is recorded by tests/fuzz/capture.c (LD_PRELOAD). Then the frames no
# real run sends are added: responses, the hostile host's requests
# (tests/integration/hostile.py) and malformed ones.
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
mkdir -p "$tmp/frames"
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
jq '.root.readonly = false | .hostname = "fuzzed" | .process.rlimits += [{type: "RLIMIT_NPROC", hard: 64, soft: 32}]' \
	"$tmp/bundle/config.json" >"$tmp/config.json" && mv "$tmp/config.json" "$tmp/bundle/config.json"
veil() { LD_PRELOAD="$tmp/capture.so" VEIL_CAPTURE_DIR="$tmp/frames" "$build/veil" --config "$tmp/conf.toml" "$@"; }

veil run --detach --bundle "$tmp/bundle" c1 >/dev/null
echo input | veil exec --env A=b --cwd /tmp --user 1000:1000 --additional-gids 10 --no-new-privs c1 cat >/dev/null
veil exec c1 no-such-command >/dev/null 2>&1 || true
veil exec --tty c1 true </dev/null >/dev/null 2>&1 || true
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
