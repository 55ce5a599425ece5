#!/bin/bash
# veil-kbs, a real process on private ports and sockets, against a test client
# whose evidence the emulated chip signs: the full flow gets the secret; every
# attack gets none and a reason naming the failed check; hostile HTTP gets
# errors while the daemon keeps serving; admin writes are atomic and private.
source "$(dirname "$0")/lib.sh"
KBS="$VEIL_BUILD/veil-kbs"
CLIENT="$VEIL_BUILD/kbs-test-client"
HTTP="$REPO/tests/integration/kbs_http.py"
CHIP="$TEST_TMP/chip"
M=$(printf 'ab%.0s' $(seq 48))         # the measurement the reference values accept
OTHER_M=$(printf 'cd%.0s' $(seq 48))   # a kernel nobody vouched for
KBS_PIDS=()

stop_all_kbs() {
	local p
	for p in "${KBS_PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
}
trap 'stop_all_kbs; cleanup_test_tmp' EXIT

free_port() { /usr/bin/python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

# kbs_config NAME TRUST_EMULATED: writes $TEST_TMP/NAME/kbs.toml, sets PORT_NAME.
kbs_config() {
	local dir="$TEST_TMP/$1" port
	port=$(free_port)
	mkdir -p "$dir"
	cat >"$dir/kbs.toml" <<TOML
listen = "127.0.0.1:$port"
data_dir = "$dir/data"
admin_socket = "$dir/admin.sock"
connection_timeout = 2
TOML
	[ "$2" = yes ] && printf '[emulated]\nark = "%s/ark.der"\nask = "%s/ask.der"\n' "$CHIP" "$CHIP" >>"$dir/kbs.toml"
	echo "$port" >"$dir/port"
}

# start_kbs NAME: runs it in the background, waits for its admin socket.
start_kbs() {
	local dir="$TEST_TMP/$1"
	"$KBS" --config "$dir/kbs.toml" serve --log "$dir/kbs.log" &
	KBS_PIDS+=($!)
	echo $! >"$dir/pid"
	disown $!
	poll_until 20 sh -c "'$KBS' --admin-socket '$dir/admin.sock' policy get >/dev/null 2>&1"
}

admin() { local name=$1; shift; "$KBS" --config "$TEST_TMP/$name/kbs.toml" "$@"; }
port() { cat "$TEST_TMP/$1/port"; }
client() { local name=$1; shift; "$CLIENT" --kbs "127.0.0.1:$(port "$name")" --chip "$CHIP" "$@"; }

# refused NAME PATTERN CMD...: CMD fails and its one-line error matches PATTERN.
refused() {
	local name=$1 pattern=$2
	shift 2
	local out rc
	out=$("$@" 2>"$TEST_TMP/err")
	rc=$?
	if [ $rc -ne 0 ] && [ -z "$out" ] && [ "$(wc -l <"$TEST_TMP/err")" -eq 1 ] && grep -qE "$pattern" "$TEST_TMP/err"; then
		ok 0 "$name: no secret, and the reason"
	else
		ok 1 "$name: no secret, and the reason"
		echo "#   rc=$rc stdout='$out'"
		sed 's/^/#   stderr: /' "$TEST_TMP/err"
	fi
}

# The emulated chip is made once; init-data documents for the binding tests.
"$CLIENT" --kbs 127.0.0.1:1 --chip "$CHIP" --measurement "$M" >/dev/null 2>&1
cat >"$TEST_TMP/init-a.toml" <<'TOML'
algorithm = "sha384"
version = "0.1.0"

[data]
"aa.toml" = '''
[token_configs.kbs]
url = "http://127.0.0.1:8080"
'''
TOML
sed 's/8080/9090/' "$TEST_TMP/init-a.toml" >"$TEST_TMP/init-b.toml"
INIT_A_DIGEST=$(sha384sum "$TEST_TMP/init-a.toml" | cut -d' ' -f1)

kbs_config main yes
start_kbs main
ok $? "veil-kbs starts and opens its admin socket"

cat >"$TEST_TMP/ref.toml" <<TOML
[emulated]
measurements = ["$M"]
TOML
cat >"$TEST_TMP/policy.toml" <<TOML
[resource."default/key/db"]
tee = ["emulated"]

[resource."default/key/bound"]
tee = ["emulated"]
init_data = ["$INIT_A_DIGEST"]

[resource."default/snp-only/key"]
tee = ["snp"]

[resource."default/shared/*"]
tee = ["emulated"]
TOML
admin main reference set "$TEST_TMP/ref.toml" && admin main policy set "$TEST_TMP/policy.toml" &&
	printf 's3cr3t-db' | admin main resource set default/key/db - &&
	printf 'bound-secret' | admin main resource set default/key/bound - &&
	printf 'not-granted' | admin main resource set default/key/other - &&
	printf 'snp-secret' | admin main resource set default/snp-only/key -
ok $? "admin: reference values, policy and resources set"
is "$(admin main resource get default/key/db)" "s3cr3t-db" "admin: resource get"

# --- files are private ---
DATA="$TEST_TMP/main/data"
is "$(stat -c %a "$DATA/resources/default/key/db")" 600 "resource files are 0600"
is "$(stat -c %a "$DATA/reference-values.toml") $(stat -c %a "$DATA/policy.toml")" "600 600" "policy files are 0600"
is "$(stat -c %a "$DATA")" 700 "the data directory is 0700"
is "$(stat -c %a "$TEST_TMP/main/admin.sock")" 600 "the admin socket is 0600"
if command -v setpriv >/dev/null; then
	out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$KBS" --admin-socket "$TEST_TMP/main/admin.sock" \
		resource get default/key/db 2>&1)
	rc=$?
	ok "$([ $rc -ne 0 ] && [ "${out#*s3cr3t}" = "$out" ]; echo $?)" "another user cannot use the admin socket"
fi
grep -q "s3cr3t-db" "$TEST_TMP/main/kbs.log"
ok "$([ $? -ne 0 ]; echo $?)" "secrets never reach the log"

# --- the full flow ---
is "$(client main --measurement "$M" default/key/db)" "s3cr3t-db" "full flow (ECDH-ES+A256KW): the secret"
is "$(client main --measurement "$M" --rsa default/key/db)" "s3cr3t-db" "full flow (RSA-OAEP-256): the secret"
is "$(client main --measurement "$M" --protocol-0.4.0 default/key/db)" "s3cr3t-db" \
	"full flow, protocol 0.4.0 (composite evidence, as Trustee speaks today): the secret"
is "$(client main --measurement "$M" --init-data "$TEST_TMP/init-a.toml" default/key/bound)" "bound-secret" \
	"init-data bound into HOST_DATA and granted by digest"
grep -q "protects nothing" "$TEST_TMP/main/kbs.log"
ok $? "the log says in words that emulated evidence protects nothing"

# --- attacks: no secret, and a reason naming the failed check ---
client main --measurement "$M" --save-attestation "$TEST_TMP/old-attestation.json" >/dev/null 2>&1
refused "replayed evidence with an old nonce" "nonce .* is not this session's challenge" \
	"$CLIENT" --kbs "127.0.0.1:$(port main)" --replay-attestation "$TEST_TMP/old-attestation.json"
refused "tampered REPORT_DATA" "REPORT_DATA does not bind this session's nonce and tee-pubkey: expected [0-9a-f]{128} .*carries [0-9a-f]{128}" \
	client main --measurement "$M" --tamper-report-data default/key/db
refused "measurement not in the reference values" "measurement $OTHER_M is not in the reference values for emulated \(expected $M\)" \
	client main --measurement "$OTHER_M" default/key/db
refused "init-data altered by the host" "init-data does not match HOST_DATA: the init-data sent hashes to [0-9a-f]{64}, the evidence carries [0-9a-f]{64}" \
	client main --measurement "$M" --init-data "$TEST_TMP/init-a.toml" --launched-with "$TEST_TMP/init-b.toml" default/key/bound
refused "a resource the policy does not grant" "403 PolicyDeny.*no policy rule grants default/key/other \(default deny\)" \
	client main --measurement "$M" default/key/other
refused "a resource granted to another TEE" "403 PolicyDeny.*tee emulated is not among those it grants \(snp\)" \
	client main --measurement "$M" default/snp-only/key
refused "init-data digest not granted" "403 PolicyDeny.*init-data digest 0{64} is not in policy rule" \
	client main --measurement "$M" default/key/bound
refused "a debug guest" "401 AttestationError.*debug" client main --measurement "$M" --debug default/key/db
refused "a resource that does not exist" "404 ResourceNotFound.*default/shared/missing does not exist" client main --measurement "$M" default/shared/missing

kbs_config strict no
openssl x509 -in "$REPO/tests/data/attest/snp_ark_milan.pem" -outform der -out "$TEST_TMP/milan-ark.der"
openssl x509 -in "$REPO/tests/data/attest/snp_ask_milan.pem" -outform der -out "$TEST_TMP/milan-ask.der"
openssl x509 -in "$REPO/tests/data/attest/snp_ark_genoa.pem" -outform der -out "$TEST_TMP/genoa-ark.der"
openssl x509 -in "$REPO/tests/data/attest/snp_ask_genoa.pem" -outform der -out "$TEST_TMP/genoa-ask.der"
printf '[snp.milan]\nark = "%s"\nask = "%s"\n[snp.genoa]\nark = "%s"\nask = "%s"\n' "$TEST_TMP/milan-ark.der" \
	"$TEST_TMP/milan-ask.der" "$TEST_TMP/genoa-ark.der" "$TEST_TMP/genoa-ask.der" >>"$TEST_TMP/strict/kbs.toml"
start_kbs strict
admin strict reference set "$TEST_TMP/ref.toml" && admin strict policy set "$TEST_TMP/policy.toml"
refused "emulated evidence at a KBS not trusting the emulated root" "401 AttestationError\): SNP evidence: VCEK chain ends in veil's emulated root .*protects nothing" \
	client strict --measurement "$M" default/key/db

# --- real evidence through the whole KBS path: AMD's Milan report and Intel's
# TDX quote verify (signatures, chains, TCB), then fail only the binding to
# this session, since they were made for someone else's nonce. ---
D="$REPO/tests/data/attest"
/usr/bin/python3 - "$D" "$TEST_TMP" <<'PY'
import base64, json, sys
d, out = sys.argv[1], sys.argv[2]
json.dump({"quote": base64.b64encode(open(d + "/tdx_quote_spr_e4.dat", "rb").read()).decode()},
          open(out + "/tdx.json", "w"))
PY
openssl x509 -in "$D/tdx_intel_sgx_root_ca.pem" -outform der -out "$TEST_TMP/intel-root.der"
MILAN=(--snp-report "$D/snp_report_milan.hex" --vcek "$D/snp_vcek_milan.der")
refused "a real Milan report: verified, then not bound to this session" \
	"401 AttestationError\): REPORT_DATA does not bind this session's nonce and tee-pubkey" \
	"$CLIENT" --kbs "127.0.0.1:$(port strict)" "${MILAN[@]}" default/key/db
refused "the real Milan report at a KBS trusting only the emulated root" "SNP evidence: VCEK issuer .* is none of the configured anchors' ASKs \(emulated\)" \
	"$CLIENT" --kbs "127.0.0.1:$(port main)" "${MILAN[@]}" default/key/db
refused "Trustee's own SNP evidence (Genoa, sev's serde form): verified, then not bound" \
	"401 AttestationError\): REPORT_DATA does not bind this session's nonce and tee-pubkey" \
	"$CLIENT" --kbs "127.0.0.1:$(port strict)" --evidence-file "$REPO/tests/data/kbs/trustee_snp_evidence_genoa.json" default/key/db
refused "TDX evidence at a KBS without a TDX root" "TDX evidence: this KBS trusts no TDX root" \
	"$CLIENT" --kbs "127.0.0.1:$(port main)" --tdx --evidence-file "$TEST_TMP/tdx.json" default/key/db
kbs_config tdx no
printf '[tdx]\nroot = "%s"\n' "$TEST_TMP/intel-root.der" >>"$TEST_TMP/tdx/kbs.toml"
start_kbs tdx
refused "a real TDX quote: verified, then not bound to this session" \
	"401 AttestationError\): REPORT_DATA does not bind this session's nonce and tee-pubkey" \
	"$CLIENT" --kbs "127.0.0.1:$(port tdx)" --tdx --evidence-file "$TEST_TMP/tdx.json" default/key/db

# --- 50 concurrent attestations ---
for i in $(seq 50); do
	client main --measurement "$M" default/key/db >"$TEST_TMP/c$i.out" 2>"$TEST_TMP/c$i.err" &
done
wait_clients=0
for job in $(jobs -p); do
	case " ${KBS_PIDS[*]} " in *" $job "*) continue ;; esac
	wait "$job" || wait_clients=$((wait_clients + 1))
done
good=$(cat "$TEST_TMP"/c*.out | grep -c '^s3cr3t-db$')
is "$good" 50 "50 concurrent attestations all get the secret"
[ "$good" -eq 50 ] || cat "$TEST_TMP"/c*.err | sort | uniq -c | head -5 | sed 's/^/#   /'

# --- hostile HTTP: errors, and the daemon keeps serving ---
P=$(port main)
out=$(/usr/bin/python3 "$HTTP" "$P" raw "$(printf 'GET / HTTP/9.9\r\nHost: k\r\n\r\n' | od -An -tx1 | tr -d ' \n')")
is "$out" "HTTP/1.1 505 HTTP Version Not Supported" "a bad HTTP version: 505"
out=$(/usr/bin/python3 "$HTTP" "$P" raw "$(printf 'GET /kbs/v0/auth HTTP/1.1\r\nHost: k\r\nBad Header\r\n\r\n' | od -An -tx1 | tr -d ' \n')")
is "$out" "HTTP/1.1 400 Bad Request" "a malformed header: 400"
out=$(/usr/bin/python3 "$HTTP" "$P" raw "$(head -c 3000 /dev/urandom | od -An -tx1 | tr -d ' \n')")
case "$out" in EOF | "HTTP/1.1 400 "*) ok 0 "random bytes: 400 or hang-up ($out)" ;; *) ok 1 "random bytes: 400 or hang-up"; echo "#   $out" ;; esac
out=$(/usr/bin/python3 "$HTTP" "$P" oversize /kbs/v0/attest $((4 << 20)))
is "${out%% *}" 413 "an announced oversize body: 413 before it is read"
out=$(/usr/bin/python3 "$HTTP" "$P" stream /kbs/v0/auth $((1 << 20)))
is "${out%% *}" 413 "an oversize chunked body: 413"
out=$(/usr/bin/python3 "$HTTP" "$P" post /kbs/v0/auth '{"version":')
case "$out" in
401\ *'"type":"https://github.com/confidential-containers/kbs/errors/AttestationError"'*'invalid JSON'*) ok 0 "bad JSON: 401 with a problem-details body" ;;
*) ok 1 "bad JSON: 401 with a problem-details body"; echo "#   $out" ;;
esac
out=$(/usr/bin/python3 "$HTTP" "$P" post /kbs/v0/auth '{"version":"0.1.0","tee":"snp"}')
case "$out" in
401\ *'version mismatch: expected 0.1.1 or 0.4.0, the client speaks 0.1.0'*) ok 0 "an old protocol version: 401 naming both versions" ;;
*) ok 1 "an old protocol version: 401 naming both versions"; echo "#   $out" ;;
esac
bad_jwk='{"runtime-data":{"nonce":"x","tee-pubkey":{"kty":"EC","crv":"P-256","alg":"ECDH-ES+A256KW","x":"AAAA","y":"AAAA"}},"tee-evidence":{}}'
out=$(/usr/bin/python3 "$HTTP" "$P" attest "$bad_jwk")
case "$out" in
401\ *'tee-pubkey JWK: \"x\" is 3 bytes, expected 32'*) ok 0 "a bad JWK: 401 naming the member" ;;
*) ok 1 "a bad JWK: 401 naming the member"; echo "#   $out" ;;
esac
out=$(/usr/bin/python3 "$HTTP" "$P" post /kbs/v0/nothing '{}')
is "${out%% *}" 404 "an unknown endpoint: 404"
out=$(/usr/bin/python3 "$HTTP" "$P" post /kbs/v0/resource/default/key/db '')
is "${out%% *}" 405 "POST to a resource: 405"
out=$(/usr/bin/python3 "$HTTP" "$P" raw "$(printf 'GET /kbs/v0/resource/default/key/db HTTP/1.1\r\nHost: k\r\n\r\n' | od -An -tx1 | tr -d ' \n')")
is "$out" "HTTP/1.1 401 Unauthorized" "a resource without a session: 401"
/usr/bin/python3 "$HTTP" "$P" slow 30 >"$TEST_TMP/slow.out" &
slow=$!
is "$(client main --measurement "$M" default/key/db)" "s3cr3t-db" "served while a slow client hangs"
wait "$slow"
is "$(cat "$TEST_TMP/slow.out")" closed "a slow client is disconnected by the KBS's timeout"
kill -0 "$(cat "$TEST_TMP/main/pid")"
ok $? "the daemon is still running after all of that"
is "$(client main --measurement "$M" default/key/db)" "s3cr3t-db" "and still serves the full flow"

