# Helpers for the client integration tests (podman.t, containerd.t): the
# runtime under test, a private podman, a private containerd, local images,
# process bookkeeping and clean-up. Sourced after lib.sh, not run.
#
# Environment:
#   OCI_RUNTIME       absolute path of the runtime under test. If it is a veil
#                     binary it is wrapped with --config $CONF. Unset: veil
#                     ($VEIL_BUILD/veil) if it has the lifecycle verbs
#                     (`veil create --help` exits 0), else runc.
#   VEIL_RUNTIME_LOG  where runtime-logger.sh records every runtime call
#                     (default: a file in the test's temp dir, shown on failure).
#   VEIL_RUNTIME_LOG_DETAIL=1  also record fds and environment of each call.

CLIENTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# ---------------------------------------------------------------------------
# Runtime knobs: everything that differs between runc and veil is here.
# ---------------------------------------------------------------------------
RUNTIME_NAME=          # runc | veil | basename of $OCI_RUNTIME
RUNTIME_REAL=          # what the logging wrapper execs
RUNTIME=               # what the clients are told to run (the logging wrapper)
RUNTIME_LOG=${VEIL_RUNTIME_LOG:-$TEST_TMP/runtime.log}
WAIT_CAP=60            # seconds to wait for a state change (polling, not a threshold)
STOP_TIMEOUT=2         # podman stop -t: seconds between SIGTERM and SIGKILL
CLIENT_CAP=120         # seconds after which one podman/ctr command is killed (a hung runtime)

# make_veil_runtime_wrapper DIR [VEIL_BINARY] : writes DIR/veil, a runtime that
# runs `VEIL_BINARY --config $CONF ARGS...` (writing $CONF with lib.sh's
# write_config if it is not there yet), and prints its path.
make_veil_runtime_wrapper() {
	local dir=$1 bin=${2:-$VEIL_BIN}
	mkdir -p "$dir"
	[ -e "$CONF" ] || write_config
	cat >"$dir/veil" <<EOF
#!/bin/sh
exec $(printf '%q' "$bin") --config $(printf '%q' "$CONF") "\$@"
EOF
	chmod +x "$dir/veil"
	echo "$dir/veil"
}

# make_logging_runtime DIR NAME REAL : writes DIR/NAME, which logs its argv to
# $RUNTIME_LOG through runtime-logger.sh and execs REAL; prints its path.
# The clients are given this path, so the log shows exactly what they invoke.
make_logging_runtime() {
	local dir=$1 name=$2 real=$3
	mkdir -p "$dir"
	cat >"$dir/$name" <<EOF
#!/bin/sh
export REAL_RUNTIME=$(printf '%q' "$real")
export VEIL_RUNTIME_LOG=$(printf '%q' "$RUNTIME_LOG")
${VEIL_RUNTIME_LOG_DETAIL:+export VEIL_RUNTIME_LOG_DETAIL=$VEIL_RUNTIME_LOG_DETAIL}
exec $(printf '%q' "$CLIENTS_DIR/runtime-logger.sh") "\$@"
EOF
	chmod +x "$dir/$name"
	echo "$dir/$name"
}

# select_runtime : sets RUNTIME_NAME, RUNTIME_REAL and RUNTIME.
select_runtime() {
	if [ -n "${OCI_RUNTIME:-}" ]; then
		RUNTIME_NAME=$(basename "$OCI_RUNTIME")
		RUNTIME_REAL=$OCI_RUNTIME
		if [ "$RUNTIME_NAME" = veil ]; then
			RUNTIME_REAL=$(make_veil_runtime_wrapper "$TEST_TMP/veil-rt" "$OCI_RUNTIME")
		fi
	elif [ -x "$VEIL_BIN" ] && "$VEIL_BIN" create --help >/dev/null 2>&1; then
		RUNTIME_NAME=veil
		RUNTIME_REAL=$(make_veil_runtime_wrapper "$TEST_TMP/veil-rt")
	else
		RUNTIME_NAME=runc
		RUNTIME_REAL=$(command -v runc || echo /usr/sbin/runc)
		echo "# runtime: runc (veil lifecycle not available)"
	fi
	if [ "$RUNTIME_NAME" = veil ]; then # microVMs boot under TCG here
		WAIT_CAP=300
		CLIENT_CAP=400
	fi
	RUNTIME=$(make_logging_runtime "$TEST_TMP/rt" "$RUNTIME_NAME" "$RUNTIME_REAL")
	echo "# runtime: $RUNTIME_NAME ($RUNTIME_REAL), calls logged to $RUNTIME_LOG"
}

