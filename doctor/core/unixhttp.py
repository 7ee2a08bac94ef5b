"""Bounded HTTP requests over a unix socket (an engine's API), as values: what it answered, or why not."""

from __future__ import annotations

import http.client
import json
import socket
from dataclasses import dataclass
from typing import Any, Protocol

MAX_BODY = 16 * 1024 * 1024  # a build cache listing of thousands of records stays far below this


@dataclass(frozen=True)
class HttpAnswer:
    """An API's answer: the status and body, or the reason there is none; never an exception."""

    request: str                 # "GET /system/df" (for messages)
    status: int | None = None
    body: bytes = b""
    error: str | None = None     # could not connect, timed out, refused (foreign --root), too large

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


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float):
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self._path)


def unix_request(sock: str, method: str, path: str, *, timeout: float) -> HttpAnswer:
    """One request to the API listening on the unix socket ``sock``, bounded by ``timeout`` per step."""
    label = f"{method} {path.split('?', 1)[0]}"
    conn = _UnixConnection(sock, timeout)
    try:
        conn.request(method, path, headers={"Host": "docker"})
        response = conn.getresponse()
        body = response.read(MAX_BODY + 1)
        if len(body) > MAX_BODY:
            return HttpAnswer(label, response.status, error=f"answer larger than {MAX_BODY} bytes")
        return HttpAnswer(label, response.status, body)
    except socket.timeout:
        return HttpAnswer(label, error=f"timed out after {timeout:g}s")
    except (OSError, http.client.HTTPException) as exc:
        return HttpAnswer(label, error=getattr(exc, "strerror", None) or str(exc) or type(exc).__name__)
    finally:
        conn.close()


def refusing_request(sock: str, method: str, path: str, *, timeout: float) -> HttpAnswer:
    """Stands in for requests when --root is a foreign tree or a test's: nothing is asked."""
    return HttpAnswer(f"{method} {path.split('?', 1)[0]}", error="not asked (not this machine's own root)")
