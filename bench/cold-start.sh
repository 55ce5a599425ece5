#!/bin/bash
# Cold start of a `true` container (veil run invocation to exit), against the
# bare boot of the same QEMU + kernel to the point where /init runs, measured
# in the same run. Prints median and p90 of each and veil's overhead ratio.
# Usage: bench/cold-start.sh BUILD_DIR [RUNS]
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
runs=${2:-10}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/veil-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
source "$here/stats.sh"

"$here/../scripts/busybox-bundle.sh" "$work/bundle" "$build/veil" true
bench_config "$work/conf.toml" "$build" "$work"

# Bare boot: an initramfs whose /init powers the VM off at once.
mkdir -p "$work/bare"
cat >"$work/bare/init.c" <<'C'
#include <sys/reboot.h>
#include <unistd.h>
int main(void) { write(1, "booted\n", 7); reboot(RB_AUTOBOOT); return 0; }
C
gcc -static -O2 -o "$work/bare/init" "$work/bare/init.c"
(cd "$work/bare" && echo init | cpio -o -H newc 2>/dev/null | gzip) >"$work/bare.img"
bare_boot() {
	qemu-system-x86_64 -M microvm,acpi=off,x-option-roms=off -accel tcg -cpu max -m 256 -smp 1 \
		-nodefaults -no-user-config -display none -no-reboot -serial null \
		-kernel "$build/guest/vmlinux" -initrd "$work/bare.img" \
		-append "console=ttyS0 reboot=t panic=-1 quiet loglevel=3"
}

bare=()
veil_times=()
for i in $(seq 1 "$runs"); do
	t0=$(date +%s%N); bare_boot; t1=$(date +%s%N)
	bare+=($(( (t1 - t0) / 1000000 )))
	t0=$(date +%s%N); "$build/veil" --config "$work/conf.toml" run --bundle "$work/bundle" "bench-$$-$i"; t1=$(date +%s%N)
	veil_times+=($(( (t1 - t0) / 1000000 )))
done
report "bare QEMU+kernel boot to /init, exit" "${bare[@]}"
report "veil run (true), invocation to exit" "${veil_times[@]}"
ratio "veil run / bare boot" "$(median "${veil_times[@]}")" "$(median "${bare[@]}")"
