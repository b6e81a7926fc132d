"""A small HTTP/1.1 and WebSocket server that runs inside a rig for the router
tests (Python's standard library only: it runs on the base template).

  GET/POST/... /echo      -> JSON {method, path, headers, length, sha256} of the request
  GET /big?n=N            -> N bytes of a known pattern (Content-Length)
  GET /chunked?n=N        -> N bytes as chunked transfer coding
  GET /close?n=N          -> N bytes delimited by closing the connection
  GET /slow               -> a first chunk, 2 s of silence, a last chunk
  GET /ws (Upgrade)       -> WebSocket echo of text and binary frames
Every request line is appended to /tmp/requests.log.
"""
import base64
import hashlib
import json
import socketserver
import struct
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PATTERN = bytes(range(256)) * 4096  # 1 MiB


def pattern(n):
    out = bytearray()
    while len(out) < n:
        out += PATTERN[: n - len(out)]
    return bytes(out)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def _log(self):
        with open("/tmp/requests.log", "a") as f:
            f.write(self.requestline + "\n")

    def _body(self):
        h = hashlib.sha256()
        n = 0
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                left = size
                while left:
                    d = self.rfile.read(min(left, 1 << 16))
                    h.update(d)
                    n += len(d)
                    left -= len(d)
                self.rfile.readline()
        else:
            left = int(self.headers.get("Content-Length") or 0)
            while left:
                d = self.rfile.read(min(left, 1 << 16))
                if not d:
                    break
                h.update(d)
                n += len(d)
                left -= len(d)
        return n, h.hexdigest()

    def _send(self, code, body, ctype="application/octet-stream"):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _n(self):
        q = self.path.partition("?")[2]
        for kv in q.split("&"):
            if kv.startswith("n="):
                return int(kv[2:])
        return 0

    def do_any(self):
        self._log()
        path = self.path.partition("?")[0]
        if path == "/echo":
            n, digest = self._body()
            body = json.dumps({"method": self.command, "path": self.path,
                               "headers": [[k, v] for k, v in self.headers.items()],
                               "length": n, "sha256": digest}).encode()
            return self._send(200, body, "application/json")
        if path == "/big":  # written a MiB at a time: N may exceed the rig's memory
            n = self._n()
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(n))
            self.end_headers()
            while n > 0 and self.command != "HEAD":
                self.wfile.write(PATTERN[:min(n, len(PATTERN))])
                n -= min(n, len(PATTERN))
            return
        if path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            data = pattern(self._n())
            for i in range(0, len(data), 100000):
                part = data[i:i + 100000]
                self.wfile.write(b"%x\r\n" % len(part) + part + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
            return
        if path == "/close":
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(pattern(self._n()))
            self.close_connection = True
            return
        if path == "/slow":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(b"5\r\nfirst\r\n")
            self.wfile.flush()
            time.sleep(2)
            self.wfile.write(b"4\r\nlast\r\n0\r\n\r\n")
            return
        if path == "/ws" and self.headers.get("Upgrade", "").lower() == "websocket":
            return self._websocket()
        self._send(404, b"not found\n", "text/plain")

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_any

    def _websocket(self):
        key = self.headers["Sec-WebSocket-Key"]
        accept = base64.b64encode(hashlib.sha1(
            (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.end_headers()
        self.wfile.flush()
        while True:
            hdr = self.rfile.read(2)
            if len(hdr) < 2:
                return
            op, ln = hdr[0] & 0x0F, hdr[1] & 0x7F
            if ln == 126:
                ln = struct.unpack("!H", self.rfile.read(2))[0]
            elif ln == 127:
                ln = struct.unpack("!Q", self.rfile.read(8))[0]
            mask = self.rfile.read(4) if hdr[1] & 0x80 else b"\0\0\0\0"
            data = bytes(b ^ mask[i % 4] for i, b in enumerate(self.rfile.read(ln)))
            if op == 8:
                self.wfile.write(b"\x88\x00")
                return
            head = bytes([0x80 | op])
            if len(data) < 126:
                head += bytes([len(data)])
            else:
                head += bytes([126]) + struct.pack("!H", len(data))
            self.wfile.write(head + data)
            self.wfile.flush()
        self.close_connection = True


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


if __name__ == "__main__":
    Server(("0.0.0.0", int(sys.argv[1])), Handler).serve_forever()