# ---------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------

# wait_until CMD... : polls CMD (every 0.2 s, at most $WAIT_CAP s) until it
# succeeds. CMD exiting with 2 or more means "never": the wait ends at once.
wait_until() {
	local end=$((SECONDS + WAIT_CAP)) rc
	while :; do
		"$@" >/dev/null 2>&1
		rc=$?
		[ $rc -eq 0 ] || [ $rc -ge 2 ] || [ $SECONDS -ge $end ] && return $rc
		sleep 0.2
	done
}

# require_tools TOOL... : a failed test (and exit) for each one missing;
# scripts/install-deps.sh installs them.
require_tools() {
	local t missing=0
	for t in script "$@"; do
		command -v "$t" >/dev/null && continue
		ok 1 "$t is installed (scripts/install-deps.sh)"
		missing=1
	done
	[ "$missing" -eq 0 ] || exit 1
}

# diag FILE [N] : the last N lines of FILE as TAP comments.
diag() { [ -s "$1" ] && tail -n "${2:-15}" "$1" | sed 's/^/#   /'; return 0; }

# check NAME CMD... : ok if CMD succeeds; on failure shows its output.
check() {
	local name=$1
	shift
	"$@" >"$TEST_TMP/check.out" 2>&1
	local rc=$?
	ok "$rc" "$name"
	[ "$rc" -eq 0 ] || { echo "#   exit $rc: $*"; diag "$TEST_TMP/check.out"; }
	return $rc
}

# in_tty CMD... : runs CMD with a pseudo-terminal as its stdin/stdout/stderr
# (script(1)), output with CRs removed; returns CMD's exit status. script's own
# stdin is kept open: at EOF it would type the terminal's EOF character (a NUL
# once the client has put the terminal in raw mode) into the container.
in_tty() {
	local cmd rc hold holder
	cmd=$(printf '%q ' "$@")
	# The holder must not be script's child: script waits for its children.
	exec {hold}< <(exec sleep 3600 {_tap_out}>&- {_tap_err}>&-)
	holder=$!
	timeout -k 10 "$CLIENT_CAP" script -qec "$cmd" /dev/null <&$hold {hold}<&- {_tap_out}>&- {_tap_err}>&- | tr -d '\r'
	rc=${PIPESTATUS[0]}
	exec {hold}<&-
	kill "$holder" 2>/dev/null
	return "$rc"
}

# A recognisable sleep for long-running containers: leftovers are easy to find.
LONG_SLEEP=$((860000 + $$ % 100000))

# both NAME ARGS... : "${BOTH_RUN[@]}" ARGS with the runtime under test, and
# with runc (BOTH_REFERENCE: the client's options for it, put before ARGS);
# $V and $R get their output, and they must agree.
both() {
	local name=$1
	shift
	V=$("${BOTH_RUN[@]}" "$@" 2>"$TEST_TMP/both.v")
	R=$("${BOTH_RUN[@]}" "${BOTH_REFERENCE[@]}" "$@" 2>"$TEST_TMP/both.r")
	is "$V" "$R" "$name: as with runc"
	[ "$V" = "$R" ] || { diag "$TEST_TMP/both.v"; diag "$TEST_TMP/both.r"; }
}

# ---------------------------------------------------------------------------
# Process and resource bookkeeping
# ---------------------------------------------------------------------------
# Everything the clients start (podman, conmon, containerd, shims, the runtime,
# its monitor, QEMU) inherits this from the environment, so this test's
# processes can be told from those of anything else running on the machine.
export VEIL_IT_MARK=$TEST_TMP

