"""One bounded unary gRPC call over h2c on a unix socket whose HTTP/1.1 endpoint upgrades (dockerd's /grpc)."""

from __future__ import annotations

import contextlib
import socket
import struct
import time
from typing import Protocol

from mab_doctor.core.record import record

MAX_MESSAGE = 4 * 1024 * 1024  # a worker list is a few hundred bytes; anything near this is not one
MAX_FRAME = 16384  # the HTTP/2 default: we never announce a larger one, so a larger frame is malformed
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, CONTINUATION = 0, 1, 3, 4, 5, 6, 7, 9
END_STREAM, ACK, END_HEADERS, PADDED, PRIORITY = 0x1, 0x1, 0x4, 0x8, 0x20
# HPACK's Huffman codes (RFC 7541 appendix B) of "grpc-status" (as dockerd sends it) and of digits (code, bits).
STATUS_HUFFMAN = bytes.fromhex("9acac8b21234da8f")
DIGITS = {(d, 5): str(d) for d in range(3)} | {(0x16 + d, 6): str(d) for d in range(3, 10)}


@record
class GrpcAnswer:
    """A unary call's answer: the response message (without its 5-byte prefix), or why there is none."""

    call: str                     # "/moby.buildkit.v1.Control/ListWorkers", for messages
    message: bytes | None = None
    status: int | None = None     # grpc-status from the trailers, when they could be read
    error: str | None = None      # one line: refused, timed out, reset, malformed, no message...

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


def _int(value: int, prefix: int, first: int) -> bytes:
    # HPACK integer: ``prefix`` bits in the first byte, then 7 bits a byte.
    top = (1 << prefix) - 1
    if value < top:
        return bytes((first | value,))
    out, value = bytearray((first | top,)), value - top
    while value >= 128:
        out.append(value % 128 | 128)
        value //= 128
    return bytes(out + bytes((value,)))


def _literal(index: int, value: str, name: str = "") -> bytes:
    # Literal without indexing (static name index, or a new name): nothing for the server to remember.
    name_part = _int(len(name), 7, 0) + name.encode() if not index else b""
    return _int(index, 4, 0) + name_part + _int(len(value), 7, 0) + value.encode()


def request_frames(method: str, message: bytes) -> bytes:
    """Our half of the call: HEADERS (POST ``method``) then DATA (the prefixed message, END_STREAM)."""
    block = (b"\x83\x86" + _literal(4, method) + _literal(1, "localhost")  # :method POST, :scheme http
             + _literal(0, "application/grpc", "content-type") + _literal(0, "trailers", "te"))
    body = b"\x00" + struct.pack(">I", len(message)) + message
    return frame(HEADERS, END_HEADERS, 1, block) + frame(DATA, END_STREAM, 1, body)


def _digits(raw: bytes) -> str | None:
    bits, out = "".join(f"{b:08b}" for b in raw), ""
    while len(bits) >= 8 or set(bits) - {"1"}:  # what may be left: EOS padding, under 8 bits, all ones
        n = next((n for n in (5, 6) if len(bits) >= n and (int(bits[:n], 2), n) in DIGITS), None)
        if n is None:
            return None
        out, bits = out + DIGITS[(int(bits[:n], 2), n)], bits[n:]
    return out


