#!/usr/bin/python3
"""The timing loop of bench/shim.sh, through containerd's CRI with
tests/integration/cri/cri.py. For each run and each runtime handler in turn
(interleaved, so that all see the same machine load):
  pod: RunPodSandbox, then CreateContainer and StartContainer of its first container;
  add: CreateContainer and StartContainer of one more container in the running pod;
then the pod is stopped and removed (not timed). Before a handler listed in
--wait-pool runs, the factory of the configuration given there must hold a
paused VM, so that the run measures a VM from the pool. The containers of a
handler given --annotations get those (a JSON object: secrets of a
confidential pod). Prints one JSON line per measurement: {"handler", "what", "ms"}.
usage: shim_cri.py SOCKET IMAGE LOG_DIR RUNS HANDLER... [--wait-pool HANDLER VEIL CONFIG]
                   [--annotations HANDLER JSON]"""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration", "cri"))
import cri  # noqa: E402


def pod_config(name, logs):
    os.makedirs(os.path.join(logs, name), exist_ok=True)
    return {"metadata": {"name": name, "uid": "uid-" + name, "namespace": "bench"}, "hostname": name,
            "log_directory": os.path.join(logs, name)}


def container(client, pod, config, name, image, annotations):
    c = {"metadata": {"name": name}, "image": {"image": image}, "command": ["sleep", "3600"],
         "log_path": name + ".log", "annotations": annotations}
    cid = client.call("CreateContainer", {"pod_sandbox_id": pod, "config": c, "sandbox_config": config})["container_id"]
    client.call("StartContainer", {"container_id": cid})


def pool_ready(veil, config):
    out = subprocess.run([veil, "--config", config, "factory", "status", "--json"], capture_output=True, text=True)
    vms = json.loads(out.stdout or "{}").get("vms", [])
    return any(vm.get("state") == "paused" for vm in vms)


def ms(t0):
    return int((time.monotonic() - t0) * 1000)


def main(argv):
    if len(argv) < 6:
        sys.exit(__doc__)
    socket, image, logs, runs = argv[1], argv[2], argv[3], int(argv[4])
    handlers, waits, annotations = [], {}, {}
    rest = argv[5:]
    while rest:
        if rest[0] == "--wait-pool":
            waits[rest[1]] = (rest[2], rest[3])
            rest = rest[4:]
        elif rest[0] == "--annotations":
            annotations[rest[1]] = json.loads(rest[2])
            rest = rest[3:]
        else:
            handlers.append(rest[0])
            rest = rest[1:]
    client = cri.Client(socket)
    for run in range(runs):
        for h in handlers:
            if h in waits:
                deadline = time.monotonic() + 600
                while not pool_ready(*waits[h]):
                    if time.monotonic() > deadline:
                        sys.exit("shim_cri.py: the pool for %s never filled" % h)
                    time.sleep(0.1)
            name = "%s-%d" % (h, run)
            config = pod_config(name, logs)
            t0 = time.monotonic()
            pod = client.call("RunPodSandbox", {"config": config, "runtime_handler": h})["pod_sandbox_id"]
            container(client, pod, config, "first", image, annotations.get(h, {}))
            print(json.dumps({"handler": h, "what": "pod", "ms": ms(t0)}), flush=True)
            t0 = time.monotonic()
            container(client, pod, config, "second", image, annotations.get(h, {}))
            print(json.dumps({"handler": h, "what": "add", "ms": ms(t0)}), flush=True)
            client.call("StopPodSandbox", {"pod_sandbox_id": pod})
            client.call("RemovePodSandbox", {"pod_sandbox_id": pod})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
