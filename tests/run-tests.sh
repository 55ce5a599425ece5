#!/bin/bash
# Runs every TAP producer (unit tests, the same under ASan+UBSan, integration
# scripts) and prints the totals as "N passed, N failed" on the last line.
# Usage: run-tests.sh BUILD_DIR [FILTER]
set -u
build=${1:?usage: run-tests.sh BUILD_DIR [FILTER]}
filter=${2:-}
here=$(cd "$(dirname "$0")" && pwd)
export VEIL_BUILD=$(cd "$build" && pwd)
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

passed=0
failed=0
logdir=$(mktemp -d "${TMPDIR:-/tmp}/veil-tests.XXXXXX")

run_one() {
	local test=$1 name=$2 log="$logdir/$(echo "$2" | tr '/' '_').log"
	local start=$SECONDS
	"$test" >"$log" 2>&1
	local rc=$?
	local ok notok
	ok=$(grep -c '^ok ' "$log")
	notok=$(grep -c '^not ok ' "$log")
	# A producer that died without reporting a failure still failed.
	if [ "$rc" -ne 0 ] && [ "$notok" -eq 0 ]; then
		notok=1
		echo "not ok - $name exited with status $rc" >>"$log"
	fi
	passed=$((passed + ok))
	failed=$((failed + notok))
	printf '%-48s %4d ok %4d not ok  (%ds)\n' "$name" "$ok" "$notok" $((SECONDS - start))
	if [ "$notok" -ne 0 ]; then
		grep -E '^not ok|^#' "$log" | head -n 40 | sed 's/^/    /'
		tail -n 15 "$log" | sed 's/^/    | /'
	fi
}

for t in "$build"/tests/test_* "$build"/tests-asan/test_* "$here"/integration/*.t; do
	[ -x "$t" ] || continue
	case "$t" in */tests-asan/*) name="asan/$(basename "$t")" ;; *) name=$(basename "$t") ;; esac
	[ -n "$filter" ] && [[ "$name" != *$filter* ]] && continue
	run_one "$t" "$name"
done
rm -rf "$logdir"
echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
