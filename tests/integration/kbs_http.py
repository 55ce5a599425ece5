#!/usr/bin/python3
"""Hostile HTTP for kbs.t: each command prints what the KBS answered.

  kbs_http.py PORT raw HEXBYTES          send bytes, print the status line (or EOF)
  kbs_http.py PORT oversize PATH N       announce and send an N-byte body
  kbs_http.py PORT stream PATH N         send N bytes chunked (no Content-Length)
  kbs_http.py PORT post PATH BODY        print "STATUS BODY"
  kbs_http.py PORT attest BODY           auth (snp), then attest with BODY
  kbs_http.py PORT late SECONDS BODY     auth, wait, then attest with BODY
  kbs_http.py PORT auths N               N auths on one connection: print each status
  kbs_http.py PORT slow SECONDS          half a request line, then silence:
                                         print "closed" if the KBS hangs up first
"""
import socket
import sys
import time


def connect(port):
    s = socket.create_connection(("127.0.0.1", int(port)), timeout=60)
    return s


def read_response(s):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            return None, {}, b""
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    n = int(headers.get("content-length", "0"))
    while len(body) < n:
        chunk = s.recv(65536)
        if not chunk:
            break
        body += chunk
    return lines[0], headers, body[:n]


def request(s, method, path, body=b"", cookie=None):
    head = f"{method} {path} HTTP/1.1\r\nHost: kbs\r\nContent-Length: {len(body)}\r\n"
    if cookie:
        head += f"Cookie: kbs-session-id={cookie}\r\n"
    s.sendall(head.encode() + b"\r\n" + body)
    return read_response(s)


def status(line):
    return line.split(" ")[1] if line else "EOF"


def main():
    port, cmd, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    s = connect(port)
    if cmd == "raw":
        s.sendall(bytes.fromhex(args[0]))
        line, _, _ = read_response(s)
        print(line or "EOF")
    elif cmd == "oversize":
        n = int(args[1])
        s.sendall(f"POST {args[0]} HTTP/1.1\r\nHost: kbs\r\nContent-Length: {n}\r\n\r\n".encode())
        try:
            s.sendall(b"{" * min(n, 65536))
        except OSError:
            pass
        line, _, body = read_response(s)
        print(status(line), body.decode())
    elif cmd == "stream":
        n = int(args[1])
        s.sendall(f"POST {args[0]} HTTP/1.1\r\nHost: kbs\r\nTransfer-Encoding: chunked\r\n\r\n".encode())
        sent = 0
        try:
            while sent < n:
                piece = b"x" * 65536
                s.sendall(b"%x\r\n" % len(piece) + piece + b"\r\n")
                sent += len(piece)
            s.sendall(b"0\r\n\r\n")
        except OSError:
            pass
        line, _, body = read_response(s)
        print(status(line), body.decode())
    elif cmd == "post":
        line, _, body = request(s, "POST", args[0], args[1].encode())
        print(status(line), body.decode())
    elif cmd == "attest":
        line, headers, _ = request(s, "POST", "/kbs/v0/auth", b'{"version":"0.1.1","tee":"snp","extra-params":""}')
        cookie = headers["set-cookie"].split(";")[0].split("=", 1)[1]
        line, _, body = request(s, "POST", "/kbs/v0/attest", args[0].encode(), cookie)
        print(status(line), body.decode())
    elif cmd == "late":
        line, headers, _ = request(s, "POST", "/kbs/v0/auth", b'{"version":"0.1.1","tee":"snp","extra-params":""}')
        cookie = headers["set-cookie"].split(";")[0].split("=", 1)[1]
        time.sleep(float(args[0]))
        line, _, body = request(s, "POST", "/kbs/v0/attest", args[1].encode(), cookie)
        print(status(line), body.decode())
    elif cmd == "auths":
        for _ in range(int(args[0])):
            line, _, body = request(s, "POST", "/kbs/v0/auth", b'{"version":"0.1.1","tee":"snp","extra-params":""}')
            print(status(line), body.decode() if status(line) != "200" else "")
    elif cmd == "slow":
        s.sendall(b"POST /kbs/v0/au")
        s.settimeout(float(args[0]))
        try:
            print("closed" if s.recv(1) == b"" else "answered")
        except socket.timeout:
            print("still open")
        except ConnectionResetError:
            print("closed")
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
