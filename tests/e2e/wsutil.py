"""Terminal WebSocket clients for the end-to-end tests, on Debian's
python3-websocket (websocket-client): the framing is the library's.

- `Term`: one terminal client (GET /api/rigs/{id}/pty, or an attach), which
  keeps the terminal bytes it received and the JSON control messages apart.
- `handshake_status`: the HTTP answer to an upgrade that is expected to be
  refused (status and JSON body), read with http.client.
"""

import base64
import http.client
import json
import os
import time

import websocket


class TermClosed(Exception):
    pass


class Term:
    def __init__(self, port, path, key=None, cookie=None, origin=None, timeout=15):
        headers = []
        if key:
            headers.append(f"Authorization: Bearer {key}")
        if cookie:
            headers.append(f"Cookie: rigs_session={cookie}")
        kw = {"origin": origin} if origin else {"suppress_origin": True}
        self.ws = websocket.create_connection(f"ws://127.0.0.1:{port}{path}",
                                              header=headers, timeout=timeout, **kw)
        self.out = bytearray()  # terminal bytes received
        self.msgs = []          # JSON control messages received, in order
        self.closed = False
        self.close_code = None

    # -- receiving -------------------------------------------------------------
    def _recv_one(self, timeout):
        """Receives one frame (or raises TimeoutError / TermClosed)."""
        if self.closed:
            raise TermClosed("the WebSocket is closed")
        self.ws.settimeout(max(timeout, 0.01))
        try:
            op, data = self.ws.recv_data(control_frame=True)
        except websocket.WebSocketTimeoutException:
            raise TimeoutError from None
        except (websocket.WebSocketConnectionClosedException, ConnectionError, OSError):
            self.closed = True
            raise TermClosed("the connection was closed") from None
        if op == websocket.ABNF.OPCODE_BINARY:
            self.out += data
        elif op == websocket.ABNF.OPCODE_TEXT:
            self.msgs.append(json.loads(data))
        elif op == websocket.ABNF.OPCODE_CLOSE:
            self.closed = True
            if len(data) >= 2:
                self.close_code = int.from_bytes(data[:2], "big")
            try:
                self.ws.close()
            except Exception:  # noqa: BLE001 - already closing
                pass
            raise TermClosed(f"closed by the server ({self.close_code})")
        return op

    def until(self, pred, timeout=15, what="a condition"):
        """Receives until pred(self) is true; fails after timeout."""
        deadline = time.monotonic() + timeout
        while not pred(self):
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(
                    f"timed out waiting for {what}; last output: {bytes(self.out[-600:])!r}; "
                    f"messages: {self.msgs[-5:]!r}")
            try:
                self._recv_one(left)
            except TimeoutError:
                continue
            except TermClosed:
                if pred(self):
                    return
                raise AssertionError(
                    f"closed while waiting for {what}; last output: "
                    f"{bytes(self.out[-600:])!r}; messages: {self.msgs[-5:]!r}") from None

    def expect(self, needle, timeout=15, start=0):
        """Waits until the output (from offset start) contains needle; returns
        the offset just past it."""
        if isinstance(needle, str):
            needle = needle.encode()
        self.until(lambda t: needle in t.out[start:], timeout, f"{needle!r}")
        return self.out.index(needle, start) + len(needle)

    def message(self, mtype, timeout=15, start=0):
        """Waits for a control message of type mtype (after the first start
        messages); returns it."""
        def found(t):
            return any(m.get("type") == mtype for m in t.msgs[start:])
        self.until(found, timeout, f"a {mtype!r} message")
        return next(m for m in self.msgs[start:] if m.get("type") == mtype)

    def wait_exit(self, timeout=15):
        m = self.message("exit", timeout)
        try:
            self.until(lambda t: t.closed, 5, "the close")
        except AssertionError:
            pass
        return m["code"]

    def drain(self, quiet=0.3, timeout=5):
        """Reads until nothing arrives for `quiet` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self._recv_one(quiet)
            except (TimeoutError, TermClosed):
                return

    # -- sending ---------------------------------------------------------------
    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.ws.send_binary(data)

    def control(self, obj):
        self.ws.send(json.dumps(obj))

    def resize(self, cols, rows):
        self.control({"type": "resize", "cols": cols, "rows": rows})

    def close(self):
        if not self.closed:
            try:
                self.ws.close()
            except Exception:  # noqa: BLE001 - best effort
                pass
            self.closed = True


def handshake_status(port, path, key=None, cookie=None, origin=None, upgrade=True):
    """(status, parsed JSON body or raw bytes) of an upgrade request that is
    expected to be refused."""
    headers = {}
    if upgrade:
        headers.update({
            "Upgrade": "websocket",
            "Connection": "Upgrade",
            "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(),
        })
    if key:
        headers["Authorization"] = f"Bearer {key}"
    if cookie:
        headers["Cookie"] = f"rigs_session={cookie}"
    if origin:
        headers["Origin"] = origin
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        if resp.status == 101:
            return 101, None
        raw = resp.read()
        try:
            return resp.status, json.loads(raw)
        except ValueError:
            return resp.status, raw
    finally:
        conn.close()
