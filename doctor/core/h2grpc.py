"""One bounded unary gRPC call over h2c on a unix socket whose HTTP/1.1 endpoint upgrades (dockerd's /grpc)."""

from __future__ import annotations

import contextlib
import socket
import struct
import time
from typing import Protocol

from mab_doctor.core.hpack import Hpack, MalformedHeaders, literal
from mab_doctor.core.record import record
from mab_doctor.core.unixhttp import failure, recv_by

MAX_MESSAGE = 4 * 1024 * 1024  # a worker list is a few hundred bytes; anything near this is not one
MAX_FRAME = 16384  # the HTTP/2 default: we never announce a larger one, so a larger frame is malformed
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, CONTINUATION = 0, 1, 3, 4, 5, 6, 7, 9
END_STREAM, ACK, END_HEADERS, PADDED, PRIORITY = 0x1, 0x1, 0x4, 0x8, 0x20


@record
class GrpcAnswer:
    """A unary call's answer: the response message (without its 5-byte prefix), or why there is none."""

    call: str                     # "/moby.buildkit.v1.Control/ListWorkers", for messages
    message: bytes | None = None
    status: int | None = None     # grpc-status from the trailers, when they could be read
    error: str | None = None      # one line: refused, timed out, reset, malformed, no message...
    timed_out: bool = False       # the whole timeout went by without a complete answer

    @property
    def ok(self) -> bool:
        """A complete message and no error status."""
        return self.message is not None and self.error is None

    def describe(self) -> str:
        """One line: what happened to this call."""
        return f"gRPC {self.call}: " + (self.error or "answered")


class GrpcCaller(Protocol):
    """Makes one unary gRPC call over an upgraded unix-socket connection with a mandatory timeout."""

    def __call__(self, sock: str, upgrade_path: str, method: str, message: bytes, *,
                 timeout: float) -> GrpcAnswer: ...


class _Bad(Exception):
    """The exchange cannot go on; the text is the answer's one-line error."""


def frame(kind: int, flags: int, stream: int, payload: bytes = b"") -> bytes:
    """One HTTP/2 frame."""
    return struct.pack(">I", len(payload))[1:] + bytes((kind, flags)) + struct.pack(">I", stream) + payload


def request_frames(method: str, message: bytes) -> bytes:
    """Our half of the call: HEADERS (POST ``method``) then DATA (the prefixed message, END_STREAM)."""
    block = (b"\x83\x86" + literal(4, method) + literal(1, "localhost")  # :method POST, :scheme http
             + literal(0, "application/grpc", "content-type") + literal(0, "trailers", "te"))
    body = b"\x00" + struct.pack(">I", len(message)) + message
    return frame(HEADERS, END_HEADERS, 1, block) + frame(DATA, END_STREAM, 1, body)


def _upgrade(conn: socket.socket, path: str, deadline: float) -> bytes:
    conn.sendall(f"POST {path} HTTP/1.1\r\nHost: docker\r\nContent-Length: 0\r\n"
                 f"Connection: Upgrade\r\nUpgrade: h2c\r\n\r\n".encode("latin-1"))
    raw = b""
    while b"\r\n\r\n" not in raw:
        raw += _recv(conn, deadline)
        if len(raw) > 65536:
            raise _Bad("upgrade answer too long")
    head, _, rest = raw.partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0].split()
    if len(status) < 2 or status[1] != b"101":
        first = head.split(b"\r\n", 1)[0].decode("latin-1")[:80]
        raise _Bad(f"no upgrade: the server answered {first!r}")
    return rest  # the server's first frames may follow in the same read


def _recv(conn: socket.socket, deadline: float) -> bytes:
    chunk = recv_by(conn, deadline)
    if not chunk:
        raise _Bad("connection closed before the answer was complete")
    return chunk


