#!/usr/bin/python3
"""Counts occurrences of byte strings in guest memory.

usage: memsearch.py SOURCE NEEDLE...
SOURCE is a file (a dump-guest-memory ELF core), or pid:PID:PATH for the
mappings of file PATH in process PID's address space (a clone's guest RAM is
its private mapping of the template's memory file). Prints one count per
needle, space-separated, in order."""
import sys

CHUNK = 1 << 24


def chunks_of_file(path):
    with open(path, 'rb') as f:
        while True:
            block = f.read(CHUNK)
            if not block:
                return
            yield block


def chunks_of_mapping(pid, path):
    with open(f'/proc/{pid}/maps') as maps, open(f'/proc/{pid}/mem', 'rb', buffering=0) as mem:
        for line in maps:
            fields = line.split(maxsplit=5)
            if len(fields) < 6 or fields[5].strip() != path:
                continue
            start, end = (int(x, 16) for x in fields[0].split('-'))
            for at in range(start, end, CHUNK):
                mem.seek(at)
                yield mem.read(min(CHUNK, end - at))


def main():
    source, needles = sys.argv[1], [n.encode() for n in sys.argv[2:]]
    if source.startswith('pid:'):
        _, pid, path = source.split(':', 2)
        chunks = chunks_of_mapping(int(pid), path)
    else:
        chunks = chunks_of_file(source)
    counts = [0] * len(needles)
    overlap = max(len(n) for n in needles) - 1
    tail = b''
    for block in chunks:
        # Matches that straddle two chunks are found in the overlap.
        data = tail + block
        for i, n in enumerate(needles):
            counts[i] += data.count(n) - tail.count(n)
        tail = data[-overlap:] if overlap else b''
    print(' '.join(str(c) for c in counts))


if __name__ == '__main__':
    main()
