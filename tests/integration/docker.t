#!/bin/bash
# Volumes and the writable layer through unmodified docker (Debian's
# docker.io, a dockerd of the test's own on a private containerd, whose
# default runtime is the one under test) with shared_fs = "virtio-fs": the checks volumes.t makes with
# podman (volume-checks.sh). Passes against runc too (OCI_RUNTIME=/usr/sbin/runc).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/clients.sh"
source "$(dirname "$0")/volume-checks.sh"
write_config 'shared_fs = "virtio-fs"'
select_runtime
require_tools dockerd containerd /usr/bin/docker jq
containerd_start
check "a dockerd of the test's own" docker_start "it=$RUNTIME" || { diag "$DOCKER_DIR/dockerd.log"; exit 1; }
# The classic builder: its RUN steps are containers of the daemon's runtime.
export DOCKER_BUILDKIT=0
volume_client dk docker docker_import_busybox
check_volumes
check_writable_layer

is "$(dk ps -aq | wc -l)" 0 "no containers left"
docker_stop
containerd_stop
assert_no_new_processes "no dockerd, shim, runtime or container processes left"
