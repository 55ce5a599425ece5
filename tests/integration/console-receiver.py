#!/usr/bin/env python3
"""Receives a pty master over a console socket (runc's protocol, SCM_RIGHTS)
and copies what the container writes to it into a file until it closes."""
import array
import os
import socket
import sys

path, out = sys.argv[1], sys.argv[2]
server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
server.bind(path)
server.listen(1)
conn, _ = server.accept()
fds = array.array("i")
_, ancdata, _, _ = conn.recvmsg(1024, socket.CMSG_LEN(fds.itemsize))
for level, kind, data in ancdata:
    if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
        fds.frombytes(data[: fds.itemsize])
master = fds[0]
with open(out, "wb") as f:
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO once the last slave fd is closed
            break
        if not chunk:
            break
        f.write(chunk)
        f.flush()
