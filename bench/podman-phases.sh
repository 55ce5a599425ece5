#!/bin/bash
# Where `podman run --rm IMAGE true` spends its time on a warmed pooled clone,
# against runc: each OCI verb podman and conmon call (create, start, delete)
# timed by a wrapper, the gaps between them (podman's and conmon's own work),
# and veil's per-phase trace of the same starts (docs/tracing.md), with the
# guest agent's steps. With a BASELINE_BUILD, both builds' pools are measured,
# interleaved with runc in one run.
# Usage: bench/podman-phases.sh BUILD [RUNS] [BASELINE_BUILD]
set -euo pipefail
builds=("$(cd "${1:-build}" && pwd)")
runs=${2:-10}
[ -z "${3:-}" ] || builds=("$(cd "$3" && pwd)" "${builds[0]}")
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/veil-bench-podman-phases.XXXXXX")
pm=(podman --root "$work/root" --runroot "$work/runroot" --tmpdir "$work/tmp")
variants=(runc)
for i in "${!builds[@]}"; do variants+=("veil$i"); done
cleanup() {
	for i in "${!builds[@]}"; do
		"${builds[$i]}/veil" --config "$work/veil$i/veil.toml" factory destroy >/dev/null 2>&1 || true
	done
	podman_bench_clean "$work"
	rm -rf "$work"
}
source "$here/stats.sh"
trap cleanup EXIT
podman_bench_conf "$work"

# wrap NAME CMD...: $work/bin/NAME runs CMD with podman's arguments and appends
# "NAME START_NS END_NS ARGS" to the verb log.
wrap() {
	local name=$1
	shift
	{
		printf '#!/bin/bash\nt0=$(date +%%s%%N)\n'
		printf '%q ' "$@"
		printf '"$@"\nrc=$?\necho "%s $t0 $(date +%%s%%N) $*" >>%q\nexit $rc\n' "$name" "$work/verbs.log"
	} >"$work/bin/$name"
	chmod +x "$work/bin/$name"
}
mkdir "$work/bin"
wrap runc "$(command -v runc)"
for i in "${!builds[@]}"; do
	mkdir -p "$work/veil$i/traces"
	bench_config "$work/veil$i/veil.toml" "${builds[$i]}" "$work/veil$i" "trace = true
trace_dir = \"$work/veil$i/traces\"
[factory]
vm_cache_number = 1
vm_cache_endpoint = \"$work/veil$i/cache.sock\"
enable_template = true
template_path = \"$work/veil$i/template\""
	"${builds[$i]}/veil" --config "$work/veil$i/veil.toml" factory init --detach >/dev/null
	wrap "veil$i" "${builds[$i]}/veil" --config "$work/veil$i/veil.toml"
done

"$here/../scripts/busybox-bundle.sh" "$work/bundle" "${builds[0]}/veil" true
tar -C "$work/bundle/rootfs" -c . | "${pm[@]}" import - localhost/bench-busybox >/dev/null

for _ in $(seq 1 "$runs"); do
	for v in "${variants[@]}"; do
		if [ "$v" != runc ]; then
			wait_vms 1 '.state == "paused" and .origin == "clone"' "${builds[${v#veil}]}/veil" --config "$work/$v/veil.toml"
		fi
		echo "BEGIN $v $(date +%s%N)" >>"$work/verbs.log"
		"${pm[@]}" run --rm --runtime "$work/bin/$v" localhost/bench-busybox true >/dev/null
		echo "END $v $(date +%s%N)" >>"$work/verbs.log"
	done
done

echo "load average $(cut -d' ' -f1-3 /proc/loadavg); veil0${3:+ is the baseline $3, veil1} is ${builds[-1]}"
python3 - "$work" "${variants[@]}" <<'PY'
import glob, json, os, statistics, sys

work, variants = sys.argv[1], sys.argv[2:]

def median(xs):
    return statistics.median(xs) if xs else float("nan")

def p90(xs):
    xs = sorted(xs)
    return xs[max(0, -(-len(xs) * 9 // 10) - 1)]

# Each podman run: its verbs in order, the gap before each, and the rest.
runs = {v: [] for v in variants}
for line in open(os.path.join(work, "verbs.log")):
    f = line.split()
    if f[0] == "BEGIN":
        run, t = {}, int(f[2])
    elif f[0] == "END":
        run["after the last verb (podman)"] = (int(f[2]) - t) / 1e6
        run["total"] = sum(run.values())
        runs[f[1]].append(run)
    else:
        verb = next(a for a in f[3:] if a in ("create", "start", "delete", "state", "kill"))
        begin, end = int(f[1]), int(f[2])
        gap = "before %s (podman, conmon%s)" % (verb, ", the container" if verb == "delete" else "")
        run[gap] = run.get(gap, 0) + (begin - t) / 1e6
        run["veil/runc " + verb] = run.get("veil/runc " + verb, 0) + (end - begin) / 1e6
        t = end
rows = list(dict.fromkeys(k for v in variants for r in runs[v] for k in r))
print("\n| ms, median of %d | %s |" % (len(runs[variants[0]]), " | ".join(variants)))
print("|---|" + "---|" * len(variants))
for k in rows:
    print("| %s | %s |" % (k, " | ".join("%.1f" % median([r.get(k, 0) for r in runs[v]]) for v in variants)))
print("| total p90 | %s |" % " | ".join("%.0f" % p90([r["total"] for r in runs[v]]) for v in variants))
for v in variants[1:]:
    print("%s / runc: %.2fx" % (v, median([r["total"] for r in runs[v]]) / median([r["total"] for r in runs["runc"]])))

# The trace of each veil start: its phases (host), the host's spans and the agent's steps.
for v in variants[1:]:
    spans = {}
    for path in glob.glob(os.path.join(work, v, "traces", "container-*.json")):
        for e in json.load(open(path))["traceEvents"]:
            if e.get("ph") == "X":
                where = "phase" if (e["pid"], e["tid"]) == (1, 1) else "host" if e["pid"] == 1 else "guest"
                spans.setdefault((where, e["name"]), []).append(e["dur"] / 1000)
    for where in ("phase", "host", "guest"):
        print("%s %s: %s" % (v, where, ", ".join("%s %.1f" % (n, median(d)) for (w, n), d in spans.items() if w == where)))
PY
