# Helpers for benchmark scripts (sourced): statistics in ms, and the veil
# configuration every benchmark runs with.
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2)}'; }
p90() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {i=int(NR*0.9+0.999); if (i<1) i=1; print a[i]}'; }
report() { local name=$1; shift; printf '%-45s n=%-3d median %6d ms  p90 %6d ms\n' "$name" "$#" "$(median "$@")" "$(p90 "$@")"; }
ratio() { awk -v a="$2" -v b="$3" -v n="$1" 'BEGIN {printf "%-45s %.2fx  (difference %d ms)\n", n, a / b, a - b}'; }

# bench_config FILE BUILD WORK [TOML_LINES]: a config for BUILD's guest with
# state and the rootfs image cache under WORK, which the benchmark removes.
bench_config() {
	printf '[hypervisor.qemu]\nkernel = "%s"\ninitrd = "%s"\n[runtime]\nstate_dir = "%s"\nimage_cache_dir = "%s"\n%s\n' \
		"$2/guest/vmlinux" "$2/guest/initrd.img" "$3/state" "$3/images" "${4:-}" >"$1"
}

# wait_vms N SELECT VEIL_CMD...: until the factory of VEIL_CMD holds N VMs
# matching the jq condition SELECT; gives up (exit 1) after 10 minutes.
wait_vms() {
	local n=$1 select=$2 deadline=$((SECONDS + 600))
	shift 2
	until [ "$("$@" factory status --json | jq "[.vms[]? | select($select)] | length")" -ge "$n" ]; do
		[ "$SECONDS" -lt "$deadline" ] || { echo "$(basename "$0"): the factory never held $n VMs ($select)" >&2; exit 1; }
		sleep 0.1
	done
}

# podman_bench_conf WORK: exports CONTAINERS_CONF, a containers.conf under WORK
# for podman with a private root: no network, cgroupfs, file events and locks.
podman_bench_conf() {
	cat >"$1/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
netns = "none"
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$1/events.log"
lock_type = "file"
CONF
	export CONTAINERS_CONF="$1/containers.conf"
}

# podman_bench_clean WORK: the containers, storage and mounts of the private
# podman under WORK (podman --root WORK/root --runroot WORK/runroot) go.
podman_bench_clean() {
	local pm=(podman --root "$1/root" --runroot "$1/runroot" --tmpdir "$1/tmp")
	"${pm[@]}" rm -af >/dev/null 2>&1 || true
	"${pm[@]}" system reset -f >/dev/null 2>&1 || true
	umount -R "$1/root" 2>/dev/null || true
}

ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }
# timed_run CMD...: runs CMD, its output discarded; prints how long it took in ms.
timed_run() {
	local t0
	t0=$(date +%s%N)
	"$@" >/dev/null
	ms_since "$t0"
}

# For the CRI benchmarks, after tests/integration/clients.sh's cri_setup:
# cri_runtime NAME CONFIG [TOML_LINES]: a runtime handler NAME of the shim
# with veil's configuration CONFIG, added to containerd's CRI configuration.
cri_runtime() {
	CTRD_CRI_CONFIG+="
[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.$1]
  runtime_type = \"$SHIM_RUNTIME\"
${3:-}
  [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.$1.options]
    ConfigPath = \"$2\"
"
}
# cri_start IMAGE: containerd with its CRI plugin, the sandbox image and
# IMAGE imported and visible to CRI; exits the benchmark if that fails.
cri_start() {
	containerd_start >/dev/null || { tail -n 20 "$CTRD_DIR/containerd.log" >&2; exit 1; }
	containerd_import_busybox "$CRI_SANDBOX_IMAGE" sleep "$LONG_SLEEP" >/dev/null &&
		containerd_import_busybox "$1" >/dev/null || { echo "$(basename "$0"): importing the images failed" >&2; exit 1; }
	wait_until sh -c "$(printf '%q ' "${CRI_PY[@]}") $CTRD_SOCK ImageStatus '{\"image\":{\"image\":\"$1\"}}' | grep -q repo_tags"
}
# cri_report RESULTS WHAT RUNS HANDLER...: the title of WHAT (pod or add),
# then each handler's report of its WHAT timings in shim_cri.py's RESULTS;
# their medians go to the caller's associative array median_of[HANDLER/WHAT].
cri_report() {
	local results=$1 what=$2 runs=$3 h
	shift 3
	case $what in
	pod) echo "RunPodSandbox + first container started (CRI, $runs runs each, interleaved):" ;;
	add) echo "one container added to a running pod (CreateContainer + StartContainer):" ;;
	esac
	for h in "$@"; do
		mapfile -t v < <(jq -r --arg h "$h" --arg w "$what" 'select(.handler == $h and .what == $w) | .ms' "$results")
		report "  $h" "${v[@]}"
		median_of[$h/$what]=$(median "${v[@]}")
	done
}