def _exchange(conn: socket.socket, path: str, method: str, message: bytes, deadline: float,
              limit: int) -> tuple[bytes, dict[bytes, bytes]]:
    buf = _upgrade(conn, path, deadline)
    window = limit + 65536  # the whole answer fits the window: no flow control to keep up with
    conn.sendall(PREFACE + frame(SETTINGS, 0, 0, struct.pack(">HIHI", 2, 0, 4, window))
                 + frame(8, 0, 0, struct.pack(">I", window - 65535)) + request_frames(method, message))
    hpack, body, fields, block, ending, received = Hpack(), bytearray(), {}, None, False, len(buf)
    while True:
        while len(buf) < 9 or len(buf) < 9 + int.from_bytes(buf[:3], "big"):
            if len(buf) >= 9 and int.from_bytes(buf[:3], "big") > MAX_FRAME:
                raise _Bad(f"frame larger than {MAX_FRAME} bytes")
            chunk = _recv(conn, deadline)
            buf, received = buf + chunk, received + len(chunk)
            if received > 2 * limit + 65536:  # pings, settings, other streams: bounded too
                raise _Bad(f"more than {2 * limit + 65536} bytes received")
        if time.monotonic() > deadline:  # a server that never stops sending frames
            raise socket.timeout
        size, kind, flags = int.from_bytes(buf[:3], "big"), buf[3], buf[4]
        stream, payload, buf = int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF, buf[9:9 + size], buf[9 + size:]
        if block is not None and (kind != CONTINUATION or stream != 1):
            raise _Bad("header block interrupted")
        if kind == SETTINGS and not flags & ACK:
            if size % 6:
                raise _Bad("malformed SETTINGS frame")
            _quietly(conn, frame(SETTINGS, ACK, 0))
        elif kind == PING and not flags & ACK:
            _quietly(conn, frame(PING, ACK, 0, payload[:8]))
        elif kind == GOAWAY:
            last, code = struct.unpack(">II", payload[:8]) if size >= 8 else (0, 1)
            if code or (last & 0x7FFFFFFF) < 1:  # NO_ERROR covering our stream: it is still answered
                raise _Bad(f"the server went away (GOAWAY, error code {code})")
        elif kind == PUSH_PROMISE:
            raise _Bad("unexpected PUSH_PROMISE")
        elif stream != 1 or kind not in (DATA, HEADERS, CONTINUATION, RST_STREAM):
            continue  # WINDOW_UPDATE, PRIORITY, unknown types: nothing to do
        elif kind == RST_STREAM:
            raise _Bad(f"stream reset (error code {int.from_bytes(payload[:4], 'big')})")
        else:
            payload = _unpad(kind, flags, payload)
            if kind == DATA:
                body += payload
                if len(body) > limit + 5:
                    raise _Bad(f"answer larger than {limit} bytes")
                ending = bool(flags & END_STREAM)
            else:
                block = (block or b"") + payload
                ending = bool(flags & END_STREAM) if kind == HEADERS else ending
                if len(block) > 65536:
                    raise _Bad("header block too large")
                if flags & END_HEADERS:
                    fields.update(hpack.block(block))
                    block = None
            if ending and block is None:
                return bytes(body), fields


def _quietly(conn: socket.socket, data: bytes) -> None:
    # An acknowledgement the server no longer reads changes nothing: what it already sent is still read.
    with contextlib.suppress(OSError):
        conn.sendall(data)


def _unpad(kind: int, flags: int, payload: bytes) -> bytes:
    if kind != CONTINUATION and flags & PADDED:
        if not payload or payload[0] >= len(payload):
            raise _Bad("malformed padding")
        payload = payload[1:len(payload) - payload[0]]
    if kind == HEADERS and flags & PRIORITY:
        if len(payload) < 5:
            raise _Bad("malformed HEADERS frame")
        payload = payload[5:]
    return payload


def _answer(call: str, body: bytes, fields: dict[bytes, bytes]) -> GrpcAnswer:
    raw = fields.get(b"grpc-status")
    status = int(raw) if raw and raw.isdigit() and len(raw) <= 3 else None  # gRPC's codes are 0-16
    if status:
        return GrpcAnswer(call, status=status, error=f"grpc-status {status}")
    if not body:
        return GrpcAnswer(call, status=status, error="no message" + (" (trailers only)" if fields else ""))
    if len(body) < 5 or body[0]:
        why = "compressed message (none was asked for)" if len(body) >= 5 and body[0] == 1 else "malformed prefix"
        return GrpcAnswer(call, status=status, error=why)
    length = int.from_bytes(body[1:5], "big")
    if length != len(body) - 5:
        return GrpcAnswer(call, status=status, error=f"message of {len(body) - 5} bytes, its prefix says {length}")
    return GrpcAnswer(call, body[5:], status)


def h2c_call(sock: str, upgrade_path: str, method: str, message: bytes, *, timeout: float,
             limit: int = MAX_MESSAGE) -> GrpcAnswer:
    """Upgrade ``POST upgrade_path`` on the unix socket ``sock`` to h2c, call ``method`` with the
    serialized ``message``, read the one answer message; the whole exchange bounded by ``timeout``
    and ``limit`` bytes. Never raises: every failure is the answer's one-line error."""
    if len(message) > MAX_FRAME - 5:  # one DATA frame within the default window: all a unary request needs here
        return GrpcAnswer(method, error=f"request message larger than {MAX_FRAME - 5} bytes")
    deadline = time.monotonic() + timeout
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(timeout)
            conn.connect(sock)
            body, fields = _exchange(conn, upgrade_path, method, message, deadline, limit)
    except (_Bad, MalformedHeaders) as exc:
        return GrpcAnswer(method, error=str(exc))
    except (OSError, UnicodeEncodeError, ValueError, IndexError, struct.error) as exc:
        error, late = failure(exc, timeout)
        return GrpcAnswer(method, error=error, timed_out=late)
    return _answer(method, body, fields)


def refusing_grpc(sock: str, upgrade_path: str, method: str, message: bytes, *, timeout: float) -> GrpcAnswer:
    """Stands in for gRPC calls when --root is a foreign tree or a test's: nothing is asked."""
    return GrpcAnswer(method, error="not asked (not this machine's own root)")