refused "a second broker on the same admin socket" "admin socket .*: another veil-kbs is serving there" \
	"$KBS" --config "$TEST_TMP/main/kbs.toml" serve --log "$TEST_TMP/second.log"
is "$(admin main resource get default/key/db)" "s3cr3t-db" "and the first one keeps its socket"

# --- sessions are bounded and expire ---
kbs_config short no
printf 'session_timeout = 1\nmax_sessions = 2\n' >>"$TEST_TMP/short/kbs.toml"
start_kbs short
out=$(/usr/bin/python3 "$HTTP" "$(port short)" late 1.5 '{}')
case "$out" in
401\ *"session not found or expired"*) ok 0 "an attestation after the session expired: 401" ;;
*) ok 1 "an attestation after the session expired: 401"; echo "#   $out" ;;
esac
out=$(/usr/bin/python3 "$HTTP" "$(port short)" auths 3 | tail -1)
case "$out" in
503\ *TooManySessions*"all 2 sessions are in use"*) ok 0 "past max_sessions (expired ones reused): 503 TooManySessions" ;;
*) ok 1 "past max_sessions (expired ones reused): 503 TooManySessions"; echo "#   $out" ;;
esac

# --- admin writes survive kill -9 ---
printf 'durable' | admin main resource set default/shared/durable -
kill -9 "$(cat "$TEST_TMP/main/pid")"
poll_until 10 sh -c "! kill -0 $(cat "$TEST_TMP/main/pid") 2>/dev/null"
start_kbs main   # over the socket file the killed one left
is "$(admin main resource get default/shared/durable)" durable "an admin write survives kill -9"
is "$(find "$DATA" -name '*.tmp' | wc -l)" 0 "no temporary files left behind"
is "$(client main --measurement "$M" default/key/db)" "s3cr3t-db" "policy and reference values survive the restart"
is "$(client main --measurement "$M" default/shared/durable)" durable "a wildcard rule grants it"
admin main resource delete default/shared/durable
refused "a deleted resource" "404 ResourceNotFound" client main --measurement "$M" default/shared/durable

