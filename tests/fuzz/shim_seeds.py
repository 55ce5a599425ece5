#!/usr/bin/python3
"""Seeds for the shim's fuzzers, a request of each Task method in the forms
containerd sends (shim.proto's field numbers), written as
  DIR/fuzz_ttrpc_server/*: ttrpc frames, one call or a lifecycle per file;
  DIR/fuzz_shim_task/*:    fuzz_shim_task's records [method][u16 length][payload].
usage: shim_seeds.py DIR"""
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'integration'))
from agentwire import REQUEST, envelope, f_bytes, f_varint, frame  # noqa: E402

SERVICE = 'containerd.task.v2.Task'
METHODS = ['State', 'Create', 'Start', 'Delete', 'Pids', 'Pause', 'Resume', 'Checkpoint', 'Kill',
           'Exec', 'ResizePty', 'CloseIO', 'Update', 'Wait', 'Stats', 'Connect', 'Shutdown']


def any_json(type_url, text):
    return f_bytes(1, type_url) + f_bytes(2, text.encode())


def ids(cid, exec_id=''):
    return f_bytes(1, cid) + (f_bytes(2, exec_id) if exec_id else b'')


CALLS = [
    ('Create', f_bytes(1, 'c1') + f_bytes(2, '/run/bundle') +
     f_bytes(3, f_bytes(1, 'overlay') + f_bytes(2, 'overlay') + f_bytes(4, 'lowerdir=/l')) +
     f_varint(4, 1) + f_bytes(5, '/fifo/in') + f_bytes(6, '/fifo/out')),
    ('Start', ids('c1')),
    ('State', ids('c1')),
    ('Exec', ids('c1', 'e1') + f_bytes(7, any_json('types.containerd.io/opencontainers/runtime-spec/1/Process',
                                                    '{"args":["sh","-c","true"],"cwd":"/","terminal":false}'))),
    ('Start', ids('c1', 'e1')),
    ('ResizePty', ids('c1', 'e1') + f_varint(3, 120) + f_varint(4, 40)),
    ('CloseIO', ids('c1', 'e1') + f_varint(3, 1)),
    ('Kill', ids('c1', 'e1') + f_varint(3, 15) + f_varint(4, 1)),
    ('Wait', ids('c1', 'e1')),
    ('Pause', ids('c1')),
    ('Resume', ids('c1')),
    ('Update', ids('c1') + f_bytes(2, any_json('types.containerd.io/opencontainers/runtime-spec/1/LinuxResources',
                                               '{"memory":{"limit":67108864},"cpu":{"quota":50000,"period":100000}}'))),
    ('Stats', ids('c1')),
    ('Pids', ids('c1')),
    ('Connect', ids('c1')),
    ('Checkpoint', ids('c1') + f_bytes(2, '/cp')),
    ('Delete', ids('c1', 'e1')),
    ('Kill', ids('c1') + f_varint(3, 9)),
    ('Delete', ids('c1')),
    ('Shutdown', ids('c1') + f_varint(2, 1)),
]


def main():
    out = sys.argv[1]
    ttrpc = os.path.join(out, 'fuzz_ttrpc_server')
    task = os.path.join(out, 'fuzz_shim_task')
    os.makedirs(ttrpc, exist_ok=True)
    os.makedirs(task, exist_ok=True)
    stream, life_frames, life_records = 1, b'', b''
    for i, (method, payload) in enumerate(CALLS):
        f = frame(REQUEST, stream, envelope(method, payload, SERVICE))
        record = struct.pack('>BH', METHODS.index(method), len(payload)) + payload
        with open(os.path.join(ttrpc, '%02d-%s' % (i, method)), 'wb') as fh:
            fh.write(f)
        life_frames += f
        life_records += record
        if method == 'Start':
            # The process exits (fuzz_shim_task's record 0xf0 with the container's ID).
            life_records += struct.pack('>BH', 0xf0, 2) + b'c1'
        stream += 2
    with open(os.path.join(ttrpc, 'lifecycle'), 'wb') as fh:
        fh.write(life_frames)
    with open(os.path.join(task, 'lifecycle'), 'wb') as fh:
        fh.write(life_records)


if __name__ == '__main__':
    main()
