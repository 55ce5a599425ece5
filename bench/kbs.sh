#!/bin/bash
# One attestation plus one resource fetch against a real veil-kbs, by the
# emulated-chip test client, RUNS times in a row: medians and p90s of the
# whole exchange as the guest sees it, of the KBS's part (time inside its
# auth, attest and resource handlers, from its log) and of the guest's part
# (the rest: TEE key, evidence, JWE decryption, HTTP), with the emulated
# chip's signing shown on its own. Usage: bench/kbs.sh BUILD_DIR [RUNS]
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
runs=${2:-30}
work=$(mktemp -d "${TMPDIR:-/tmp}/veil-bench-kbs.XXXXXX")
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

port=$(/usr/bin/python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
m=$(printf 'ab%.0s' $(seq 48))
"$build/kbs-test-client" --kbs 127.0.0.1:1 --chip "$work/chip" --measurement "$m" >/dev/null 2>&1 || true
cat >"$work/kbs.toml" <<TOML
listen = "127.0.0.1:$port"
data_dir = "$work/data"
admin_socket = "$work/admin.sock"
[emulated]
ark = "$work/chip/ark.der"
ask = "$work/chip/ask.der"
TOML
"$build/veil-kbs" --config "$work/kbs.toml" serve --log "$work/kbs.log" &
pid=$!
for _ in $(seq 100); do [ -S "$work/admin.sock" ] && break; sleep 0.1; done
printf '[emulated]\nmeasurements = ["%s"]\n' "$m" | "$build/veil-kbs" --config "$work/kbs.toml" reference set -
printf '[resource."bench/key/one"]\ntee = ["emulated"]\n' | "$build/veil-kbs" --config "$work/kbs.toml" policy set -
head -c 32 /dev/urandom | "$build/veil-kbs" --config "$work/kbs.toml" resource set bench/key/one -

: >"$work/times"
for _ in $(seq "$runs"); do
	"$build/kbs-test-client" --kbs "127.0.0.1:$port" --chip "$work/chip" --measurement "$m" --times bench/key/one \
		2>>"$work/times" >/dev/null
done
kill "$pid"
wait "$pid" 2>/dev/null || true
pid=

# Per run, in microseconds: the guest's wall time, the KBS's handler time.
sed -n 's/^times: attest_us=\([0-9]*\) resource_us=\([0-9]*\) evidence_us=\([0-9]*\)$/\1 \2 \3/p' "$work/times" >"$work/client"
awk '/challenge issued|guest attested|released/ {
	match($0, /pid=[0-9]+ msg="[a-z]+ session [0-9a-f]+/); s = substr($0, RSTART, RLENGTH); sub(/.* /, "", s)
	match($0, /\(([^()]*, )?[0-9]+ us\)"$/); t = substr($0, RSTART, RLENGTH); gsub(/[^0-9 ]/, " ", t); n = split(t, f, " ")
	kbs[s] += f[n]; if (!(s in seen)) { order[++k] = s; seen[s] = 1 } }
	END { for (i = 1; i <= k; i++) print kbs[order[i]] }' "$work/kbs.log" >"$work/kbs"
paste -d' ' "$work/client" "$work/kbs" >"$work/all"

stat_line() { # NAME COLUMN-EXPRESSION: median and p90 in ms over the runs
	awk -v name="$1" "{ print $2 }" "$work/all" | sort -n | awk -v name="$1" '{ a[NR] = $1 }
		END { i = int(NR * 0.9 + 0.999); if (i < 1) i = 1
		      m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
		      printf "%-52s n=%-3d median %7.2f ms  p90 %7.2f ms\n", name, NR, m / 1000, a[i] / 1000 }'
}
echo "veil-kbs: one attestation + one resource fetch (emulated TEE, ECDH-ES+A256KW, loopback)"
stat_line "whole exchange, as the guest sees it" '$1 + $2'
stat_line "  KBS part (auth + attest + resource handlers)" '$4'
stat_line "  guest part (the rest: key, evidence, JWE, HTTP)" '$1 + $2 - $4'
stat_line "    of which the emulated chip signing the report" '$3'
