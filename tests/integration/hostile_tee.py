#!/usr/bin/python3
"""A host that lies on a confidential guest's TEE port, run under
tests/tools/raw-host --tee-port (the agent channel is fd 3, the TEE port fd 4).
It plays the host's TEE service (proto/tee.h) with reports whose HOST_DATA is
the digest of the init-data the VM was launched with, then asks the agent to
create a container, and prints "create CODE MESSAGE" for confidential.t.
The container's request is an honest one, except in host-file (a copied-in
host file on /etc/motd, which the launched init-data may not allow),
hosts-file (one on /etc/hosts), shared-tree (a bind mount from a
virtio-fs tree the host claims to share) and upper-disk (a writable layer
on a disk of the host's).

usage: hostile_tee.py honest|altered-init-data|bad-report|host-file|hosts-file|shared-tree|upper-disk LAUNCHED [SERVED]"""
import hashlib
import os
import re
import struct
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from agentwire import *  # noqa: E402,F403

TEE_FD = 4
OP_REPORT, OP_INIT_DATA, OP_KBS_CONNECT = 1, 2, 3


def host_data(init_data):
    """The init-data's digest as SNP HOST_DATA holds it: its first 32 bytes."""
    algorithm = re.search(rb'^algorithm\s*=\s*"(sha\d+)"', init_data, re.M).group(1).decode()
    return hashlib.new(algorithm, init_data).digest()[:32]


def report(report_data, launched):
    """An SNP report layout with the fields the guest reads; no real signature
    (the emulated TEE's host signs its reports anyway: the guest cannot tell)."""
    r = bytearray(1184)
    struct.pack_into('<I', r, 0x00, 2)          # VERSION
    struct.pack_into('<Q', r, 0x08, 0x30000)    # POLICY
    struct.pack_into('<I', r, 0x34, 1)          # SIGNATURE_ALGO: ECDSA P-384
    r[0x50:0x90] = report_data
    r[0xC0:0xE0] = host_data(launched)
    return bytes(r)


def serve_tee(scenario, launched, served):
    buf = bytearray()
    while True:
        chunk = os.read(TEE_FD, 1 << 16)
        if not chunk:
            return
        buf += chunk
        while len(buf) >= 10:
            length, stream, ftype, _ = struct.unpack_from('>IIBB', buf)
            if len(buf) < 10 + length:
                break
            payload = bytes(buf[10:10 + length])
            del buf[:10 + length]
            if ftype != REQUEST or not payload:
                continue
            if payload[0] == OP_INIT_DATA:
                answer = b'\0' + served
            elif payload[0] == OP_REPORT and scenario == 'bad-report':
                answer = b'\0' + b'short'
            elif payload[0] == OP_REPORT:
                answer = b'\0' + report(payload[1:65], launched) + b'\x30\x82\x00\x00'
            else:
                answer = b'\1no KBS behind this host'
            os.write(TEE_FD, frame(RESPONSE, stream, answer))


def host_file(destination):
    """A host file copied in, as veil sends one: type "file" with its bytes."""
    return mount(destination, 'file', ('ro',)) + f_bytes(5, b'written by the host\n') + f_varint(6, 0o644)


CONTAINERS = {
    'host-file': create_container('c1', mounts=[host_file('/etc/motd')]),
    'hosts-file': create_container('c1', mounts=[host_file('/etc/hosts')]),
    'shared-tree': create_container('c1', mounts=[mount('/etc/hosts', 'bind', ('bind', 'ro'), 'm0')]) +
    f_bytes(30, 'veil-fs'),
    'upper-disk': create_container('c1', rootfs_readonly=False) + f_bytes(32, 'veil-upper'),
}


def main():
    scenario, launched = sys.argv[1], open(sys.argv[2], 'rb').read()
    served = open(sys.argv[3], 'rb').read() if len(sys.argv) > 3 else launched
    threading.Thread(target=serve_tee, args=(scenario, launched, served), daemon=True).start()
    ch = Channel()
    try:
        ch.hello()
        code, msg, _ = ch.call('CreateContainer', CONTAINERS.get(scenario, create_container('c1')))
        print('create', code, msg, flush=True)
    except AgentError as e:
        print('agent-gone' if ch.eof else 'error', e, flush=True)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
