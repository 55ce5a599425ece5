#!/usr/bin/python3
"""A man in the middle between veil's relay and veil-kbs, for confidential.t:
what a host that relays the guest's KBS traffic could try. It serves HTTP on
LISTEN_PORT and forwards each request to the KBS on KBS_PORT, changing the
guest's POST /kbs/v0/attest as MODE says:

  record FILE          pass everything, and keep the last attest body in FILE
  replay FILE          send FILE's attest body instead (old nonce and evidence)
  tamper-report-data   flip a bit of the report's REPORT_DATA
  swap-key             put the host's own key in runtime-data's tee-pubkey

usage: kbs_mitm.py LISTEN_PORT KBS_PORT MODE [FILE]; prints "ready" once listening."""
import json
import socket
import socketserver
import sys

sys.path.insert(0, __import__('os').path.dirname(__import__('os').path.abspath(__file__)))
from kbs_http import read_response  # noqa: E402

# A valid P-256 public key (the curve's generator) that is not the guest's.
HOST_KEY = {"kty": "EC", "crv": "P-256", "alg": "ECDH-ES+A256KW",
            "x": "axfR8uEsQkf4vOblY6RA8ncDfYEt6zOg9KE5RdiYwpY", "y": "T-NC4v4af5uO5-tKfA-eFivOM1drMV7Oy7ZAaDe_UfU"}


def read_request(s, buf):
    """(head lines, body) of the next request on s, or None at EOF."""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            return None
        buf += chunk
    head, _, rest = bytes(buf).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    n = 0
    for line in lines[1:]:
        k, _, v = line.partition(":")
        if k.strip().lower() == "content-length":
            n = int(v.strip())
    while len(rest) < n:
        chunk = s.recv(65536)
        if not chunk:
            return None
        rest += chunk
    buf[:] = rest[n:]
    return lines, rest[:n]


def evidence_of(att):
    ev = att["tee-evidence"]
    return ev.get("primary_evidence", ev)


def change(mode, arg, body):
    if mode == "record":
        open(arg, "wb").write(body)
        return body
    if mode == "replay":
        return open(arg, "rb").read()
    att = json.loads(body)
    if mode == "tamper-report-data":
        evidence_of(att)["attestation_report"]["report_data"][0] ^= 1
    elif mode == "swap-key":
        att["runtime-data"]["tee-pubkey"] = HOST_KEY
    return json.dumps(att, separators=(",", ":")).encode()


class Relay(socketserver.BaseRequestHandler):
    def handle(self):
        upstream = socket.create_connection(("127.0.0.1", self.server.kbs_port), timeout=60)
        buf = bytearray()
        while True:
            req = read_request(self.request, buf)
            if req is None:
                return
            lines, body = req
            if lines[0].startswith("POST /kbs/v0/attest "):
                body = change(self.server.mode, self.server.arg, body)
            head = [line for line in lines if not line.lower().startswith("content-length:")]
            head.append("Content-Length: %d" % len(body))
            upstream.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
            status, headers, resp = read_response(upstream)
            if status is None:
                return
            out = status + "\r\n" + "".join("%s: %s\r\n" % (k, v) for k, v in headers.items()
                                            if k != "content-length")
            self.request.sendall(out.encode("latin-1") + b"Content-Length: %d\r\n\r\n" % len(resp) + resp)


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    listen, kbs, mode = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    server = Server(("127.0.0.1", listen), Relay)
    server.kbs_port, server.mode, server.arg = kbs, mode, sys.argv[4] if len(sys.argv) > 4 else None
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
