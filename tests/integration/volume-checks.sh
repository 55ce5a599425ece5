# What volumes.t (podman) and docker.t ask of host directories and of the
# writable layer, written once for both clients. Sourced after lib.sh and
# clients.sh, not run; volume_client sets what they use:
#   CL   the client's function: pm or dk
#   CLN  its name in test names: podman or docker
#   IMG  a busybox image, imported by volume_client
#   H    a directory of the test's to share

E="$TEST_TMP/err"

# volume_client CL CLN IMPORT : the client the checks drive, and its busybox
# image imported with the function IMPORT; exits if that fails.
volume_client() {
	CL=$1 CLN=$2
	IMG=localhost/veil-it-busybox
	H="$TEST_TMP/host"
	mkdir -p "$H"
	check "$CLN import of a busybox rootfs" "$3" "$IMG" || exit 1
}

# cl_running ID : the container runs (as podman_status_is: 2 once it never will).
cl_running() {
	local st
	st=$("$CL" inspect --format '{{.State.Status}}' "$1" 2>/dev/null)
	[ "$st" = running ] && return 0
	case $st in exited | "") return 2 ;; esac
	return 1
}
# cl_rm ID : removes a running container at once (podman's rm -f waits its
# stop timeout, and sleep as the init ignores SIGTERM).
cl_rm() {
	case $CL in
	pm) pm rm -f -t 0 "$1" ;;
	*) "$CL" rm -f "$1" ;;
	esac
}

# leftovers : what this test's containers left that they should not have: its
# virtiofsd processes, sockets, shared trees or views under the state
# directory, mounts of ours in the host's namespace.
leftovers() {
	local daemons
	daemons=$(new_processes | awk '$2 ~ /virtiofsd$/' | wc -l)
	[ "$daemons" -eq 0 ] || echo "virtiofsd($daemons)"
	[ -z "$(find "$STATE" -mindepth 1 \( -type s -o -name fs -o -name view \) 2>/dev/null)" ] || echo files-in-state
	grep -qE " $STATE/| veil-fs " /proc/self/mountinfo && echo mounts
	return 0
}
# no_leftovers NAME : none of them, once the last container's monitor is gone
# (the client returns as the container is removed; give it 10 s).
no_leftovers() {
	local found
	found=$(settled leftovers)
	ok "$([ -z "$found" ]; echo $?)" "$1: nothing left (no virtiofsd, socket or mount)${found:+ (found: $found)}"
}

# Bind mounts and named volumes: both ways, at once, with owners and modes,
# for a user that may or may not write there, read-only, as the working
# directory; /dev/shm and --tmpfs in the guest.
check_volumes() {
	local out id
	echo from-host >"$H/hello"
	out=$("$CL" run --rm --network none -v "$H:/data" "$IMG" sh -c 'cat /data/hello; echo from-container >/data/back' 2>"$E")
	is "$out" from-host "$CLN -v DIR: the container reads the host's file"
	is "$(cat "$H/back" 2>/dev/null)" from-container "$CLN -v DIR: the host reads the container's file"
	[ -s "$E" ] && diag "$E"

	id=$("$CL" run -d --network none -v "$H:/data" "$IMG" sleep "$LONG_SLEEP" 2>"$E")
	check "$CLN: a container with a volume is running" wait_until cl_running "$id" || diag "$E"
	echo written-meanwhile >"$H/later"
	is "$("$CL" exec "$id" cat /data/later 2>"$E")" written-meanwhile \
		"$CLN: a file the host writes is read in the running container at once"
	"$CL" exec "$id" sh -c 'echo answered >/data/reply' 2>"$E"
	is "$(cat "$H/reply" 2>/dev/null)" answered "$CLN: a file the container writes is read on the host at once"
	check "$CLN rm -f" cl_rm "$id"
	no_leftovers "$CLN: volumes both ways"

	echo owned >"$H/owned"
	chown 1234:2345 "$H/owned"
	chmod 640 "$H/owned"
	out=$("$CL" run --rm --network none -v "$H:/data" "$IMG" stat -c '%u:%g %a' /data/owned 2>"$E")
	is "$out" "1234:2345 640" "$CLN: the container sees the host file's owner and mode"
	mkdir -p "$H/open"
	chmod 1777 "$H/open"
	"$CL" run --rm --network none -u 1000:1000 -v "$H/open:/data" "$IMG" \
		sh -c 'umask 027; echo x >/data/made; mkdir /data/dir' 2>"$E"
	is "$(stat -c '%u:%g %a' "$H/open/made" 2>/dev/null) $(stat -c '%a' "$H/open/dir" 2>/dev/null)" "1000:1000 640 750" \
		"$CLN: the host sees the owner and mode the container gave"

	mkdir -p "$H/theirs" "$H/roots"
	chown 1000:1000 "$H/theirs"
	chmod 755 "$H/roots"
	"$CL" run --rm --network none -u 1000:1000 -v "$H/theirs:/mine" "$IMG" sh -c 'echo ok >/mine/file' 2>"$E"
	is "$(stat -c '%u %s' "$H/theirs/file" 2>/dev/null)" "1000 3" "$CLN: a non-root user writes into a host directory it owns"
	out=$("$CL" run --rm --network none -u 1000:1000 -v "$H/roots:/theirs" "$IMG" sh -c 'echo no >/theirs/file' 2>&1)
	ok "$([ ! -e "$H/roots/file" ] && [[ $out == *"Permission denied"* ]]; echo $?)" \
		"$CLN: and is refused where the host directory does not let it ($out)"

	check "$CLN volume create" "$CL" volume create veil-it-vol
	"$CL" run --rm --network none -v veil-it-vol:/v "$IMG" sh -c 'echo kept >/v/note' 2>"$E"
	is "$("$CL" run --rm --network none -v veil-it-vol:/v "$IMG" cat /v/note 2>"$E")" kept \
		"$CLN: a named volume outlives the container that wrote it"
	check "$CLN volume rm" "$CL" volume rm veil-it-vol

	out=$("$CL" run --rm --network none -v "$H:/data:ro" "$IMG" sh -c 'cat /data/hello; echo x >/data/nope' 2>&1)
	ok "$([[ $out == from-host*"Read-only file system"* ]] && [ ! -e "$H/nope" ]; echo $?)" \
		"$CLN :ro: reads work, a write is refused ($(echo "$out" | tail -1))"

	out=$("$CL" run --rm --network none --read-only -v "$H:/data" "$IMG" \
		sh -c 'echo x >/data/beside-ro; echo x >/nope 2>/dev/null || echo refused' 2>"$E")
	ok "$([ "$out" = refused ] && [ -e "$H/beside-ro" ]; echo $?)" \
		"$CLN --read-only: the rootfs refuses writes, a volume takes them ($out)"

	out=$("$CL" run --rm --network none -w /data -v "$H:/data" "$IMG" sh -c 'pwd; cat hello' 2>"$E")
	is "$out" "/data
from-host" "$CLN -w into a volume"

	out=$("$CL" run --rm --network none --shm-size=32m "$IMG" sh -c 'df -k /dev/shm | tail -1; echo x >/dev/shm/f && cat /dev/shm/f' 2>"$E")
	ok "$([[ $(echo "$out" | head -1 | awk '{print $2}') == 32768 ]] && [ "$(echo "$out" | tail -1)" = x ]; echo $?)" \
		"$CLN --shm-size=32m: a writable /dev/shm of 32 MiB ($(echo "$out" | head -1))"
	out=$("$CL" run --rm --network none --tmpfs /scratch "$IMG" awk '$2 == "/scratch" {print $3}' /proc/mounts 2>"$E")
	is "$out" tmpfs "$CLN --tmpfs /scratch stays a tmpfs"
	no_leftovers "$CLN: mounts of every kind"
}

