"""Bounded HTTP requests over a unix socket (an engine's API), as values: what it answered, or why not."""

from __future__ import annotations

import json
import socket
import time
from typing import Any, Protocol

from mab_doctor.core.record import record

MAX_BODY = 16 * 1024 * 1024  # a build cache listing of thousands of records stays far below this


@record
class HttpAnswer:
    """An API's answer: the status and body, or the reason there is none; never an exception."""

    request: str                 # "GET /system/df" (for messages)
    status: int | None = None
    body: bytes = b""
    error: str | None = None     # could not connect, timed out, refused (foreign --root), too large
    timed_out: bool = False      # the whole timeout went by without a complete answer

    @property
    def ok(self) -> bool:
        """A 2xx answer."""
        return self.status is not None and 200 <= self.status < 300

    def json(self) -> Any:
        """The body as JSON, or None when it is not JSON."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def describe(self) -> str:
        """One line: what happened to this request."""
        return f"`{self.request}`: " + (self.error or f"HTTP {self.status}")


class Requester(Protocol):
    """Sends one request to a unix socket with a mandatory timeout."""

    def __call__(self, sock: str, method: str, path: str, *, timeout: float) -> HttpAnswer: ...


def unix_request(sock: str, method: str, path: str, *, timeout: float) -> HttpAnswer:
    """One HTTP/1.0 request to the API listening on the unix socket ``sock``, the whole exchange bounded
    by ``timeout``. HTTP/1.0 (one request, then the server closes) keeps the answer a plain byte stream:
    no chunked encoding, no keep-alive, and no http.client to import on every run."""
    label = f"{method} {path.split('?', 1)[0]}"
    deadline = time.monotonic() + timeout
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(timeout)
            conn.connect(sock)
            conn.sendall(f"{method} {path} HTTP/1.0\r\nHost: docker\r\nContent-Length: 0\r\n\r\n".encode("latin-1"))
            raw = bytearray()
            while True:
                chunk = recv_by(conn, deadline)
                if not chunk:
                    break
                raw += chunk
                if len(raw) > MAX_BODY + 65536:
                    return HttpAnswer(label, error=f"answer larger than {MAX_BODY} bytes")
    except (OSError, UnicodeEncodeError) as exc:
        error, late = failure(exc, timeout)
        return HttpAnswer(label, error=error, timed_out=late)
    head, _, body = bytes(raw).partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].split()
    if len(status_line) < 2 or not status_line[0].startswith(b"HTTP/") or not status_line[1].isdigit():
        return HttpAnswer(label, error="not an HTTP answer")
    return HttpAnswer(label, int(status_line[1]), body)


def recv_by(conn: socket.socket, deadline: float) -> bytes:
    """One read of up to 64 KiB that waits no later than ``deadline`` (then socket.timeout); b"" once the
    peer has closed."""
    conn.settimeout(max(0.001, deadline - time.monotonic()))
    return conn.recv(65536)


def failure(exc: Exception, timeout: float) -> tuple[str, bool]:
    """(one line, whether it was the deadline) for an exchange that ended in ``exc``."""
    if isinstance(exc, socket.timeout):
        return f"timed out after {timeout:g}s", True
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__, False


def refusing_request(sock: str, method: str, path: str, *, timeout: float) -> HttpAnswer:
    """Stands in for requests when --root is a foreign tree or a test's: nothing is asked."""
    return HttpAnswer(f"{method} {path.split('?', 1)[0]}", error="not asked (not this machine's own root)")
