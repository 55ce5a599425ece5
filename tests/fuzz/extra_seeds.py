#!/usr/bin/python3
"""Seed frames no real run sends, for tests/fuzz/capture-corpus.sh: responses
(which the host decodes), requests of every method in small forms, and the
hostile host's: unknown fields, requests past the decode budget, bad envelopes.
usage: extra_seeds.py DIR (one file per frame is written there)"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'integration'))
from agentwire import *  # noqa: E402,F403


def main():
    out = sys.argv[1]
    frames = {}

    def req(name, method, payload, service=SERVICE):
        frames['request-' + name] = frame(REQUEST, 7, envelope(method, payload, service))

    def resp(name, code, message='', payload=b''):
        status = f_varint(1, code) + f_opt(2, message)
        frames['response-' + name] = frame(RESPONSE, 7, f_bytes(1, status) + f_opt(2, payload))

    req('hello', 'Hello', hello(realtime_ns=1800000000 * 10**9, entropy=b'\x01' * 32, resumed=True))
    req('wait', 'WaitProcess', target('c1', 'e1'))
    req('signal-all', 'SignalProcess', signal_process('c1', sig=15, all_processes=True))
    req('resize', 'ResizeTerminal', target('c1', 'e1') + f_varint(3, 40) + f_varint(4, 120))
    req('destroy', 'DestroyContainer', target('c1'))
    req('configure-interface', 'ConfigureInterface',
        f_bytes(1, '02:00:00:00:00:01') + f_bytes(2, 'eth0') + f_varint(3, 1500) + f_bytes(4, '10.0.0.2/24') +
        f_bytes(5, '10.0.0.1'))
    req('scrub', 'Scrub', f_bytes(1, b'\0' * 64))
    req('shutdown', 'Shutdown', b'')
    req('create-mounts', 'CreateContainer', create_container(
        'c1', mounts=[mount('/proc', 'proc'), mount('/dev', 'tmpfs', ['nosuid', 'mode=755', 'size=65536k']),
                      mount('/dev/pts', 'devpts', ['newinstance', 'ptmxmode=0666', 'gid=5'])],
        masked=['/proc/kcore'], readonly=['/proc/sys'], rootfs_readonly=False, hostname='h'))
    req('exec-tty', 'ExecProcess', exec_process('c1', 'e1', process(['sh'], terminal=True, cwd='/tmp'), stdin=2,
                                                stdout=4))
    req('unknown-field', 'Hello', hello() + f_varint(9, 1))
    req('unknown-nested', 'CreateContainer', f_bytes(1, 'c1') + f_bytes(5, f_bytes(1, '/') + f_varint(7, 2)))
    frames['request-unknown-envelope'] = frame(REQUEST, 7, envelope('Hello', hello()) + f_varint(6, 1))
    req('budget-empty-mounts', 'CreateContainer', b'\x2a\x00' * 20000)
    req('budget-unknown-fields', 'CreateContainer', (tag(100, 0) + b'\x01') * 20000)
    req('unknown-method', 'FormatDisk', b'')
    req('unknown-service', 'Hello', hello(), service='other.Service')
    frames['data'] = frame(DATA, 2, b'input') + frame(DATA, 2, b'', CLOSED)
    frames['window'] = frame(WINDOW, 2, b'\0\0\x10\0')

    resp('hello', OK, payload=f_varint(1, 1) + f_bytes(2, '0.1.0 (abc)') + f_varint(3, 123456789))
    resp('exec', OK, payload=f_varint(1, 42))
    resp('wait', OK, payload=f_varint(1, 137) + f_varint(2, 9))
    resp('scrub', OK, payload=f_varint(1, 0) + f_varint(2, 1) + f_varint(3, 0) + f_varint(4, 200000))
    resp('error', NOT_FOUND, 'container c1 not found')
    resp('exhausted', RESOURCE_EXHAUSTED, '1024 WaitProcess requests are pending already')

    for name, data in frames.items():
        with open(os.path.join(out, name), 'wb') as f:
            f.write(data)


if __name__ == '__main__':
    main()
