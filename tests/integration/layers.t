#!/bin/bash
# scripts/check-layers.sh: the tree keeps to its layers, and a wrong-way
# include, a folder outside the table or a bare include is reported. No VM.
set -u
here=$(cd "$(dirname "$0")" && pwd)
check="$here/../../scripts/check-layers.sh"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/veil-layers.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
n=0 failed=0
ok() {
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else failed=$((failed + 1)); echo "not ok $n - $2"; fi
}

"$check" "$here/../../src" >"$tmp/out"
ok $? "the tree keeps to its layers"
sed 's/^/#   /' "$tmp/out"

# put FILE LINE...: a source file of the scratch tree.
put() {
	mkdir -p "$(dirname "$tmp/src/$1")"
	local f=$1
	shift
	printf '%s\n' "$@" >"$tmp/src/$f"
}
put lib/up.c '#include <stdio.h>' '#include "lib/error.h"' '#include "hv/hypervisor.h"'
put hv/down.c '#include "lib/error.h"' '#include "proto/frame.h"'
put agent/logs.c '#include "lib/error.h"' '#include "lib/log.h"'
put proto/bare.c '#include "agent.pb-c.h"' '#include "frame.h"'
put nowhere/x.c '#include "lib/error.h"'
put cache/peek.c '#include "hv/hypervisor.h"' '#include "hv/qmp.h"'
put hv/qemu.c '#include "hv/qmp.h"'
"$check" "$tmp/src" >"$tmp/out"
rc=$?
ok "$([ $rc -ne 0 ]; echo $?)" "violations fail the check"
grep -q '^.*/src/lib/up.c:3: includes hv/hypervisor.h' "$tmp/out"
ok $? "an include from a higher layer is reported with its line"
grep -q 'src/agent/logs.c:2: includes lib/log.h' "$tmp/out" && ! grep -q 'logs.c:1' "$tmp/out"
ok $? "the agent may include lib/error.h but not lib/log.h"
grep -q 'src/proto/bare.c:2: includes "frame.h"' "$tmp/out" && ! grep -q 'bare.c:1' "$tmp/out"
ok $? "a bare include is reported, a generated header is not"
grep -q 'src/nowhere/x.c: folder nowhere is not in the layer table' "$tmp/out"
ok $? "a folder outside the table is reported"
grep -q 'src/cache/peek.c:2: includes hv/qmp.h, private to hv/qemu.c hv/qmp.c' "$tmp/out" &&
	! grep -q 'peek.c:1' "$tmp/out" && ! grep -q '/src/hv/qemu.c:' "$tmp/out"
ok $? "a private header is reported outside the files it belongs to"
! grep -q 'down.c' "$tmp/out"
ok $? "includes of lower layers pass"
[ "$(wc -l <"$tmp/out")" = 5 ]
ok $? "one line per violation"

echo "1..$n"
[ "$failed" -eq 0 ]
