#!/bin/bash
# Runs every fuzz target for SECONDS from its seed corpus (a copy: the tree's
# seeds stay as they are) and prints the coverage it reached; with --compare,
# first for as long from an empty corpus, to show what the seeds are worth.
# `make fuzz-long` runs it with 600 seconds a target; not part of make check.
# Usage: tests/fuzz/run-long.sh BUILD_DIR SECONDS [--compare] [TARGET...]
set -u
build=$(cd "${1:?usage: run-long.sh BUILD_DIR SECONDS [--compare] [TARGET...]}" && pwd)
seconds=${2:?usage: run-long.sh BUILD_DIR SECONDS [--compare] [TARGET...]}
shift 2
compare=0
[ "${1:-}" = --compare ] && { compare=1; shift; }
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/veil-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
targets=("$@")
[ ${#targets[@]} -gt 0 ] || for t in "$build"/fuzz/fuzz_*; do targets+=("$(basename "$t")"); done

# The seeds of target fuzz_X: corpus/fuzz_X, or corpus/X for the targets named so.
seeds_of() {
	local d="$here/corpus/$1"
	[ -d "$d" ] || d="$here/corpus/${1#fuzz_}"
	echo "$d"
}

# run TARGET CORPUS_DIR: the final "cov: N ft: M" of a run of SECONDS.
run() {
	"$build/fuzz/$1" -max_total_time="$seconds" -print_final_stats=1 -timeout=25 -rss_limit_mb=4096 \
		-close_fd_mask=3 "$2" >"$work/$1.log" 2>&1
	local cov ft
	cov=$(grep -o 'cov: [0-9]*' "$work/$1.log" | tail -n 1 | cut -d' ' -f2)
	ft=$(grep -o 'ft: [0-9]*' "$work/$1.log" | tail -n 1 | cut -d' ' -f2)
	grep -q 'ERROR: \|SUMMARY: ' "$work/$1.log" && { echo "$1: a crash, see below" >&2; tail -n 40 "$work/$1.log" >&2; }
	echo "${cov:-0} ${ft:-0}"
}

status=0
for t in "${targets[@]}"; do
	[ -x "$build/fuzz/$t" ] || { echo "$t: not built (make fuzz)" >&2; status=1; continue; }
	seeds=$(seeds_of "$t")
	line="$t:"
	if [ "$compare" = 1 ]; then
		mkdir -p "$work/empty-$t"
		read -r cov ft < <(run "$t" "$work/empty-$t")
		line="$line from empty cov $cov ft $ft;"
	fi
	mkdir -p "$work/seeded-$t"
	n=0
	[ -d "$seeds" ] && cp "$seeds"/* "$work/seeded-$t/" 2>/dev/null && n=$(ls "$seeds" | wc -l)
	read -r cov ft < <(run "$t" "$work/seeded-$t")
	echo "$line from $n seeds cov $cov ft $ft"
	grep -q 'ERROR: \|SUMMARY: ' "$work/$t.log" && status=1
done
exit $status