# new_processes : prints "PID CMDLINE" of the processes that belong to this
# test: marked environment, or the test's temp dir or LONG_SLEEP in the command
# line (container processes get the OCI environment, not ours). Builtins only,
# so the scan does not find its own helpers.
new_processes() {
	local p pid args env cmd
	for p in /proc/[0-9]*; do
		pid=${p#/proc/}
		[ "$pid" = $$ ] || [ "$pid" = "$BASHPID" ] && continue
		args=() env=()
		mapfile -d "" args 2>/dev/null <"$p/cmdline" || continue
		[ ${#args[@]} -eq 0 ] && continue # kernel thread, zombie, or gone
		mapfile -d "" env 2>/dev/null <"$p/environ"
		cmd="${args[*]}"
		if [[ $'\n'"$(printf '%s\n' "${env[@]}")" == *$'\n'"VEIL_IT_MARK=$TEST_TMP"* ]] ||
			[[ $cmd == *"$TEST_TMP"* ]] || [[ $cmd == *"sleep $LONG_SLEEP"* ]]; then
			echo "$pid $cmd"
		fi
	done
}

# settled CMD... : what CMD prints once it prints nothing, or after 10 s
# (what is going away is given the time to go).
settled() {
	local i out
	for i in $(seq 1 50); do
		out=$("$@")
		[ -z "$out" ] && break
		sleep 0.2
	done
	printf '%s' "$out"
}

# assert_no_new_processes NAME : ok if new_processes finds nothing (after
# giving exiting processes up to 10 s to go).
assert_no_new_processes() {
	local left
	left=$(settled new_processes)
	ok "$([ -z "$left" ]; echo $?)" "$1"
	[ -z "$left" ] || echo "$left" | cut -c1-200 | sed 's/^/#   left: /'
}

# The top-level cgroups the clients create (podman's cgroupfs parent, ctr's
# namespace), removed at the end if they were not there before and are empty.
_client_cgroups() { ls -d /sys/fs/cgroup/*/libpod_parent /sys/fs/cgroup/*/"$CTRD_NS" /sys/fs/cgroup/*/"$DOCKER_CGROUP" 2>/dev/null; }
_baseline_cgroups=
snapshot_cgroups() { _baseline_cgroups=$(_client_cgroups); }
cleanup_cgroups() {
	local d
	for d in $(_client_cgroups); do
		grep -qxF "$d" <<<"$_baseline_cgroups" && continue
		find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
	done
	return 0
}

# Unmount everything under the test's temp dir (container storage, shm, netns).
unmount_test_tmp() {
	local m
	awk '{print $5}' /proc/self/mountinfo | grep -F "$TEST_TMP" | sort -r | while read -r m; do
		umount -l "$m" 2>/dev/null
	done
	return 0
}

# ---------------------------------------------------------------------------
# Clean-up on exit, also on failure or interruption
# ---------------------------------------------------------------------------
_cleanups=()
_run_containerd_existed=
[ -e /run/containerd ] && _run_containerd_existed=1
on_exit() { _cleanups+=("$*"); }
clients_cleanup() {
	local i
	for ((i = ${#_cleanups[@]} - 1; i >= 0; i--)); do eval "${_cleanups[$i]}" >/dev/null 2>&1; done
	# Whatever is still running of ours: kill it (TERM, then KILL).
	local pids
	pids=$(new_processes | awk '{print $1}')
	if [ -n "$pids" ]; then
		kill $pids 2>/dev/null
		sleep 1
		pids=$(new_processes | awk '{print $1}')
		[ -n "$pids" ] && kill -9 $pids 2>/dev/null
	fi
	unmount_test_tmp
	cleanup_cgroups
	# Shims put their sockets in /run/containerd/s whatever containerd's state dir.
	[ -n "$_run_containerd_existed" ] || rmdir /run/containerd/s 2>/dev/null
	[ -n "$_run_containerd_existed" ] || rmdir /run/containerd 2>/dev/null
	if [ "$_tap_failed" -ne 0 ] && [ -s "$RUNTIME_LOG" ]; then
		echo "# last runtime calls ($RUNTIME_LOG; T = $TEST_TMP):"
		grep -v '^    ' "$RUNTIME_LOG" | tail -n 12 | sed -E "s#$TEST_TMP#T#g; s#T/containerd/state/io.containerd.runtime.v2.task/#T/ctrd-task/#g; s/^[0-9.]+ pid=[0-9]+ //" |
			cut -c1-400 | sed 's/^/#   /'
	fi
}
# The test's own stdout and stderr, for the exit trap: a signal can arrive
# while a function's output is redirected (check, out=$(pm ...)), and bash
# runs the trap with that redirection still in place. The clients started here
# get these two fds closed ({_tap_out}>&-), so that no long-lived process
# (conmon, containerd, a shim, a monitor) holds the test's output open.
exec {_tap_out}>&1 {_tap_err}>&2
trap 'exec >&$_tap_out 2>&$_tap_err; clients_cleanup; cleanup_test_tmp' EXIT
trap 'exit 130' INT TERM HUP

# ---------------------------------------------------------------------------
# A busybox root filesystem (the same as scripts/busybox-bundle.sh makes)
# ---------------------------------------------------------------------------
# make_rootfs DIR : DIR/rootfs is a busybox-static root filesystem.
make_rootfs() {
	local spec_tool=$VEIL_BIN
	[ -x "$spec_tool" ] || spec_tool=$(command -v runc)
	"$REPO/scripts/busybox-bundle.sh" "$1" "$spec_tool" true >/dev/null
}

# ---------------------------------------------------------------------------
# A private podman
# ---------------------------------------------------------------------------
PODMAN_DIR=$TEST_TMP/podman

# podman_setup : configuration under $PODMAN_DIR; pm runs podman with it.
podman_setup() {
	local d=$PODMAN_DIR
	mkdir -p "$d"/{root,runroot,tmp,cni,events}
	cat >"$d/containers.conf" <<EOF
[containers]
# podman's default nofile (1048576) is above this machine's hard limit (20000).
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
log_driver = "k8s-file"
netns = "none"

[network]
network_backend = "cni"
network_config_dir = "$d/cni"

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$d/events/events.log"
lock_type = "file"
tmp_dir = "$d/tmp"
static_dir = "$d/root/libpod"
volume_path = "$d/root/volumes"
runtime = "$RUNTIME_NAME"
runtime_supports_json = ["crun", "runc", "kata", "runsc", "krun", "veil"]
runtime_supports_kvm = ["kata", "krun"]

[engine.runtimes]
$RUNTIME_NAME = ["$RUNTIME"]
EOF
	cat >"$d/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$d/root"
runroot = "$d/runroot"
EOF
	: >"$d/registries.conf"
	echo '{"default": [{"type": "insecureAcceptAnything"}]}' >"$d/policy.json"
	export CONTAINERS_CONF="$d/containers.conf"
	export CONTAINERS_STORAGE_CONF="$d/storage.conf"
	export CONTAINERS_REGISTRIES_CONF="$d/registries.conf"
	on_exit podman_teardown
}

# PM: the podman command line (an array, for in_tty); pm: runs it.
PM=(podman --root "$PODMAN_DIR/root" --runroot "$PODMAN_DIR/runroot" --tmpdir "$PODMAN_DIR/tmp")
pm() { timeout -k 10 "$CLIENT_CAP" "${PM[@]}" "$@" {_tap_out}>&- {_tap_err}>&-; }

podman_teardown() {
	CLIENT_CAP=60 pm rm -af -t 0
	CLIENT_CAP=60 pm image rm -af
}

# podman_import_busybox NAME : imports the busybox rootfs as image NAME.
podman_import_busybox() {
	make_rootfs "$TEST_TMP/img"
	tar -C "$TEST_TMP/img/rootfs" -c . | pm import --signature-policy "$PODMAN_DIR/policy.json" - "$1"
}

# podman_status ID : the container's state (running, paused, exited, ...).
podman_status() { pm inspect --format '{{.State.Status}}' "$1" 2>/dev/null; }
# podman_status_is ID STATE : 0 if it is in STATE, 1 if not yet, 2 if it never
# will be (it has exited or is gone), for wait_until.
podman_status_is() {
	local st
	st=$(podman_status "$1")
	[ "$st" = "$2" ] && return 0
	case $st in exited | "") return 2 ;; esac
	return 1
}
# podman_logs_have ID PATTERN : the container's output matches PATTERN
# (as podman_status_is: 2 once it has stopped running without it).
podman_logs_have() {
	pm logs "$1" 2>/dev/null | grep -q "$2" && return 0
	[ "$(podman_status "$1")" = running ] || return 2
	return 1
}

# ---------------------------------------------------------------------------
# A private containerd
# ---------------------------------------------------------------------------
CTRD_DIR=$TEST_TMP/containerd
CTRD_SOCK=$CTRD_DIR/containerd.sock
CTRD_NS=veil-it
CTRD_PID=

# containerd_start : a private containerd. With CTRD_CRI set, its CRI plugin
# is on, with the configuration in $CTRD_CRI_CONFIG (lines of
# [plugins."io.containerd.grpc.v1.cri"] and below) appended.
containerd_start() {
	local d=$CTRD_DIR
	mkdir -p "$d"/{root,state,opt,fifo,runc-root}
	cat >"$d/config.toml" <<EOF
version = 2
root = "$d/root"
state = "$d/state"
disabled_plugins = [
  ${CTRD_CRI:+#} "io.containerd.grpc.v1.cri",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp",
]

[grpc]
  address = "$CTRD_SOCK"

[ttrpc]
  address = "$CTRD_SOCK.ttrpc"

[debug]
  address = ""

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "$d/opt"
${CTRD_CRI:+${CTRD_CRI_CONFIG:-}}
EOF
	# The runtime-specific flags of `ctr run`, and of `ctr task exec`.
	CTR_RUN_FLAGS=(--runc-binary "$RUNTIME" --runc-root "$d/runc-root" --fifo-dir "$d/fifo")
	CTR_EXEC_FLAGS=(--fifo-dir "$d/fifo")
	containerd --config "$d/config.toml" >"$d/containerd.log" 2>&1 {_tap_out}>&- {_tap_err}>&- &
	CTRD_PID=$!
	on_exit containerd_stop
	on_exit containerd_teardown
	wait_until ctrc version
}

# stop_daemon PID : SIGTERM, up to 10 s to exit, then SIGKILL; reaps it.
stop_daemon() {
	local i
	kill "$1" 2>/dev/null
	for i in $(seq 1 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.2; done
	kill -9 "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	return 0
}

containerd_stop() {
	[ -n "$CTRD_PID" ] || return 0
	stop_daemon "$CTRD_PID"
	CTRD_PID=
}

# CTR: the ctr command line (an array, for in_tty); ctrc: runs it.
CTR=(ctr --address "$CTRD_SOCK" --namespace "$CTRD_NS")
ctrc() { timeout -k 10 "$CLIENT_CAP" "${CTR[@]}" "$@" {_tap_out}>&- {_tap_err}>&-; }

# containerd_teardown : removes every task and container (so shims exit).
containerd_teardown() {
	local c
	[ -n "$CTRD_PID" ] || return 0
	for c in $(CLIENT_CAP=30 ctrc container ls -q 2>/dev/null); do
		CLIENT_CAP=60 ctrc task delete --force "$c"
		CLIENT_CAP=30 ctrc container delete "$c"
	done
}

# containerd_import_busybox REF [CMD...] : an OCI image made with umoci from
# the busybox rootfs, tarred and imported with `ctr image import`, named REF
# (NAME:TAG), whose command is CMD (default: sh).
containerd_import_busybox() {
	local ref=$1 o=$TEST_TMP/oci-${1//[:\/]/_} arg cmd=()
	shift
	for arg in "${@:-sh}"; do cmd+=(--config.cmd "$arg"); done
	make_rootfs "$TEST_TMP/img"
	umoci init --layout "$o/layout" &&
		umoci new --image "$o/layout:${ref##*:}" &&
		umoci unpack --image "$o/layout:${ref##*:}" "$o/bundle" &&
		cp -a "$TEST_TMP/img/rootfs/." "$o/bundle/rootfs/" &&
		umoci repack --image "$o/layout:${ref##*:}" "$o/bundle" &&
		umoci config --image "$o/layout:${ref##*:}" "${cmd[@]}" \
			--config.env PATH=/usr/sbin:/usr/bin:/sbin:/bin --config.workingdir / &&
		umoci gc --layout "$o/layout" &&
		tar -C "$o/layout" -cf "$o/image.tar" . &&
		ctrc image import --base-name "${ref%:*}" "$o/image.tar"
}

# ctr_task_status ID : RUNNING, PAUSED, STOPPED, ... from `ctr task ls`.
ctr_task_status() { ctrc task ls 2>/dev/null | awk -v id="$1" '$1 == id {print $3}'; }
# ctr_task_status_is ID STATE : as podman_status_is (2: stopped or gone).
ctr_task_status_is() {
	local st
	st=$(ctr_task_status "$1")
	[ "$st" = "$2" ] && return 0
	case $st in STOPPED | UNKNOWN | "") return 2 ;; esac
	return 1
}

# check_host_cgroup_64m PID : two checks of a veil container run with
# --memory 64m --cpus 0.5 whose host pid is PID: its QEMU is in PID's host
# cgroup (memory; the unified one on cgroup v2), and the limits there are the
# VM's memory plus QEMU's overhead, and half a CPU.
check_host_cgroup_64m() {
	local qemu mem cpu limits
	qemu=$(pgrep -P "$1" -f qemu-system | head -n 1)
	if [ -d /sys/fs/cgroup/memory ]; then
		mem=/sys/fs/cgroup/memory$(sed -n 's/^[0-9]*:memory://p' "/proc/$1/cgroup")
		cpu=/sys/fs/cgroup/cpu$(sed -n 's/^[0-9]*:cpu[,a-z]*://p' "/proc/$1/cgroup" | head -n 1)
		limits="$(cat "$mem/memory.limit_in_bytes"):$(cat "$cpu/cpu.cfs_quota_us")"
	else
		mem=/sys/fs/cgroup$(sed -n 's/^0:://p' "/proc/$1/cgroup")
		limits="$(cat "$mem/memory.max"):$(cut -d' ' -f1 "$mem/cpu.max")"
	fi
	ok "$(grep -qx "${qemu:-none}" "$mem/cgroup.procs"; echo $?)" "QEMU is in the container's host cgroup ($mem)"
	is "$limits" "$(((256 + 64 + 192) << 20)):50000" \
		"--memory 64m and --cpus 0.5 on the host cgroup: the VM's 320 MiB plus QEMU's 192, half a CPU"
}

# ---------------------------------------------------------------------------
# A private dockerd (docker.io), on the private containerd
# ---------------------------------------------------------------------------
DOCKER_DIR=$TEST_TMP/docker
DOCKER_CGROUP=veil-it-docker
DOCKERD_PID=

# docker_start NAME=PATH... : a dockerd of the test's own (state, socket, the
# cgroup parent $DOCKER_CGROUP; no iptables, no bridge) on the containerd of
# containerd_start, with these runtimes, the first the default.
docker_start() {
	local d=$DOCKER_DIR rt runtimes=()
	mkdir -p "$d"
	echo '{}' >"$d/daemon.json"
	for rt in "$@"; do runtimes+=(--add-runtime "$rt"); done
	dockerd --config-file "$d/daemon.json" --data-root "$d/root" --exec-root "$d/exec" --pidfile "$d/dockerd.pid" \
		-H "unix://$d/docker.sock" --containerd "$CTRD_SOCK" --iptables=false --ip6tables=false --bridge=none \
		--storage-driver=vfs --cgroup-parent "/$DOCKER_CGROUP" "${runtimes[@]}" --default-runtime "${1%%=*}" \
		>"$d/dockerd.log" 2>&1 {_tap_out}>&- {_tap_err}>&- &
	DOCKERD_PID=$!
	on_exit docker_stop
	wait_until dk version
}

# DK: the docker command line (Debian's client, the daemon's version); dk runs it.
DK=(/usr/bin/docker -H "unix://$DOCKER_DIR/docker.sock")
dk() { timeout -k 10 "$CLIENT_CAP" "${DK[@]}" "$@" {_tap_out}>&- {_tap_err}>&-; }

# docker_stop : removes every container, then stops dockerd.
docker_stop() {
	[ -n "$DOCKERD_PID" ] || return 0
	local c
	for c in $(CLIENT_CAP=30 dk ps -aq 2>/dev/null); do CLIENT_CAP=60 dk rm -f "$c"; done
	stop_daemon "$DOCKERD_PID"
	DOCKERD_PID=
}

# docker_import_busybox REF : the busybox rootfs as the image REF.
docker_import_busybox() {
	[ -d "$TEST_TMP/img/rootfs" ] || make_rootfs "$TEST_TMP/img"
	tar -C "$TEST_TMP/img/rootfs" -c . | dk import -c 'CMD ["sh"]' - "$1"
}

# ---------------------------------------------------------------------------
# containerd-shim-veil-v2
# ---------------------------------------------------------------------------
SHIM_RUNTIME=io.containerd.veil.v2

# shim_setup : containerd (started after this) finds the shim on its PATH and
# veil's configuration through VEIL_CONF_FILE; VMs boot under TCG here.
shim_setup() {
	[ -e "$CONF" ] || write_config
	export VEIL_CONF_FILE=$CONF
	export PATH=$VEIL_BUILD:$PATH
	WAIT_CAP=300
	CLIENT_CAP=400
}

# shim_socket GROUP : the socket of the shim serving GROUP (a pod's sandbox
# ID, or a lone container's), named as containerd's shims name theirs.
shim_socket() {
	echo "/run/containerd/s/$(printf '%s/%s/%s' "$CTRD_SOCK" "$CTRD_NS" "$1" | sha256sum | cut -c1-64)"
}

# shim_leftovers GROUP... : prints what is left of these pods: a shim or QEMU
# process, a socket, a state directory.
shim_leftovers() {
	local g
	for g in "$@"; do
		[ -e "$(shim_socket "$g")" ] && echo "socket of $g"
		[ -e "$STATE/containerd/$CTRD_NS/$g" ] && echo "state of $g"
		pgrep -f "qemu-system.*-name veil-$g," >/dev/null && echo "QEMU of $g"
		pgrep -f "containerd-shim-veil-v2 .*-id $g " >/dev/null && echo "shim of $g"
	done
	return 0
}
# shim_gone GROUP... : nothing is left of these pods (for wait_until, which
# must run the check each time, not a string made once).
shim_gone() { [ -z "$(shim_leftovers "$@")" ]; }

# ---------------------------------------------------------------------------
# containerd's CRI plugin, driven by tests/integration/cri/cri.py
# ---------------------------------------------------------------------------
CRI_PY=(/usr/bin/python3 "$CLIENTS_DIR/cri/cri.py")
export CRI_PY_CACHE=$TEST_TMP/cri-py
CRI_SANDBOX_IMAGE=localhost/veil-it-pause:latest

# cri_setup : for containerd_start: the CRI plugin on, with runtimes "veil"
# (the shim, its configuration from the shim options' ConfigPath; veil's and
# Kata's pod and container annotations passed on) and "runc",
# a private CNI bridge network, and CRI's namespace (k8s.io) for ctr.
cri_setup() {
	local d=$CTRD_DIR net=$((($$ % 200) + 20))
	CTRD_NS=k8s.io
	CTR=(ctr --address "$CTRD_SOCK" --namespace "$CTRD_NS")
	CRI_BRIDGE=veilbr$$
	CRI_SUBNET_PREFIX=10.99.$net
	mkdir -p "$d/cni" "$TEST_TMP/cni-ipam"
	cat >"$d/cni/10-veil-it.conflist" <<EOF
{"cniVersion": "0.4.0", "name": "veil-it-$$", "plugins": [
  {"type": "bridge", "bridge": "$CRI_BRIDGE", "isGateway": true, "ipMasq": false,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "$CRI_SUBNET_PREFIX.0/24"}]], "dataDir": "$TEST_TMP/cni-ipam"}}]}
EOF
	CTRD_CRI=1
	CTRD_CRI_CONFIG="
[plugins.\"io.containerd.grpc.v1.cri\"]
  sandbox_image = \"$CRI_SANDBOX_IMAGE\"
  restrict_oom_score_adj = true
  disable_apparmor = true
  stream_server_address = \"127.0.0.1\"
  stream_server_port = \"0\"
  [plugins.\"io.containerd.grpc.v1.cri\".containerd]
    snapshotter = \"overlayfs\"
    default_runtime_name = \"runc\"
    [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc]
      runtime_type = \"io.containerd.runc.v2\"
    [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.veil]
      runtime_type = \"$SHIM_RUNTIME\"
      pod_annotations = [\"io.veil.*\", \"io.katacontainers.*\"]
      container_annotations = [\"io.veil.*\", \"io.katacontainers.*\"]
      [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.veil.options]
        ConfigPath = \"$CONF\"
  [plugins.\"io.containerd.grpc.v1.cri\".cni]
    bin_dir = \"/usr/lib/cni\"
    conf_dir = \"$d/cni\"
"
	on_exit "ip link del $CRI_BRIDGE"
}

# cri METHOD [JSON] : calls CRI; the response (JSON) on stdout.
cri() { timeout -k 10 "$CLIENT_CAP" "${CRI_PY[@]}" "$CTRD_SOCK" "$@" {_tap_out}>&- {_tap_err}>&-; }
# cri_get METHOD JSON JQ : one value of the response.
cri_get() { cri "$1" "$2" | jq -r "$3"; }

# Pods of the runtime handler "veil", their containers running the test's
# image $IMG and logging under $TEST_TMP/pods/<pod name>/.
# pod_config NAME [EXTRA_JSON] : a PodSandboxConfig, with its log directory.
pod_config() {
	local extra=${2:-'{}'}
	mkdir -p "$TEST_TMP/pods/$1"
	jq -cn --arg name "$1" --arg logs "$TEST_TMP/pods/$1" --argjson extra "$extra" \
		'{metadata: {name: $name, uid: ("uid-" + $name), namespace: "veil-it"}, hostname: $name,
		  log_directory: $logs} * $extra'
}
# run_pod CONFIG : RunPodSandbox with the veil runtime; prints the pod's ID.
run_pod() { cri_get RunPodSandbox "{\"config\": $1, \"runtime_handler\": \"veil\"}" .pod_sandbox_id; }
# create_container POD_ID POD_CONFIG NAME ANNOTATIONS_JSON CMD... : a
# container whose command is CMD, logging to NAME.log; prints its ID.
create_container() {
	local pod=$1 config=$2 name=$3 annotations=$4 c
	shift 4
	c=$(jq -cn --arg name "$name" --arg img "$IMG" --argjson a "$annotations" '{metadata: {name: $name},
		image: {image: $img}, command: $ARGS.positional, log_path: ($name + ".log"), annotations: $a}' --args -- "$@")
	cri_get CreateContainer "{\"pod_sandbox_id\": \"$pod\", \"config\": $c, \"sandbox_config\": $config}" .container_id
}
# start_container ID : StartContainer (where CRI creates the task).
start_container() { cri StartContainer "{\"container_id\": \"$1\"}" >/dev/null; }
state_of() { cri_get ContainerStatus "{\"container_id\": \"$1\"}" '.status.state // "CONTAINER_CREATED"'; }
exec_sync() { cri ExecSync "$(jq -cn --arg id "$1" '{container_id: $id, cmd: $ARGS.positional}' --args -- "${@:2}")"; }
# log_has POD_NAME/NAME.log LINE : the container wrote LINE to its stdout.
log_has() { grep -q " stdout F $2\$" "$TEST_TMP/pods/$1" 2>/dev/null; }
stop_and_remove() {
	cri StopPodSandbox "{\"pod_sandbox_id\": \"$1\"}" >/dev/null && cri RemovePodSandbox "{\"pod_sandbox_id\": \"$1\"}" >/dev/null
}

snapshot_cgroups