# --- bad administration input: one line, non-zero, nothing changed ---
printf '[emulated]\nmeasurements = ["zz"]\n' >"$TEST_TMP/bad-ref.toml"
refused "bad reference values are refused" "reference values: 2:17: measurements\[0\]: \"zz\" is not a hex digest of 48 bytes" \
	admin main reference set "$TEST_TMP/bad-ref.toml"
is "$(client main --measurement "$M" default/key/db)" "s3cr3t-db" "the previous reference values still hold"
refused "a bad resource name" "resource \"\.\./x/y\"" admin main resource set ../x/y /dev/null

# --- --detach with a pid file ---
kbs_config detached yes
"$KBS" --config "$TEST_TMP/detached/kbs.toml" serve --detach --pid-file "$TEST_TMP/detached/kbs.pid" --log "$TEST_TMP/detached/kbs.log"
ok $? "serve --detach returns once the daemon is up"
dpid=$(cat "$TEST_TMP/detached/kbs.pid" 2>/dev/null)
KBS_PIDS+=("$dpid")
kill -0 "$dpid" 2>/dev/null && test -S "$TEST_TMP/detached/admin.sock"
ok $? "the detached daemon runs, as its pid file says"
kill -TERM "$dpid"
poll_until 10 test ! -e "$TEST_TMP/detached/kbs.pid"
ok $? "SIGTERM stops it and removes its pid file"
kbs_config broken yes
sed -i 's/^listen = .*/listen = "127.0.0.1:0"/' "$TEST_TMP/broken/kbs.toml"
refused "a bad configuration fails before detaching" "listen: port \"0\" is not 1..65535" \
	"$KBS" --config "$TEST_TMP/broken/kbs.toml" serve --detach
