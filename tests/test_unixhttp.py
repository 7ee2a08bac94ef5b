"""Requests to an API on a unix socket: answers, a socket that never answers, no socket, a foreign root."""

from __future__ import annotations

import time

from mab_doctor.core.context import Context
from mab_doctor.core.unixhttp import unix_request

from helpers import one_connection_server


def serve(path, reply: bytes | None):
    """A one-connection server on ``path`` that sends ``reply`` (None: accepts and never answers)."""
    def handle(conn):
        conn.recv(65536)
        if reply is None:
            time.sleep(3)
        else:
            conn.sendall(reply)
    one_connection_server(path, handle)


def test_an_answer_is_read_with_its_status_and_json(tmp_path):
    sock = tmp_path / "api.sock"
    serve(sock, b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 18\r\n\r\n{"BuildCache": []}')
    answer = unix_request(str(sock), "GET", "/system/df?type=build-cache", timeout=5)
    assert answer.ok and answer.json() == {"BuildCache": []} and answer.request == "GET /system/df"


def test_a_socket_that_never_answers_costs_the_timeout_once(tmp_path):
    sock = tmp_path / "hung.sock"
    serve(sock, None)
    start = time.monotonic()
    answer = unix_request(str(sock), "POST", "/build/prune", timeout=0.5)
    assert not answer.ok and answer.error == "timed out after 0.5s" and time.monotonic() - start < 2
    assert answer.timed_out is True
    assert answer.describe() == "`POST /build/prune`: timed out after 0.5s"


def test_no_socket_and_a_foreign_root_are_values(tmp_path):
    answer = unix_request(str(tmp_path / "none.sock"), "GET", "/_ping", timeout=1)
    assert not answer.ok and answer.status is None and "No such file" in answer.error
    assert answer.timed_out is False
    ctx = Context(root=tmp_path, live=True)  # commands may "run" in tests; sockets are never asked
    assert ctx.request("/var/run/docker.sock", "GET", "/_ping").error.startswith("not asked")
    assert ctx.request("/var/run/docker.sock", "GET", "/_ping").json() is None