# The writable layer on the host: restart keeps it, diff lists it, cp goes
# in and out (into a volume too), commit and build RUN steps keep it.
check_writable_layer() {
	local out id
	id=$("$CL" run -d --network none -v "$H:/data" "$IMG" sleep "$LONG_SLEEP" 2>"$E")
	check "$CLN: a container is running" wait_until cl_running "$id" || diag "$E"
	"$CL" exec "$id" sh -c 'echo survived >/kept; rm /bin/vi' 2>"$E"
	check "$CLN restart" "$CL" restart -t 0 "$id"
	is "$("$CL" exec "$id" cat /kept 2>"$E")" survived "$CLN: a file written before a restart is there after it"
	out=$("$CL" diff "$id" 2>"$E")
	ok "$(grep -qx 'A /kept' <<<"$out" && grep -qx 'D /bin/vi' <<<"$out"; echo $?)" \
		"$CLN diff lists the file added and the one removed"
	echo copied-in >"$TEST_TMP/cpin"
	check "$CLN cp into the running container" "$CL" cp "$TEST_TMP/cpin" "$id:/cpin"
	is "$("$CL" exec "$id" cat /cpin 2>"$E")" copied-in "$CLN: the container reads what cp put there"
	check "$CLN cp out of the running container" "$CL" cp "$id:/kept" "$TEST_TMP/cpout"
	is "$(cat "$TEST_TMP/cpout" 2>/dev/null)" survived "$CLN cp out: the container's file"
	rm -f "$TEST_TMP/cpout" "$H/cpvol"
	check "$CLN cp into a volume of the running container" "$CL" cp "$TEST_TMP/cpin" "$id:/data/cpvol"
	is "$(cat "$H/cpvol" 2>/dev/null)" copied-in "$CLN cp into a volume: the file is in the host's directory"
	check "$CLN commit" "$CL" commit "$id" localhost/veil-it-committed
	out=$("$CL" run --rm --network none localhost/veil-it-committed sh -c 'cat /kept /cpin; [ -e /bin/vi ] || echo no-vi' 2>"$E")
	is "$out" "survived
copied-in
no-vi" "$CLN: the committed image has the container's changes"
	check "$CLN rm -f" cl_rm "$id"
	no_leftovers "$CLN: restart, diff, cp, commit"

	mkdir -p "$TEST_TMP/ctx"
	printf 'FROM %s\nRUN echo built >/built && mkdir /newdir && echo inner >/newdir/f\nRUN rm /bin/vi && cat /built >/copy\n' \
		"$IMG" >"$TEST_TMP/ctx/Dockerfile"
	check "$CLN build with RUN steps" "$CL" build -q --network none -t localhost/veil-it-built "$TEST_TMP/ctx"
	out=$("$CL" run --rm --network none localhost/veil-it-built sh -c 'cat /built /copy /newdir/f; [ -e /bin/vi ] || echo no-vi' 2>"$E")
	is "$out" "built
built
inner
no-vi" "$CLN build: what the RUN steps wrote and removed is in the image"
	no_leftovers "$CLN build"
}
