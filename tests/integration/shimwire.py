#!/usr/bin/python3
"""containerd's side of the shim's Task service, spoken by hand over ttrpc
(agentwire's protobuf helpers, shim.proto's field numbers), for what ctr
cannot make containerd do on cue: stdin written right before CloseIO must
all reach the process (Kata #439).

    shimwire.py stdin-drain SOCKET BUNDLE FIFO_DIR BYTES

creates task "drain" from BUNDLE (whose process counts its stdin: wc -c),
writes BYTES bytes into its stdin FIFO and at once calls CloseIO, reads its
stdout to EOF, then Wait, Delete and Shutdown. Prints "<stdout>|<exit status>".
"""
import os
import socket
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from agentwire import REQUEST, decode, envelope, f_bytes, f_varint, first, frame  # noqa: E402

SERVICE = 'containerd.task.v2.Task'


class Shim:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(300)
        self.sock.connect(path)
        self.stream = 1

    def call(self, method, payload):
        self.sock.sendall(frame(REQUEST, self.stream, envelope(method, payload, SERVICE)))
        self.stream += 2
        header = self._read(10)
        length, _, _, _ = struct.unpack('>IIBB', header)
        response = decode(self._read(length))
        status = decode(first(response, 1, b''))
        if first(status, 1):
            raise RuntimeError('%s: %s' % (method, first(status, 2, b'').decode()))
        return decode(first(response, 2, b''))

    def _read(self, n):
        buf = b''
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise RuntimeError('the shim closed the connection')
            buf += chunk
        return buf


def stdin_drain(path, bundle, fifo_dir, size):
    stdin, stdout = os.path.join(fifo_dir, 'stdin'), os.path.join(fifo_dir, 'stdout')
    os.mkfifo(stdin)
    os.mkfifo(stdout)
    reader = os.open(stdout, os.O_RDONLY | os.O_NONBLOCK)
    shim = Shim(path)
    ids = f_bytes(1, 'drain')
    shim.call('Create', ids + f_bytes(2, bundle) + f_bytes(5, stdin) + f_bytes(6, stdout))
    shim.call('Start', ids)
    writer = os.open(stdin, os.O_WRONLY)
    data = b'x' * size
    while data:
        data = data[os.write(writer, data[:65536]):]
    os.close(writer)
    shim.call('CloseIO', ids + f_varint(3, 1))
    os.set_blocking(reader, True)
    out = b''
    while True:
        chunk = os.read(reader, 65536)
        if not chunk:
            break
        out += chunk
    status = first(shim.call('Wait', ids), 1)
    shim.call('Delete', ids)
    shim.call('Shutdown', ids)
    print('%s|%d' % (out.decode().strip(), status))


if __name__ == '__main__':
    if len(sys.argv) != 6 or sys.argv[1] != 'stdin-drain':
        sys.exit(__doc__)
    stdin_drain(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
