#!/bin/bash
# Generates the C code of containerd's shim v2 protocol from the .proto files
# Debian ships (golang-github-containerd-containerd-dev, -cgroups-dev, and
# libprotobuf-dev for google/protobuf), so that none is copied into the tree.
# gogoproto's options only steer Go code generation: they are stripped, with
# the imports that declare them, before protoc-c sees the files.
# Usage: shim-protos.sh OUTDIR   (writes OUTDIR/github.com/..., OUTDIR/google/...)
set -euo pipefail
out=$1
gocode=/usr/share/gocode/src
# Imported as github.com/containerd/<path>, the way the files import each other.
protos=(
	containerd/runtime/v2/task/shim.proto
	containerd/api/types/mount.proto
	containerd/api/types/task/task.proto
	containerd/api/events/task.proto
	containerd/api/services/ttrpc/events/v1/events.proto
	containerd/pkg/runtimeoptions/v1/api.proto
	cgroups/v2/stats/metrics.proto
)
google=(google/protobuf/any.proto google/protobuf/empty.proto google/protobuf/timestamp.proto)

src=$(mktemp -d)
trap 'rm -rf "$src"' EXIT
for p in "${protos[@]}"; do
	from=$gocode/github.com/containerd/$p
	[ -r "$from" ] || { echo "shim-protos.sh: $from is missing (apt-get install golang-github-containerd-containerd-dev golang-github-containerd-cgroups-dev)" >&2; exit 1; }
	mkdir -p "$src/github.com/containerd/$(dirname "$p")"
	sed -E -e '/^[[:space:]]*import (weak )?".*(gogo|fieldpath)\.proto";/d' \
		-e '/^[[:space:]]*option \((gogoproto|containerd\.plugin)\./d' \
		-e 's/[[:space:]]*\[\((gogoproto|containerd\.plugin)\.[^]]*\]//' \
		"$from" >"$src/github.com/containerd/$p"
	if grep -nE 'gogoproto|containerd\.plugin' "$src/github.com/containerd/$p" >&2; then
		echo "shim-protos.sh: $p still names a Go-only option after stripping" >&2
		exit 1
	fi
done
mkdir -p "$out"
protoc-c --proto_path="$src" --proto_path=/usr/include --c_out="$out" \
	"${protos[@]/#/github.com/containerd/}" "${google[@]}"
