#!/bin/bash
# make demo: runs a busybox container in a microVM and reports the start time.
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/veil-demo.XXXXXX")
trap 'rm -rf "$work"' EXIT

"$here/busybox-bundle.sh" "$work/bundle" "$build/veil" \
	sh -c 'echo "Hello from a busybox container in a veil microVM"; echo "kernel: $(uname -sr)"; echo "hostname: $(hostname)"; echo "pid 1 in the container: $(cat /proc/1/comm)"; id'
veil=("$build/veil" --config "$build/configuration.toml" --root "$work/state")

echo "== veil env (accelerator) =="
"${veil[@]}" env | sed -n '/^\[accelerator\]/,$p'
echo "== veil run =="
start=$(date +%s%N)
"${veil[@]}" run --bundle "$work/bundle" "demo-$$"
end=$(date +%s%N)
echo "== container started, ran and exited in $(( (end - start) / 1000000 )) ms (veil run invocation to exit) =="
