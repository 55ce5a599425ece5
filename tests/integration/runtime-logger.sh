#!/bin/bash
# runtime-logger.sh: stands in for an OCI runtime and records how it is called.
# Appends one line per invocation to $VEIL_RUNTIME_LOG:
#   TIMESTAMP pid=PID parent=COMM(PPID) argv: ARG ARG ...
# (each ARG shell-quoted with printf %q), then execs $REAL_RUNTIME with every
# argument unchanged, so stdin/stdout/stderr, inherited fds, the environment
# and the exit status are the real runtime's own.
# With VEIL_RUNTIME_LOG_DETAIL=1 it also appends indented lines with the open
# fds and the environment (for finding out what conmon or a shim hands over).
real=${REAL_RUNTIME:?runtime-logger.sh: set REAL_RUNTIME to the runtime to exec}
if [ -n "${VEIL_RUNTIME_LOG:-}" ]; then
	parent='?'
	read -r parent <"/proc/$PPID/comm" 2>/dev/null
	line="${EPOCHREALTIME:-$(date +%s.%N)} pid=$$ parent=$parent($PPID) argv:"
	for a in "$@"; do
		printf -v q '%q' "$a"
		line+=" $q"
	done
	# One write with O_APPEND: lines of concurrent invocations do not interleave.
	printf '%s\n' "$line" >>"$VEIL_RUNTIME_LOG"
	if [ "${VEIL_RUNTIME_LOG_DETAIL:-0}" = 1 ]; then
		# find runs in a child, so it sees this shell's fds as the runtime will
		# get them (less 255, bash's own handle on this script).
		find "/proc/$$/fd" -mindepth 1 -maxdepth 1 ! -name 255 -printf '    fd %f -> %l\n' >>"$VEIL_RUNTIME_LOG"
		tr '\0' '\n' <"/proc/$$/environ" | sed 's/^/    env /' >>"$VEIL_RUNTIME_LOG"
	fi
fi
exec "$real" "$@"
