#!/bin/bash
# Installs the Debian packages veil needs to build, demo and test, and nothing
# else: no downloads outside apt. Quick no-op when everything is present.
set -euo pipefail

packages=(
	# build (the static guest agent also links libssl-dev's, libjson-c-dev's and zlib1g-dev's .a)
	gcc make pkg-config libjson-c-dev libprotobuf-c-dev protobuf-c-compiler libseccomp-dev
	# guest kernel and initramfs
	linux-source-6.1 flex bison libelf-dev libssl-dev bc cpio xz-utils python3
	# runtime (qemu-system-x86 brings virtiofsd; mkfs.ext4 makes writable layers)
	qemu-system-x86 erofs-utils e2fsprogs
	# demo and tests
	busybox-static jq clang libclang-rt-14-dev procps
	# client integration tests (podman.t, containerd.t, volumes.t, docker.t); script(1) is in bsdutils
	podman runc containerd umoci
	# pods.t: podman builds its pods' pause image from catatonit
	catatonit
	# fuzz seeds from docker's config.json files (tests/fuzz/capture-configs.sh
	# runs a private dockerd; on a systemd host the package also starts one)
	docker.io
	# the containerd shim: containerd's .proto files (the shim v2 protocol, the
	# cgroup metrics), google/protobuf's; its tests' CRI client and pod network
	golang-github-containerd-containerd-dev golang-github-containerd-cgroups-dev libprotobuf-dev
	python3-grpcio python3-protobuf protobuf-compiler containernetworking-plugins
	# network.t: network namespaces, veth, tc mirred between veth and tap
	iproute2
	# veil-kbs: HTTP server, init-data annotations (gzip); JOSE interop tests
	libmicrohttpd-dev zlib1g-dev jose python3-cryptography openssl
)

missing=()
for p in "${packages[@]}"; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[ "$status" = "install ok installed" ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing: ${missing[*]}" >&2
sudo=
[ "$(id -u)" -eq 0 ] || sudo=sudo
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q >/dev/null
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
