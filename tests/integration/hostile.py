#!/usr/bin/python3
"""Scenarios of a hostile host against the guest agent, run under
tests/tools/raw-host (the agent channel is fd 3). Each prints "name value"
lines for hostile-host.t to check, and "agent-gone" if the agent died.

usage: hostile.py SCENARIO"""
import os
import select
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from agentwire import *  # noqa: E402,F403

MIB = 1 << 20
SECOND = 10**9
NO_PIDNS = ('mount', 'ipc', 'uts')
PROC = mount('/proc', 'proc')


def say(*words):
    print(*words, flush=True)


def fresh_container(ch, cid, args, **kw):
    """A container whose init runs args; returns the init's pid."""
    ch.ok('CreateContainer', create_container(cid, **kw))
    return first(ch.ok('ExecProcess', exec_process(cid, '', process(args))), 1)


def decode_bomb(ch):
    """One frame whose payload is small on the wire but huge once decoded."""
    ch.hello()
    room = (4 * MIB) - 64
    code, msg, _ = ch.call('CreateContainer', b'\x2a\x00' * (room // 2), timeout=600)
    say('empty-messages', code, msg)
    code, msg, _ = ch.call('CreateContainer', (tag(100, 0) + b'\x01') * (room // 3), timeout=600)
    say('unknown-fields', code, msg)
    code, msg, _ = ch.call('Hello', hello() + f_varint(9, 1))
    say('unknown-field', code, msg)
    ch.hello()
    say('alive yes')


def waits(ch):
    """Thousands of WaitProcess requests for a process that keeps running."""
    ch.hello()
    fresh_container(ch, 'c1', ['sleep', '1000'])
    ids = [ch.request('WaitProcess', target('c1')) for _ in range(3000)]
    ch.ok('CreateContainer', create_container('c2'))
    code, out = ch.run('c2', '', ['echo', 'flowing'])
    refused = sum(1 for i in ids if ch.responses.get(i, (None,))[0] == RESOURCE_EXHAUSTED)
    say('refused', refused)
    say('other', code, out.strip())
    ch.ok('DestroyContainer', target('c1'))
    deadline = time.monotonic() + 60
    while sum(1 for i in ids if i in ch.responses) < len(ids) and time.monotonic() < deadline:
        ch.pump(1)
    answered = sum(1 for i in ids if ch.responses.get(i, (None,))[0] == OK)
    say('pending-answered', answered)
    say('all-answered', 'yes' if answered + refused == len(ids) else 'no')


def output_flood(ch):
    """A host that never reads while a process floods its output and the host
    keeps sending requests, each of which earns a response."""
    ch.hello()
    ch.discard.add(2)
    fresh_container(ch, 'c1', ['yes'])
    ch.ok('ExecProcess', exec_process('c1', 'flood', process(['yes']), stdout=2))
    first_id = ch.next_id
    blob = bytearray()
    while len(blob) < 32 * MIB:
        blob += frame(REQUEST, ch.next_id, envelope('WaitProcess', target('no-such-container')))
        ch.next_id += 2
    sent = 0
    os.set_blocking(ch.fd, False)
    while sent < len(blob):
        _, w, _ = select.select([], [ch.fd], [], 5)
        if not w:
            break
        try:
            sent += os.write(ch.fd, blob[sent:sent + MIB])
        except BlockingIOError:
            pass
    say('accepted-before-reading', 'all' if sent == len(blob) else 'part', sent // MIB, 'MiB')
    # Now read: what was sent gets its responses, and the rest goes through.
    while sent < len(blob):
        r, w, _ = select.select([ch.fd], [ch.fd], [], 5)
        if r and not ch.pump(0):
            break
        if w:
            try:
                sent += os.write(ch.fd, blob[sent:sent + MIB])
            except BlockingIOError:
                pass
    os.set_blocking(ch.fd, True)
    end_id = ch.next_id
    ch.ok('DestroyContainer', target('c1'), timeout=120)
    last = end_id - 2
    deadline = time.monotonic() + 120
    while last not in ch.responses and time.monotonic() < deadline and ch.pump(1):
        pass
    got = sum(1 for i in range(first_id, end_id, 2) if ch.responses.get(i, (None,))[0] == NOT_FOUND)
    say('responses', got, 'of', (end_id - first_id) // 2)
    ch.ok('CreateContainer', create_container('c2'))
    code, out = ch.run('c2', '', ['echo', 'flowing'])
    say('other', code, out.strip())


def stdin_flood(ch):
    """A full window of stdin in 1-byte frames to a process that does not read,
    while another container's I/O goes on."""
    ch.hello()
    ch.ok('CreateContainer', create_container('c1'))
    ch.ok('ExecProcess', exec_process('c1', '', process(['sleep', '1000']), stdin=2))
    ch.send_raw(b''.join(frame(DATA, 2, b'x') for _ in range(STDIN_WINDOW)))
    ch.ok('CreateContainer', create_container('c2'))
    code, out = ch.run('c2', '', ['echo', 'flowing'], timeout=300)
    say('other', code, out.strip())
    # The pipe takes what it can at once; the rest waits in the window.
    say('credit-back-kib', ch.credit.get(2, 0) >> 10)


def guest_seconds(ch, n):
    return int(ch.run('c1', 'date%d' % n, ['date', '+%s'])[1])


def clock(ch):
    """Hello may set the clock at boot; afterwards only on resume, only forward,
    and within a bound otherwise."""
    now = time.time_ns()
    ch.hello(realtime_ns=now)
    fresh_container(ch, 'c1', ['sleep', '1000'])
    say('boot', 'moved' if abs(guest_seconds(ch, 0) - now // SECOND) < 60 else 'kept')
    hour = 3600 * SECOND
    cases = [('back-resumed', now - hour, True), ('back', now - hour, False), ('forward', now + 24 * hour, False),
             ('small-step', now + SECOND // 2, False), ('forward-resumed', now + 24 * hour, True)]
    for n, (name, when, resumed) in enumerate(cases, 1):
        code, msg, _ = ch.call('Hello', hello(realtime_ns=when, resumed=resumed))
        moved = abs(guest_seconds(ch, n) - when // SECOND) < 60
        say(name, code, 'moved' if moved else 'kept')


def entropy(ch):
    """Host entropy is mixed in, not credited: in a guest with no entropy
    source of its own, Hello does not make the RNG look seeded."""
    ch.hello(entropy=os.urandom(512))
    ch.ok('CreateContainer', create_container('c1', mounts=[PROC]))
    code, out = ch.run('c1', '', ['cat', '/proc/sys/kernel/random/entropy_avail'])
    say('entropy-avail', out.strip())


def start_result(ch, cid, **kw):
    """Creates a container and starts its init (true): (code, message)."""
    ch.ok('CreateContainer', create_container(cid, namespaces=NO_PIDNS, **kw))
    code, msg, _ = ch.call('ExecProcess', exec_process(cid, '', process(['true'])))
    return code, msg


def paths(ch):
    """Host-supplied paths through /proc/1/root (the agent's root, when the
    container has proc and no pid namespace) stay inside the container."""
    ch.hello()
    code, msg = start_result(ch, 'mkdir', mounts=[PROC, mount('/proc/1/root/veil-escape/dir', 'tmpfs')])
    say('mount-through-magic-link', code, msg)
    fresh_container(ch, 'look', ['sleep', '1000'], namespaces=NO_PIDNS, mounts=[PROC])
    code, out = ch.run('look', 'ls', ['ls', '-d', '/proc/1/root/veil-escape'])
    say('guest-root-dir', 'created' if code == 0 else 'absent')
    existing = start_result(ch, 'mask1', mounts=[PROC], masked=['/proc/1/root/run'])
    missing = start_result(ch, 'mask2', mounts=[PROC], masked=['/proc/1/root/no-such-file'])
    say('masked-existing', existing[0])
    say('masked-missing', missing[0])
    say('oracle', 'no' if existing[0] == missing[0] else 'yes')
    code, msg, _ = ch.call('ExecProcess', exec_process('look', 'cwd', process(['ls'], cwd='/proc/1/root/run/veil'),
                                                        stdout=2))
    if code == OK:
        ch.ok('WaitProcess', target('look', 'cwd'))
    listed = ch.output.get(2, b'').decode()
    say('cwd-in-guest-root', 'yes' if 'containers' in listed else 'no', code, msg)


def signal_all(ch):
    """SignalProcess with all reaches a process the container moved into a
    cgroup of its own."""
    ch.hello()
    script = ('mkdir /tmp/sub; sleep 1000 & pid=$!; echo $pid > /tmp/sub/cgroup.procs; echo moved; '
              'wait $pid; echo "sub-child $?"')
    ch.ok('CreateContainer', create_container('c1', mounts=[PROC, mount('/dev', 'tmpfs'), mount('/tmp', 'cgroup2')]))
    ch.ok('ExecProcess', exec_process('c1', '', process(['sh', '-c', script]), stdout=2, stderr=4))
    deadline = time.monotonic() + 60
    while b'moved' not in ch.output.get(2, b'') and time.monotonic() < deadline:
        ch.pump(1)
    ch.ok('SignalProcess', signal_process('c1', sig=15, all_processes=True))
    deadline = time.monotonic() + 20
    while b'sub-child' not in ch.output.get(2, b'') and time.monotonic() < deadline:
        ch.pump(1)
    out = ch.output.get(2, b'').decode()
    say('sub-cgroup', out.split('sub-child')[1].strip() if 'sub-child' in out else 'not-signalled')


def setup_death(ch):
    """A process killed by its container before it has exec'd is an exec
    failure, not a success. The long PATH keeps the process searching (and
    visible) long enough for the container's killer to find it."""
    ch.hello()
    fresh_container(ch, 'c1', ['guest-helper', 'killer'], mounts=[PROC])
    path = ':'.join('/nonexistent/%d' % k for k in range(3000)) + ':/bin'
    results = []
    for n in range(5):
        code, msg, _ = ch.call('ExecProcess', exec_process('c1', 'e%d' % n, process(['sleep', '100'],
                                                                                    env=['PATH=' + path])))
        results.append((code, msg))
    deaths = [m for c, m in results if c != OK]
    say('execs', len(results))
    say('setup-deaths', len(deaths), deaths[0] if deaths else '')


SCENARIOS = {f.__name__.replace('_', '-'): f for f in (decode_bomb, waits, output_flood, stdin_flood, clock, entropy,
                                                       paths, signal_all, setup_death)}


def main():
    ch = Channel()
    try:
        SCENARIOS[sys.argv[1]](ch)
    except AgentError as e:
        say('agent-gone' if ch.eof else 'error', e)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
