#!/bin/bash
# Where the time of a `veil run` of a `true` container goes, from veil's own
# trace (docs/tracing.md): RUNS starts each way, interleaved in one run:
#   cold     no factory: QEMU boots the guest;
#   pooled   a paused clone of the template, waiting in the factory's pool
#            ([factory] warm_up = false);
#   warmed   the same from a second factory, whose clones ran its warm-up
#            container and were scrubbed before they were pooled (warm_up = true);
#   cloned   no pool: the container's monitor clones the template itself.
# Prints the median (and p90) of each phase per way, the wall time each
# `veil run` took as the shell saw it, the factory's refills (clone to a
# pooled, agent-ready VM; with and without the warm-up) from their own
# records, and writes a stacked-bar
# chart of the medians (gnuplot) to OUT.png.
# Usage: bench/phases.sh BUILD_DIR [RUNS] [OUT.png]
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
runs=${2:-10}
png=${3:-phases.png}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/veil-bench-phases.XXXXXX")
source "$here/stats.sh"
log="$work/veil.log"
pool="$work/pool.toml"
warm="$work/warmed.toml"
cleanup() {
	"$build/veil" --config "$pool" factory destroy >/dev/null 2>&1 || true
	"$build/veil" --config "$warm" factory destroy >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

"$here/../scripts/busybox-bundle.sh" "$work/bundle" "$build/veil" true
factory=$(printf '[factory]\nvm_cache_number = %%s\nvm_cache_endpoint = "%s"\nenable_template = true\ntemplate_path = "%s"' \
	"$work/cache.sock" "$work/template")
bench_config "$work/cold.toml" "$build" "$work" ""
bench_config "$pool" "$build" "$work" "$(printf "$factory" 1)
warm_up = false"
bench_config "$work/cloned.toml" "$build" "$work" "$(printf "$factory" 0)"
# Its own endpoint and template: two factories never share them.
bench_config "$warm" "$build" "$work" "$(printf "$factory" 1 | sed "s|$work/cache.sock|$work/warm.sock|; s|$work/template|$work/warm-template|")
warm_up = true"
sed -i 's/^state_dir = .*/&\ntrace = true/' "$work/cold.toml" "$pool" "$work/cloned.toml" "$warm"

"$build/veil" --config "$pool" --log "$log" factory init --detach >/dev/null
"$build/veil" --config "$warm" --log "$work/warm.log" factory init --detach >/dev/null
pooled_ready() { wait_vms 1 '.state == "paused" and .origin == "clone"' "$build/veil" --config "$pool"; }
warmed_ready() { wait_vms 1 '.state == "paused" and .origin == "clone" and .warmed' "$build/veil" --config "$warm"; }
pooled_ready
warmed_ready
# run WAY: one `veil run`, its wall time appended to $work/WAY.wall.
run() {
	timed_run "$build/veil" --config "$work/$1.toml" --log "$log" run --bundle "$work/bundle" "bench-$$-$1-$i" \
		>>"$work/$1.wall"
}
cp "$pool" "$work/pooled.toml"
# Both pools full before every start: no refill competes with one for the CPUs.
for i in $(seq 1 "$runs"); do
	for way in cold pooled warmed cloned; do
		pooled_ready
		warmed_ready
		run "$way"
	done
done
"$build/veil" --config "$pool" factory destroy >/dev/null
"$build/veil" --config "$warm" factory destroy >/dev/null

# The records: `trace {JSON}` lines, in text or JSON logs alike.
sed -n 's/.*msg="trace \(.*\)"$/\1/p' "$log" "$work/warm.log" >"$work/records"
for way in cold pooled warmed cloned; do
	n=$(jq -s --arg w "$way" '[.[] | select(.kind == "container" and (.id | contains("-" + $w + "-")))] | length' \
		"$work/records")
	[ "$n" = "$runs" ] || { echo "phases.sh: $n of $runs $way starts left a trace record" >&2; exit 1; }
done

# A table of medians: a row per phase in the order of a start, a column per way.
jq -rs --argjson runs "$runs" '
	def median: sort | if length == 0 then null elif length % 2 == 1 then .[length / 2 | floor]
		else (.[length / 2 - 1] + .[length / 2]) / 2 end;
	def p90: sort | if length == 0 then null else .[(length * 0.9 | ceil) - 1] end;
	def fmt: if . == null then "-" else (. * 10 | round / 10 | tostring) end;
	def way($w): [.[] | select(.kind == "container" and (.id | contains("-" + $w + "-")))];
	. as $all
	| ["cold", "pooled", "warmed", "cloned"] as $ways
	| ["config", "image", "layer", "virtiofsd", "network", "claim", "clone", "qemu", "boot", "plug", "resume", "hello", "create",
	   "created", "start", "first_output", "exit", "teardown"] as $order
	| [$all[] | select(.kind == "container") | .phases | keys_unsorted[]] as $seen
	| ($order | map(select(. as $p | $seen | index([$p])))) as $known
	| ($seen | reduce .[] as $p ($known; if index([$p]) then . else . + [$p] end)) as $phases
	| (["phase"] + ($ways | map(. + " (median)"))) ,
	  ($phases[] as $p | [$p] + ($ways | map(. as $w | [$all | way($w)[] | .phases[$p] // empty] | median | fmt))),
	  (["total (p90)"] + ($ways | map(. as $w | [$all | way($w)[] | .total_ms] | "\(median | fmt) (\(p90 | fmt))")))
	| @tsv' "$work/records" >"$work/table"
walls=("wall, as the shell saw it")
for way in cold pooled warmed cloned; do
	mapfile -t w <"$work/$way.wall"
	walls+=("$(median "${w[@]}") ($(p90 "${w[@]}"))")
done
(IFS=$'\t'; echo "${walls[*]}") >>"$work/table"
column -t -s $'\t' "$work/table"
echo
# The factories' refills: without the warm-up ($log), with it (warm.log).
for f in "$log" "$work/warm.log"; do
	sed -n 's/.*msg="trace \(.*\)"$/\1/p' "$f" | jq -rs --arg f "$([ "$f" = "$log" ] && echo "" || echo ", warmed up")" '
	def median: sort | if length % 2 == 1 then .[length / 2 | floor] else (.[length / 2 - 1] + .[length / 2]) / 2 end;
	def p90: sort | .[(length * 0.9 | ceil) - 1];
	[.[] | select(.kind == "vm" and .how == "cloned")] as $v
	| if ($v | length) == 0 then empty else
	  "factory, clone to a pooled agent-ready VM\($f) (n=\($v | length)): median \([$v[].total_ms] | median) ms (p90 \([$v[].total_ms] | p90)): " +
	  ([$v[0].phases | keys_unsorted[] as $p | "\($p) \([$v[].phases[$p] // 0] | median)"] | join(", ")) end'
done

command -v gnuplot >/dev/null || { echo "phases.sh: no gnuplot (apt-get install gnuplot-nox): no chart" >&2; exit 0; }
# The chart's data: a row per way, a column per phase (the table transposed).
awk -F'\t' 'NR > 1 && $1 !~ /^(total|wall)/ {
		for (c = 2; c <= NF; c++) v[NR, c] = ($c == "-" ? 0 : $c); name[NR] = $1; rows = NR; cols = NF }
	END { printf "way"; for (r = 2; r <= rows; r++) printf "\t%s", name[r]; print ""
	      split("cold pooled warmed cloned", way, " ")
	      for (c = 2; c <= cols; c++) { printf "%s", way[c - 1]; for (r = 2; r <= rows; r++) printf "\t%s", v[r, c]; print "" } }' \
	"$work/table" >"$work/plot.dat"
ncols=$(awk -F'\t' 'NR == 1 { print NF }' "$work/plot.dat")
# One colour per phase; a cold boot dwarfs the rest, so it has a panel of its own.
gnuplot <<GP
set terminal pngcairo size 1000,560 font "sans,10"
set output "$png"
colours = "#4e79a7 #f28e2b #e15759 #76b7b2 #59a14f #edc948 #b07aa1 #ff9da7 #9c755f #bab0ac #1b9e77 #d95f02 #7570b3 #e7298a #66a61e #333333"
do for [i=1:16] { set linetype i lc rgb word(colours, i) }
set style data histograms
set style histogram rowstacked
set style fill solid 0.9 border -1
set boxwidth 0.6
set datafile separator "\t"
set yrange [0:*]
set ylabel "ms"
set multiplot layout 1,2 title "veil run of a true container under TCG: median of each phase ($runs runs each way)"
set size 0.3,0.92
set origin 0,0
unset key
plot for [c=2:$ncols] "< head -n 2 $work/plot.dat" using c:xtic(1) title columnheader(c)
set size 0.7,0.92
set origin 0.3,0
set key outside right top vertical
plot for [c=2:$ncols] "< sed 2d $work/plot.dat" using c:xtic(1) title columnheader(c)
unset multiplot
GP
echo "chart: $png"