class _Hpack:
    """Just enough HPACK to find grpc-status: dynamic-table indexes followed; other names are not decoded."""

    def __init__(self) -> None:
        self.table: list[tuple[bytes, bytes, int]] = []  # (name, value, name's decoded length bound), newest first
        self.size, self.limit, self.unsure = 0, 4096, False

    def block(self, data: bytes) -> dict[bytes, bytes]:
        fields, at = {}, 0
        while at < len(data):
            b = data[at]
            if b & 0x80:
                index, at = self._int(data, at, 7)
                fields.update([self._entry(index)[:2]])
            elif b & 0xE0 == 0x20:  # the server resizes its table
                self.limit, at = self._int(data, at, 5)
                self.unsure = self.unsure or self.size > self.limit
            else:
                keep = b & 0xC0 == 0x40
                index, at = self._int(data, at, 6 if keep else 4)
                if index:
                    name, _, bound = self._entry(index)
                else:
                    name, at, bound = self._string(data, at)
                value, at, size = self._string(data, at)
                fields[name] = value
                if keep:  # entry sizes count decoded lengths: for undecoded Huffman, upper bounds
                    self.table.insert(0, (name, value, bound))
                    self.size += 32 + bound + size
                    self.unsure = self.unsure or self.size > self.limit  # which entries went is unknown
        return fields

    def _int(self, data: bytes, at: int, prefix: int) -> tuple[int, int]:
        top = (1 << prefix) - 1
        value, at, shift = data[at] & top, at + 1, 0
        if value < top:
            return value, at
        while True:
            if at >= len(data) or shift > 28:
                raise _Bad("malformed header block")
            value, at, shift = value + ((data[at] & 127) << shift), at + 1, shift + 7
            if not data[at - 1] & 128:
                return value, at

    def _string(self, data: bytes, at: int) -> tuple[bytes, int, int]:
        """(the string, where the next field starts, an upper bound of its decoded length)."""
        if at >= len(data):
            raise _Bad("malformed header block")
        huffman = bool(data[at] & 0x80)
        length, at = self._int(data, at, 7)
        raw = data[at:at + length]
        if len(raw) != length:
            raise _Bad("malformed header block")
        if not huffman:
            return raw, at + length, length
        if raw == STATUS_HUFFMAN:
            return b"grpc-status", at + length, 11
        digits = _digits(raw)
        # Other Huffman text is not decoded (a placeholder keeps its place); the shortest code has 5 bits.
        return (digits.encode() if digits is not None else b":huffman"), at + length, length * 8 // 5

    def _entry(self, index: int) -> tuple[bytes, bytes, int]:
        if 0 < index <= 61:
            return b":static", b"", 64  # the static table holds no gRPC names (the longest has 27 bytes)
        if index - 62 < len(self.table) and not self.unsure:
            return self.table[index - 62]
        return b":unknown", b"", 4096


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
    conn.settimeout(max(0.001, deadline - time.monotonic()))
    chunk = conn.recv(65536)
    if not chunk:
        raise _Bad("connection closed before the answer was complete")
    return chunk


def _exchange(conn: socket.socket, path: str, method: str, message: bytes, deadline: float,
              limit: int) -> tuple[bytes, dict[bytes, bytes]]:
    buf = _upgrade(conn, path, deadline)
    window = limit + 65536  # the whole answer fits the window: no flow control to keep up with
    conn.sendall(PREFACE + frame(SETTINGS, 0, 0, struct.pack(">HIHI", 2, 0, 4, window))
                 + frame(8, 0, 0, struct.pack(">I", window - 65535)) + request_frames(method, message))
    hpack, body, fields, block, ending, received = _Hpack(), bytearray(), {}, None, False, len(buf)
    while True:
        while len(buf) < 9 or len(buf) < 9 + int.from_bytes(buf[:3], "big"):
            if len(buf) >= 9 and int.from_bytes(buf[:3], "big") > MAX_FRAME:
                raise _Bad(f"frame larger than {MAX_FRAME} bytes")
            chunk = _recv(conn, deadline)
            buf, received = buf + chunk, received + len(chunk)
            if received > 2 * limit + 65536:  # pings, settings, other streams: bounded too
                raise _Bad(f"more than {2 * limit + 65536} bytes received")
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
    status = int(raw) if raw and raw.isdigit() else None
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
    except _Bad as exc:
        return GrpcAnswer(method, error=str(exc))
    except socket.timeout:
        return GrpcAnswer(method, error=f"timed out after {timeout:g}s")
    except (OSError, UnicodeEncodeError, ValueError, IndexError, struct.error) as exc:
        return GrpcAnswer(method, error=getattr(exc, "strerror", None) or str(exc) or type(exc).__name__)
    return _answer(method, body, fields)


def refusing_grpc(sock: str, upgrade_path: str, method: str, message: bytes, *, timeout: float) -> GrpcAnswer:
    """Stands in for gRPC calls when --root is a foreign tree or a test's: nothing is asked."""
    return GrpcAnswer(method, error="not asked (not this machine's own root)")
