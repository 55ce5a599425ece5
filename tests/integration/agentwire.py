"""The agent protocol (docs/agent-protocol.md) spoken by hand, for tests that
play a hostile host: frames and protobuf are encoded here without the
generated code, so that a test can send exactly the bytes it means to,
malformed ones included. Used under tests/tools/raw-host, whose channel is fd 3.
"""
import os
import select
import struct
import time

REQUEST, RESPONSE, DATA, WINDOW = 1, 2, 3, 4
CLOSED = 0x01
SERVICE = 'veil.agent.v1.Agent'
STDIN_WINDOW = 256 << 10

OK, INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS = 0, 3, 5, 6
RESOURCE_EXHAUSTED, FAILED_PRECONDITION, UNIMPLEMENTED, INTERNAL = 8, 9, 12, 13


# ---- protobuf wire format ----

def varint(v):
    if v < 0:
        v += 1 << 64
    out = bytearray()
    while True:
        b = v & 0x7f
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def tag(num, wire_type):
    return varint(num << 3 | wire_type)


def f_varint(num, v):
    """A varint field; proto3 leaves out zero, and so does this."""
    return tag(num, 0) + varint(int(v)) if v else b''


def f_bytes(num, b):
    if isinstance(b, str):
        b = b.encode()
    return tag(num, 2) + varint(len(b)) + b


def f_opt(num, s):
    """A string or bytes field that is left out when empty, as proto3 does."""
    return f_bytes(num, s) if s else b''


def f_repeated(num, items):
    return b''.join(f_bytes(num, i) for i in items)


