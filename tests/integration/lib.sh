# Shared helpers for integration tests (TAP producers). Sourced, not run.
set -u
VEIL_BUILD=${VEIL_BUILD:?run through tests/run-tests.sh or set VEIL_BUILD}
VEIL_BIN="$VEIL_BUILD/veil"
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/veil-it.XXXXXX")
STATE="$TEST_TMP/state"
CONF="$TEST_TMP/configuration.toml"
trap 'cleanup_test_tmp' EXIT
_tap_n=0
_tap_failed=0

cleanup_test_tmp() {
	# A test that leaked a VM must not leave it running after the suite.
	pkill -9 -f "qemu-system.*-name veil-it-$$-" 2>/dev/null || true
	rm -rf "$TEST_TMP"
	echo "1..$_tap_n"
	[ "$_tap_failed" -eq 0 ]
}

ok() { # ok COND_STATUS NAME
	_tap_n=$((_tap_n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $_tap_n - $2"
	else
		_tap_failed=$((_tap_failed + 1))
		echo "not ok $_tap_n - $2"
	fi
}

is() { # is GOT WANT NAME
	if [ "$1" = "$2" ]; then ok 0 "$3"; else ok 1 "$3"; echo "#   got:  '$1'"; echo "#   want: '$2'"; fi
}

# write_config [EXTRA_TOML_LINES for [hypervisor.qemu]] : a config pointing at the built guest.
write_config() {
	local conf=${CONF_PATH:-$CONF}
	cat >"$conf" <<TOML
[hypervisor.qemu]
kernel = "$VEIL_BUILD/guest/vmlinux"
initrd = "$VEIL_BUILD/guest/initrd.img"
${1:-}

[agent]
dial_timeout = ${DIAL_TIMEOUT:-120}

[runtime]
state_dir = "$STATE"
image_cache_dir = "$TEST_TMP/images"
TOML
}

# make_bundle DIR ARG... : a busybox bundle running ARGs.
make_bundle() {
	local dir=$1
	shift
	"$REPO/scripts/busybox-bundle.sh" "$dir" "$VEIL_BIN" "$@" >/dev/null
}

# edit_spec DIR JQ_FILTER : rewrite DIR/config.json with jq.
edit_spec() {
	jq "$2" "$1/config.json" >"$1/config.json.new" && mv "$1/config.json.new" "$1/config.json"
}

veil() { "$VEIL_BIN" --config "$CONF" "$@"; }
# The factory of $CONF, as `factory status --json` reports it.
status_json() { "$VEIL_BIN" --config "$CONF" factory status --json 2>/dev/null; }

# poll_until SECONDS CMD...: runs CMD every 0.2 s until it succeeds; fails after SECONDS.
poll_until() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@"; do
		[ "$SECONDS" -ge "$deadline" ] && return 1
		sleep 0.2
	done
}
# factory_config VMS [TEMPLATE_DIR]: a [factory] section for $CONF, serving on
# $SOCK, with a template in TEMPLATE_DIR if given.
factory_config() {
	printf '\n[factory]\nvm_cache_number = %s\nvm_cache_endpoint = "%s"\n' "$1" "$SOCK" >>"$CONF"
	[ -z "${2:-}" ] || printf 'enable_template = true\ntemplate_path = "%s"\n' "$2" >>"$CONF"
}
# The factory's paused VMs: their QEMU pids, sorted; or how many there are
# that also meet a jq condition.
pooled_pids() { status_json | jq -r '[.vms[]? | select(.state == "paused") | .qemu_pid] | sort | join(" ")'; }
pooled_count() { status_json | jq "[.vms[]? | select(.state == \"paused\" and (${1:-true}))] | length"; }
# A process that has exited (a zombie has released its files and locks too).
gone() { ! kill -0 "$1" 2>/dev/null || grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }
# SIGKILL is asynchronous: wait until the process has exited.
kill_hard() { kill -9 "$1" && poll_until 10 gone "$1"; }
# For background runs, where $! must be veil's own pid rather than a subshell's.
VEIL=("$VEIL_BIN" --config "$CONF")

# Unique, recognisable container IDs: leaked QEMUs can be found by name.
cid() { echo "it-$$-$1"; }

# assert_no_leftovers ID NAME : no QEMU, no state directory, no temp files for ID.
assert_no_leftovers() {
	local id=$1 name=$2 found=""
	pgrep -f "qemu-system.*-name veil-$id" >/dev/null && found="$found qemu-process"
	[ -e "$STATE/$id" ] && found="$found state-dir"
	ok "$([ -z "$found" ]; echo $?)" "$name leaves nothing behind${found:+ (found:$found)}"
}
