#!/bin/bash
# A confidential container with one secret against the same container in an
# ordinary VM, on the emulated TEE against a real veil-kbs, in the same run:
#   1. cold (no factory), RUNS of each, interleaved;
#   2. from the VM cache (a paused VM of each kind waiting), RUNS of each;
#   3. the attestation inside those starts: veil-kbs's part (its auth, attest
#      and resource handlers, from its log) and the guest's (the rest of what
#      the secret adds to creating the container in a pooled VM).
# With BASELINE_INITRD=FILE (an initrd of an agent without attestation, e.g.
# main before issue 11), also cold ordinary runs with it, and bare boots of
# the kernel with each initrd up to the point where it would start /init
# (there is none by that name: the kernel unpacks the initrd, panics and
# QEMU exits): what the larger static agent costs every boot.
# Prints medians, p90s and the differences. Goal: from the cache, the
# confidential container starts at most 100 ms later.
# Usage: bench/confidential.sh BUILD_DIR [RUNS]
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
runs=${2:-10}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/veil-bench.XXXXXX")
source "$here/stats.sh"
kbs_pid=""
cleanup() {
	for c in ordinary confidential; do "$build/veil" --config "$work/$c.toml" factory destroy >/dev/null 2>&1 || true; done
	[ -z "$kbs_pid" ] || kill "$kbs_pid" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
port=$(/usr/bin/python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')

# ---- the two configurations, the key broker, the bundles ----
printf 'version = "0.1.0"\nalgorithm = "sha384"\n[data]\n"aa.toml" = """\n[token_configs.kbs]\nurl = "http://127.0.0.1:%s"\n"""\n' \
	"$port" >"$work/init-data.toml"
# conf NAME CONFIDENTIAL_LINES [INITRD]
conf() {
	bench_config "$work/$1.toml" "$build" "$work" "$(printf '[factory]\nvm_cache_number = 1\nvm_cache_endpoint = "%s"' \
		"$work/$1.sock")"
	printf '%s\n' "$2" >"$work/$1.lines"
	sed -i "/^initrd = /r $work/$1.lines" "$work/$1.toml"
	[ -z "${3:-}" ] || sed -i "s|^initrd = .*|initrd = \"$3\"|" "$work/$1.toml"
}
conf ordinary ""
conf confidential "$(printf 'confidential_guest = true\ntee = "emulated"\nemulated_tee_dir = "%s/chip"\ninit_data = "%s/init-data.toml"' "$work" "$work")"
[ -z "${BASELINE_INITRD:-}" ] || conf baseline "" "$BASELINE_INITRD"
"$build/veil" --config "$work/confidential.toml" measure >"$work/reference-values.toml"
printf 'listen = "127.0.0.1:%s"\ndata_dir = "%s/kbs"\nadmin_socket = "%s/kbs.sock"\n[emulated]\nark = "%s/chip/ark.der"\nask = "%s/chip/ask.der"\n' \
	"$port" "$work" "$work" "$work" "$work" >"$work/kbs.toml"
kbs=("$build/veil-kbs" --config "$work/kbs.toml")
"${kbs[@]}" serve --log "$work/kbs.log" &
kbs_pid=$!
until "${kbs[@]}" policy get >/dev/null 2>&1; do sleep 0.1; done
"${kbs[@]}" reference set "$work/reference-values.toml" >/dev/null
printf '[resource."default/key/db"]\ntee = ["emulated"]\n' | "${kbs[@]}" policy set - >/dev/null
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' | "${kbs[@]}" resource set default/key/db - >/dev/null
"$here/../scripts/busybox-bundle.sh" "$work/ordinary" "$build/veil" true
"$here/../scripts/busybox-bundle.sh" "$work/confidential" "$build/veil" true
jq '.annotations["io.veil.secret.db"] = "kbs:///default/key/db"' "$work/confidential/config.json" >"$work/c.json"
mv "$work/c.json" "$work/confidential/config.json"

# run KIND ID [CONF]: ms of `veil run`; its log in $work/KIND.log. A run that fails stops the benchmark.
run() {
	local t0
	t0=$(date +%s%N)
	if ! "$build/veil" --config "$work/${3:-$1}.toml" --log "$work/$1.log" run --bundle "$work/$1" "$2" >/dev/null \
		2>"$work/err"; then
		echo "confidential.sh: $2: $(cat "$work/err")" >&2
		return 1
	fi
	ms_since "$t0"
}
factory() { "$build/veil" --config "$work/$1.toml" factory "${@:2}"; }
wait_paused() { wait_vms 1 '.state == "paused"' "$build/veil" --config "$work/$1.toml"; }

# ---- cold ----
cold_o=() cold_c=() cold_b=()
for i in $(seq 1 "$runs"); do
	ms=$(run ordinary "bench-$$-cold-o-$i")
	cold_o+=("$ms")
	ms=$(run confidential "bench-$$-cold-c-$i")
	cold_c+=("$ms")
	[ -z "${BASELINE_INITRD:-}" ] || { ms=$(run ordinary "bench-$$-cold-b-$i" baseline); cold_b+=("$ms"); }
done

# ---- the initrd alone: kernel boot and initramfs unpacking, to a panic for want of /init ----
unpack_ms() {
	local t0
	t0=$(date +%s%N)
	qemu-system-x86_64 -machine q35 -accel tcg -cpu max -m 256 -smp 1 -nodefaults -no-user-config -display none \
		-no-reboot -serial null -kernel "$build/guest/vmlinux" -initrd "$1" \
		-append "panic=-1 rdinit=/no-init root=/dev/no-root quiet" >/dev/null 2>&1 || true
	ms_since "$t0"
}
unpack_n=() unpack_b=()
if [ -n "${BASELINE_INITRD:-}" ]; then
	for i in $(seq 1 "$runs"); do
		unpack_n+=("$(unpack_ms "$build/guest/initrd.img")")
		unpack_b+=("$(unpack_ms "$BASELINE_INITRD")")
	done
fi

# ---- from the cache: one factory at a time, so that boots compete with nothing ----
cached_o=() cached_c=()
kbs_lines=$(wc -l <"$work/kbs.log")
for i in $(seq 1 "$runs"); do
	for kind in ordinary confidential; do
		factory "$kind" init --detach >/dev/null
		wait_paused "$kind"
		ms=$(run "$kind" "bench-$$-cached-${kind:0:1}-$i")
		factory "$kind" destroy >/dev/null
		if [ "$kind" = ordinary ]; then cached_o+=("$ms"); else cached_c+=("$ms"); fi
	done
done
if grep -q "cached-.*cold boot" "$work/ordinary.log" "$work/confidential.log"; then
	echo "confidential.sh: a cached run cold-booted" >&2
	exit 1
fi

# ---- the attestation's parts ----
# veil-kbs's handlers, per session (µs in its log), for the cached runs.
kbs_ms=()
while read -r session; do
	us=$(tail -n "+$((kbs_lines + 1))" "$work/kbs.log" | grep " session $session" | sed -n 's/.*(\([0-9]*\) us).*/\1/p' |
		awk '{s += $1} END {print int(s / 1000)}')
	kbs_ms+=("$us")
done < <(tail -n "+$((kbs_lines + 1))" "$work/kbs.log" | sed -n 's/.*auth session \([0-9a-f]*\):.*/\1/p')
# Creating the container in the VM, from veil's log: "agent ready N ms, created M ms" -> M - N.
create_ms() { grep "cached-${1:0:1}-.*created" "$work/$1.log" | sed -n 's/.*agent ready \([0-9]*\) ms, created \([0-9]*\) ms.*/\1 \2/p' | awk '{print $2 - $1}'; }
mapfile -t create_o < <(create_ms ordinary)
mapfile -t create_c < <(create_ms confidential)
attest=$(( $(median "${create_c[@]}") - $(median "${create_o[@]}") ))

echo "confidential container with one secret (emulated TEE, veil-kbs on loopback) vs the same in an ordinary VM, TCG"
report "veil run (true), ordinary VM, cold" "${cold_o[@]}"
report "veil run (true), confidential + secret, cold" "${cold_c[@]}"
ratio "confidential / ordinary, cold" "$(median "${cold_c[@]}")" "$(median "${cold_o[@]}")"
[ -z "${BASELINE_INITRD:-}" ] || {
	report "veil run (true), ordinary VM, cold, baseline initrd" "${cold_b[@]}"
	ratio "ordinary: this initrd / baseline initrd, cold" "$(median "${cold_o[@]}")" "$(median "${cold_b[@]}")"
	report "kernel + this initrd, to /init (none)" "${unpack_n[@]}"
	report "kernel + baseline initrd, to /init (none)" "${unpack_b[@]}"
	ratio "this initrd / baseline initrd, boot to /init" "$(median "${unpack_n[@]}")" "$(median "${unpack_b[@]}")"
}
report "veil run (true), ordinary VM, cached" "${cached_o[@]}"
report "veil run (true), confidential + secret, cached" "${cached_c[@]}"
ratio "confidential / ordinary, cached" "$(median "${cached_c[@]}")" "$(median "${cached_o[@]}")"
report "CreateContainer in a pooled VM, ordinary" "${create_o[@]}"
report "CreateContainer in a pooled VM, + attestation and secret" "${create_c[@]}"
report "  of which veil-kbs (auth + attest + resource)" "${kbs_ms[@]}"
printf '%-45s %d ms\n' "  of which the guest and the relay (median difference - KBS)" $((attest - $(median "${kbs_ms[@]}")))
