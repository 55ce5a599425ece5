#!/bin/bash
# Packs the guest initramfs: /init (the agent), the directories it mounts on,
# and /dev/console so the kernel can give init its stdio. Written as newc cpio
# directly, so no root is needed and the output is byte-for-byte reproducible
# (mtime 0, uid/gid 0, fixed inode numbers, sorted entries, gzip without name or time).
#
# Usage: build.sh AGENT_BINARY OUT.img
set -euo pipefail

agent=${1:?usage: build.sh AGENT_BINARY OUT.img}
out=${2:?usage: build.sh AGENT_BINARY OUT.img}
[ -f "$agent" ] || { echo "build.sh: $agent: no such file" >&2; exit 1; }
mkdir -p "$(dirname "$out")"
tmp=$(mktemp "$out.XXXXXX")
init=$(mktemp "$out.init.XXXXXX")
trap 'rm -f "$tmp" "$init"' EXIT
# The guest has no use for debug information: it is a third of the agent, which
# the kernel unpacks at every boot.
strip --strip-all -o "$init" "$agent"
agent=$init

python3 - "$agent" "$tmp" <<'PY'
import gzip
import sys

agent_path, out_path = sys.argv[1], sys.argv[2]
with open(agent_path, "rb") as f:
    agent = f.read()

S_IFDIR, S_IFREG, S_IFCHR = 0o040000, 0o100000, 0o020000
# name, mode, data, (rdev major, minor)
entries = [
    (".", S_IFDIR | 0o755, b"", (0, 0)),
    ("dev", S_IFDIR | 0o755, b"", (0, 0)),
    ("dev/console", S_IFCHR | 0o600, b"", (5, 1)),
    ("init", S_IFREG | 0o755, agent, (0, 0)),
    ("proc", S_IFDIR | 0o755, b"", (0, 0)),
    ("run", S_IFDIR | 0o755, b"", (0, 0)),
    ("sys", S_IFDIR | 0o755, b"", (0, 0)),
    ("tmp", S_IFDIR | 0o1777, b"", (0, 0)),
]
entries.sort(key=lambda e: e[0])

def pad4(n):
    return b"\0" * (-n % 4)

def record(ino, name, mode, data, rdev):
    name_b = name.encode() + b"\0"
    nlink = 2 if mode & S_IFDIR else 1
    # newc: magic, then 13 eight-digit hex fields: ino mode uid gid nlink mtime
    # filesize devmajor devminor rdevmajor rdevminor namesize check
    fields = [ino, mode, 0, 0, nlink, 0, len(data), 0, 0, rdev[0], rdev[1], len(name_b), 0]
    head = b"070701" + b"".join(b"%08X" % v for v in fields)
    return head + name_b + pad4(len(head) + len(name_b)) + data + pad4(len(data))

archive = b"".join(record(i + 1, *e) for i, e in enumerate(entries))
archive += record(0, "TRAILER!!!", 0, b"", (0, 0))
archive += pad4(len(archive))

with open(out_path, "wb") as raw:
    with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz:
        gz.write(archive)
PY
mv "$tmp" "$out"
rm -f "$init"
trap - EXIT
