#!/bin/bash
# Two builds of veil (a change and its baseline), started the same way and
# interleaved in one run, RUNS times each: the median of each phase of the
# start (veil's trace, docs/tracing.md) and of the wall time, per build, and
# the ratio of B to A. A build is a directory with veil and guest/{vmlinux,
# initrd.img}, such as a build/ tree or a copy of one.
#   WAY: pooled (a paused clone from the factory, the default), cloned (the
#   template cloned by the container's monitor), cold, or scrub (pooled, with
#   [runtime] reset = "scrub": the factory's scrub records are compared too).
# Usage: bench/compare.sh BUILD_A BUILD_B [RUNS] [WAY]
set -euo pipefail
a=$(cd "$1" && pwd)
b=$(cd "$2" && pwd)
runs=${3:-10}
way=${4:-pooled}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/veil-bench-compare.XXXXXX")
source "$here/stats.sh"
cleanup() {
	for x in a b; do
		[ -f "$work/$x/conf.toml" ] && "${!x}/veil" --config "$work/$x/conf.toml" factory destroy >/dev/null 2>&1
	done
	rm -rf "$work"
}
trap cleanup EXIT

"$here/../scripts/busybox-bundle.sh" "$work/bundle" "$a/veil" true
for x in a b; do
	mkdir -p "$work/$x"
	pool=1
	case "$way" in cold) pool=0 ;; cloned) pool=1 ;; esac
	bench_config "$work/$x/conf.toml" "${!x}" "$work/$x" "$(printf '[factory]\nvm_cache_number = %s\nvm_cache_endpoint = "%s"\nenable_template = %s\ntemplate_path = "%s"' \
		"$pool" "$work/$x/cache.sock" "$([ "$way" = cold ] && echo false || echo true)" "$work/$x/template")"
	mkdir -p "$work/$x/traces"
	sed -i "s|^state_dir = .*|&\ntrace = true\ntrace_dir = \"$work/$x/traces\"\nreset = \"$([ "$way" = scrub ] && echo scrub || echo clone)\"|" \
		"$work/$x/conf.toml"
	if [ "$way" != cold ]; then
		"${!x}/veil" --config "$work/$x/conf.toml" --log "$work/$x/veil.log" factory init --detach >/dev/null
	fi
done
# ready X: the next start of build X finds what it needs.
ready() {
	local x=$1 conf="$work/$1/conf.toml"
	case "$way" in
	pooled) wait_vms 1 '.state == "paused"' "${!x}/veil" --config "$conf" ;;
	scrub) wait_vms 1 ".state == \"paused\" and .scrubs >= $((i - 1))" "${!x}/veil" --config "$conf" ;;
	cloned)
		wait_vms 1 '.state == "paused"' "${!x}/veil" --config "$conf"
		sed -i 's/^vm_cache_number = 1/vm_cache_number = 0/' "$conf" ;;
	esac
}
for i in $(seq 1 "$runs"); do
	for x in a b; do
		ready "$x"
		timed_run "${!x}/veil" --config "$work/$x/conf.toml" --log "$work/$x/veil.log" run --bundle "$work/bundle" \
			"bench-$$-$x-$i" >>"$work/$x/wall"
		[ "$way" = cloned ] && sed -i 's/^vm_cache_number = 0/vm_cache_number = 1/' "$work/$x/conf.toml"
	done
done
[ "$way" = scrub ] && for x in a b; do ready "$x"; done
for x in a b; do
	sed -n 's/.*msg="trace \(.*\)"$/\1/p' "$work/$x/veil.log" >"$work/$x/records"
done

# medians KIND HOW: one line per phase, "phase A B B/A", then the total.
medians() {
	jq -rs --arg kind "$1" --arg how "$2" --slurpfile b <(cat "$work/b/records") '
		def median: sort | if length == 0 then null elif length % 2 == 1 then .[length / 2 | floor]
			else (.[length / 2 - 1] + .[length / 2]) / 2 end;
		def pick: [.[] | select(.kind == $kind and ($how == "" or .how == $how))];
		def fmt: if . == null then "-" else (. * 10 | round / 10 | tostring) end;
		(. | pick) as $a | ($b | pick) as $bb
		| ([$a[], $bb[]] | map(.phases | keys_unsorted) | add // [] | reduce .[] as $p ([]; if index([$p]) then . else . + [$p] end)) as $phases
		| "n=\($a | length) / \($bb | length)",
		  ($phases[] as $p | [$a[].phases[$p] // empty] as $x | [$bb[].phases[$p] // empty] as $y
		   | [$p, ($x | median | fmt), ($y | median | fmt)] | @tsv),
		  (["total", ([$a[].total_ms] | median | fmt), ([$bb[].total_ms] | median | fmt),
		    (if ($a | length) > 0 and ($bb | length) > 0
		     then (([$bb[].total_ms] | median) / ([$a[].total_ms] | median) * 100 | round / 100 | tostring) + "x"
		     else "" end)] | @tsv)' "$work/a/records"
}
echo "A: $a"
echo "B: $b"
echo "$runs starts each, $way, interleaved"
{ printf 'phase\tA median\tB median\tB/A\n'; medians container "" | tail -n +2; } | column -t -s $'\t'
mapfile -t wa <"$work/a/wall"
mapfile -t wb <"$work/b/wall"
printf 'wall: A %d ms (p90 %d), B %d ms (p90 %d)\n' "$(median "${wa[@]}")" "$(p90 "${wa[@]}")" \
	"$(median "${wb[@]}")" "$(p90 "${wb[@]}")"
ratio "wall B / A" "$(median "${wb[@]}")" "$(median "${wa[@]}")"
# The guest agent's steps, from the trace files.
guest_steps() {
	jq -rs '[.[] | .traceEvents[] | select(.ph == "X" and .pid == 2)] | group_by(.name)[]
		| (map(.dur / 1000) | sort) as $d | "\(.[0].name)\t\($d[($d | length) / 2 | floor] * 10 | round / 10)"' \
		"$work/$1"/traces/container-*.json | sort
}
echo
echo "guest agent's spans (median ms)"
join -t $'\t' <(guest_steps a) <(guest_steps b) | { printf 'span\tA\tB\n'; cat; } | column -t -s $'\t'
for how in cloned scrubbed; do
	[ "$way" = cold ] && break
	[ "$how" = scrubbed ] && [ "$way" != scrub ] && continue
	echo
	echo "factory: VMs $how ($(medians vm "$how" | head -n 1))"
	{ printf 'phase\tA median\tB median\tB/A\n'; medians vm "$how" | tail -n +2; } | column -t -s $'\t'
done