def decode(buf):
    """Protobuf bytes -> {field number: [values]} (ints for varints, bytes otherwise)."""
    fields, i = {}, 0
    while i < len(buf):
        key, i = _read_varint(buf, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _read_varint(buf, i)
        elif wt == 2:
            n, i = _read_varint(buf, i)
            v, i = bytes(buf[i:i + n]), i + n
        elif wt == 1:
            v, i = struct.unpack_from('<Q', buf, i)[0], i + 8
        elif wt == 5:
            v, i = struct.unpack_from('<I', buf, i)[0], i + 4
        else:
            raise ValueError('wire type %d' % wt)
        fields.setdefault(num, []).append(v)
    return fields


def _read_varint(buf, i):
    v, shift = 0, 0
    while True:
        b = buf[i]
        i += 1
        v |= (b & 0x7f) << shift
        shift += 7
        if not b & 0x80:
            return v, i


def first(fields, num, default=0):
    return fields.get(num, [default])[0]


# ---- messages ----

def hello(realtime_ns=0, entropy=None, resumed=False, version=1):
    return (f_varint(1, version) + f_bytes(2, entropy if entropy is not None else os.urandom(64)) +
            f_varint(3, realtime_ns) + f_varint(4, resumed))


def mount(destination, mtype, options=(), source=''):
    return f_bytes(1, destination) + f_bytes(2, mtype) + f_opt(3, source) + f_repeated(4, options)


def create_container(cid, namespaces=('mount', 'pid', 'ipc', 'uts'), mounts=(), masked=(), readonly=(),
                     rootfs_readonly=True, hostname=''):
    return (f_bytes(1, cid) + f_bytes(2, 'veil-rootfs') + f_varint(3, rootfs_readonly) + f_opt(4, hostname) +
            b''.join(f_bytes(5, m) for m in mounts) + f_repeated(6, namespaces) + f_repeated(7, masked) +
            f_repeated(8, readonly))


def process(args, env=('PATH=/bin:/usr/bin',), cwd='', uid=0, terminal=False):
    return (f_repeated(1, args) + f_repeated(2, env) + f_opt(3, cwd) + f_varint(4, uid) + f_varint(7, terminal))


def exec_process(cid, exec_id, proc, stdin=0, stdout=0, stderr=0):
    return (f_bytes(1, cid) + f_opt(2, exec_id) + f_bytes(3, proc) + f_varint(4, stdin) + f_varint(5, stdout) +
            f_varint(6, stderr))


def target(cid, exec_id=''):
    """WaitProcess, DestroyContainer: container id and exec id."""
    return f_bytes(1, cid) + f_opt(2, exec_id)


def signal_process(cid, exec_id='', sig=15, all_processes=False):
    return f_bytes(1, cid) + f_opt(2, exec_id) + f_varint(3, sig) + f_varint(4, all_processes)


def envelope(method, payload, service=SERVICE):
    return f_bytes(1, service) + f_bytes(2, method) + f_opt(3, payload)


def frame(ftype, stream, payload=b'', flags=0):
    return struct.pack('>IIBB', len(payload), stream, ftype, flags) + payload


# ---- the channel ----

class AgentError(Exception):
    pass


class Channel:
    """The host end of the agent channel. Responses are collected by request
    id, output by stream, stdin credit by stream."""

    def __init__(self, fd=3):
        self.fd = fd
        self.buf = bytearray()
        self.next_id = 1
        self.responses = {}
        self.output = {}
        self.closed = set()
        self.credit = {}
        self.discard = set()  # output streams whose bytes are not kept
        self.eof = False

    def send_raw(self, data):
        view = memoryview(data)
        while view:
            n = os.write(self.fd, view)
            view = view[n:]

    def request(self, method, payload, service=SERVICE):
        rid = self.next_id
        self.next_id += 2
        self.send_raw(frame(REQUEST, rid, envelope(method, payload, service)))
        return rid

    def pump(self, timeout):
        """Reads what arrives within timeout seconds; False once the agent is gone."""
        if self.eof:
            return False
        r, _, _ = select.select([self.fd], [], [], timeout)
        if not r:
            return True
        chunk = os.read(self.fd, 1 << 20)
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        while len(self.buf) >= 10:
            length, stream, ftype, flags = struct.unpack_from('>IIBB', self.buf)
            if len(self.buf) < 10 + length:
                break
            payload = bytes(self.buf[10:10 + length])
            del self.buf[:10 + length]
            if ftype == RESPONSE:
                env = decode(payload)
                status = decode(first(env, 1, b''))
                self.responses[stream] = (first(status, 1), first(status, 2, b'').decode(), first(env, 2, b''))
            elif ftype == DATA:
                if stream not in self.discard:
                    self.output.setdefault(stream, bytearray()).extend(payload)
                if flags & CLOSED:
                    self.closed.add(stream)
            elif ftype == WINDOW:
                self.credit[stream] = self.credit.get(stream, 0) + struct.unpack('>I', payload)[0]
        return True

    def wait(self, rid, timeout=60):
        deadline = time.monotonic() + timeout
        while rid not in self.responses:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AgentError('no response to request %d within %d s' % (rid, timeout))
            if not self.pump(left):
                raise AgentError('the agent went away (request %d)' % rid)
        return self.responses.pop(rid)

    def call(self, method, payload, timeout=60):
        """(code, message, response payload)."""
        return self.wait(self.request(method, payload), timeout)

    def ok(self, method, payload, timeout=60):
        code, msg, resp = self.call(method, payload, timeout)
        if code != OK:
            raise AgentError('%s: code %d: %s' % (method, code, msg))
        return decode(resp)

    def until_closed(self, stream, timeout=60):
        deadline = time.monotonic() + timeout
        while stream not in self.closed:
            left = deadline - time.monotonic()
            if left <= 0 or not self.pump(left):
                raise AgentError('stream %d did not close' % stream)
        return bytes(self.output.get(stream, b''))

    # ---- conveniences ----

    def hello(self, **kw):
        return self.ok('Hello', hello(**kw))

    def run(self, cid, exec_id, args, timeout=60, **kw):
        """Runs a process to its end: (exit code, stdout + stderr)."""
        out = 2 * self.next_id + 1000
        self.ok('ExecProcess', exec_process(cid, exec_id, process(args, **kw), stdout=out, stderr=out + 2))
        code = first(self.ok('WaitProcess', target(cid, exec_id), timeout), 1)
        return code, bytes(self.output.get(out, b'') + self.output.get(out + 2, b'')).decode(errors='replace')
