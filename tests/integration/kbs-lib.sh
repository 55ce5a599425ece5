# A real veil-kbs and confidential configurations on the emulated TEE, for
# confidential.t and confidential-pods.t. Sourced after lib.sh, not run; the
# sourcing test sets KBS (the binary), CHIP (the emulated chip's directory)
# and PIDS (an array: the KBS processes it kills at exit).

free_port() { /usr/bin/python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

# start_kbs NAME TRUST_EMULATED [PORT]: a veil-kbs in $TEST_TMP/NAME; its port in NAME_PORT.
start_kbs() {
	local dir="$TEST_TMP/$1" port=${3:-$(free_port)}
	mkdir -p "$dir"
	printf 'listen = "127.0.0.1:%s"\ndata_dir = "%s/data"\nadmin_socket = "%s/admin.sock"\n' "$port" "$dir" "$dir" \
		>"$dir/kbs.toml"
	[ "$2" = yes ] && printf '[emulated]\nark = "%s/ark.der"\nask = "%s/ask.der"\n' "$CHIP" "$CHIP" >>"$dir/kbs.toml"
	"$KBS" --config "$dir/kbs.toml" serve --log "$dir/kbs.log" &
	PIDS+=($!)
	disown $!
	printf -v "${1}_PORT" '%s' "$port"
	poll_until 20 sh -c "'$KBS' --config '$dir/kbs.toml' policy get >/dev/null 2>&1"
}
admin() { local name=$1; shift; "$KBS" --config "$TEST_TMP/$name/kbs.toml" "$@"; }

# init_data FILE PORT [POLICY]: init-data naming the KBS on PORT (aa.toml, as CoCo writes it).
init_data() {
	{
		printf 'version = "0.1.0"\nalgorithm = "sha384"\n\n[data]\n"aa.toml" = '"'''"'\n'
		printf '[token_configs.kbs]\nurl = "http://127.0.0.1:%s"\n'"'''"'\n' "$2"
		[ -z "${3:-}" ] || printf '"policy.rego" = '"'''"'\npackage agent_policy\n%s\n'"'''"'\n' "$3"
	} >"$1"
}

# cri_host_files FILE: init-data FILE lets the host give a container the files
# CRI binds into every container of a pod (veil.toml [mounts]).
cri_host_files() {
	printf '"veil.toml" = %s\n[mounts]\nallow = ["/etc/hosts", "/etc/resolv.conf", "/etc/hostname"]\n%s\n' \
		"'''" "'''" >>"$1"
}

# conf FILE INIT_DATA [EXTRA]: a confidential configuration on the emulated TEE.
conf() {
	CONF_PATH=$1 write_config "confidential_guest = true
tee = \"emulated\"
emulated_tee_dir = \"$CHIP\"
init_data = \"$2\"
${3:-}"
}
