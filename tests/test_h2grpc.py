"""gRPC over an upgraded unix socket: dockerd's real answers replayed, and hostile servers (reset, GOAWAY, hung...)."""

from __future__ import annotations

import socket
import struct
import threading
import time

import pytest
from pathlib import Path

from mab_doctor.core.context import Context
from mab_doctor.core.h2grpc import h2c_call, request_frames
from mab_doctor.core.hpack import Hpack, MalformedHeaders

from helpers import one_connection_server

DATA = Path(__file__).parent / "data" / "buildkit"
UPGRADED = b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"
LIST = "/moby.buildkit.v1.Control/ListWorkers"
# dockerd 20.10's worker list as it sent it: one record (140 bytes), behind a 3-byte field key and length
WORKERS = b"\n\x8c\x01\n\x04moby" + b"".join(
    b"\x1a" + bytes((len(p),)) + p for p in (
        b"\n\x05amd64\x12\x05linux", b"\n\x05arm64\x12\x05linux", b"\n\x07riscv64\x12\x05linux",
        b"\n\x07ppc64le\x12\x05linux", b"\n\x05s390x\x12\x05linux", b"\n\x03386\x12\x05linux",
        b"\n\x03arm\x12\x05linux\x1a\x02v7", b"\n\x03arm\x12\x05linux\x1a\x02v6"))


def fr(kind: int, flags: int, stream: int, payload: bytes = b"") -> bytes:
    return len(payload).to_bytes(3, "big") + bytes((kind, flags)) + stream.to_bytes(4, "big") + payload


SETTINGS = fr(4, 0, 0)
CLOSE = object()
OK_HEADERS = fr(1, 4, 1, b"\x88")  # :status 200 (static index 8)
TRAILER_OK = fr(1, 5, 1, b"\x00\x0bgrpc-status\x010")  # literal, raw name and value "0"


def serve(path: Path, script: list, heard: list | None = None) -> threading.Thread:
    """One connection on ``path``: read the HTTP request, then send ``script`` (bytes, or a float: a pause);
    what the client sends after its request goes to ``heard``. CLOSE ends the server's half."""
    def handle(conn):
        conn.settimeout(5)
        got = b""
        while b"\r\n\r\n" not in got:
            got += conn.recv(4096)
        for step in script:
            if step is CLOSE:  # the server's half: the client reads the end of the stream
                conn.shutdown(socket.SHUT_WR)
            elif isinstance(step, float):
                time.sleep(step)
            else:
                conn.sendall(step)  # fails once a client that gave up has closed
        # as dockerd does: the connection stays open until the client closes it
        while chunk := conn.recv(65536):
            (heard if heard is not None else []).append(chunk)
    return one_connection_server(path, handle)


def call(tmp_path, script, heard=None, timeout=5.0, **kw):
    sock = tmp_path / "grpc.sock"
    thread = serve(sock, script, heard)
    answer = h2c_call(str(sock), "/grpc", LIST, b"", timeout=timeout, **kw)
    thread.join(5)
    return answer


def test_dockerd_20_10_worker_list_replayed_is_the_message(tmp_path):
    answer = call(tmp_path, [(DATA / "dockerd-20.10-listworkers.server.bin").read_bytes()])
    assert answer.ok and answer.message == WORKERS and answer.status == 0 and answer.error is None


def test_dockerd_20_10_info_is_unimplemented_status_12(tmp_path):
    answer = call(tmp_path, [(DATA / "dockerd-20.10-info.server.bin").read_bytes()])
    assert (answer.ok, answer.message, answer.status, answer.error) == (False, None, 12, "grpc-status 12")
    assert answer.describe() == f"gRPC {LIST}: grpc-status 12"


def test_buildx_own_connection_status_12_through_the_dynamic_table():
    # buildx asked ListWorkers (stream 1) then Info (stream 3) on one connection; Info's trailers name
    # grpc-status by a dynamic-table index that stream 1's trailers created.
    raw = (DATA / "dockerd-20.10-buildx-ls.server.bin").read_bytes()
    at, blocks = raw.index(b"\r\n\r\n") + 4, []
    while at < len(raw):
        size = int.from_bytes(raw[at:at + 3], "big")
        if raw[at + 3] == 1:
            blocks.append(raw[at + 9:at + 9 + size])
        at += 9 + size
    hpack = Hpack()
    seen = [hpack.block(b).get(b"grpc-status") for b in blocks]
    assert seen == [None, b"0", None, b"12"]


def test_our_request_carries_what_buildx_sends_for_the_message():
    sent = request_frames(LIST, b"")
    client = (DATA / "dockerd-20.10-buildx-ls.client.bin").read_bytes()
    data_frame = fr(0, 1, 1, b"\x00\x00\x00\x00\x00")  # empty ListWorkersRequest, END_STREAM
    assert sent.endswith(data_frame) and data_frame in client
    assert b"/moby.buildkit.v1.Control/ListWorkers" in sent and b"application/grpc" in sent


def test_settings_are_acked_and_pings_answered(tmp_path):
    heard: list[bytes] = []
    ping = fr(6, 0, 0, b"12345678")
    call(tmp_path, [UPGRADED + SETTINGS + ping + OK_HEADERS
                    + fr(0, 0, 1, b"\x00\x00\x00\x00\x02\x08\x01") + TRAILER_OK], heard)
    got = b"".join(heard)
    assert got.startswith(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
    assert fr(4, 1, 0) in got and fr(6, 1, 0, b"12345678") in got


def test_padded_data_and_a_huffman_status():
    # "12" Huffman-coded: 00001 00010 then EOS padding 111111 -> 0x08 0xbf
    assert Hpack().block(b"\x00\x0bgrpc-status\x82\x08\xbf") == {b"grpc-status": b"12"}


def test_padded_frames_are_unpadded(tmp_path):
    body = b"\x00\x00\x00\x00\x02\x08\x01"
    answer = call(tmp_path, [UPGRADED + SETTINGS + fr(1, 0x0C, 1, b"\x02\x88zz")
                             + fr(0, 0x08, 1, b"\x03" + body + b"pad") + TRAILER_OK])
    assert answer.ok and answer.message == b"\x08\x01"


def test_no_upgrade_is_a_one_line_error(tmp_path):
    answer = call(tmp_path, [b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"])
    assert answer.error == "no upgrade: the server answered 'HTTP/1.1 404 Not Found'" and answer.message is None


def test_goaway_with_an_error_fails(tmp_path):
    answer = call(tmp_path, [UPGRADED + SETTINGS + fr(7, 0, 0, struct.pack(">II", 0, 2))])
    assert answer.error == "the server went away (GOAWAY, error code 2)"


def test_reset_stream_fails(tmp_path):
    answer = call(tmp_path, [UPGRADED + SETTINGS + OK_HEADERS + fr(3, 0, 1, struct.pack(">I", 8))])
    assert answer.error == "stream reset (error code 8)"


def test_a_message_shorter_than_its_prefix_fails(tmp_path):
    answer = call(tmp_path, [UPGRADED + SETTINGS + OK_HEADERS + fr(0, 0, 1, b"\x00\x00\x00\x00\x64" + b"x" * 10)
                             + TRAILER_OK])
    assert answer.error == "message of 10 bytes, its prefix says 100"


def test_closed_mid_frame_fails(tmp_path):
    answer = call(tmp_path, [UPGRADED + SETTINGS + OK_HEADERS + fr(0, 0, 1, b"\x00\x00\x00\x00\x05abcde")[:12], CLOSE])
    assert answer.error == "connection closed before the answer was complete"


def test_an_oversized_frame_fails_without_reading_it(tmp_path):
    answer = call(tmp_path, [UPGRADED + SETTINGS + (20000).to_bytes(3, "big") + b"\x00\x00\x00\x00\x00\x01"])
    assert answer.error == "frame larger than 16384 bytes"


def test_an_answer_over_the_limit_fails(tmp_path):
    chunk = fr(0, 0, 1, b"\x00\x00\x00\x10\x00" + b"x" * 4096)
    answer = call(tmp_path, [UPGRADED + SETTINGS + OK_HEADERS + chunk + TRAILER_OK], limit=1000)
    assert answer.error == "answer larger than 1000 bytes"


def test_trailers_only_without_status_is_no_message(tmp_path):
    answer = call(tmp_path, [UPGRADED + SETTINGS + fr(1, 5, 1, b"\x88")])
    assert answer.error == "no message (trailers only)" and answer.status is None


def test_a_compressed_message_is_refused(tmp_path):
    answer = call(tmp_path, [UPGRADED + SETTINGS + OK_HEADERS + fr(0, 0, 1, b"\x01\x00\x00\x00\x01x") + TRAILER_OK])
    assert answer.error == "compressed message (none was asked for)"


def test_a_malformed_header_block_fails(tmp_path):
    answer = call(tmp_path, [UPGRADED + SETTINGS + fr(1, 5, 1, b"\x00\x0bgrpc-sta")])
    assert answer.error == "malformed header block"


def test_a_hung_server_costs_the_timeout_once(tmp_path):
    start = time.monotonic()
    answer = call(tmp_path, [UPGRADED + SETTINGS, 2.0], timeout=0.5)
    assert answer.error == "timed out after 0.5s" and time.monotonic() - start < 2.5
    assert answer.timed_out is True


def test_a_trickling_server_is_bounded_by_the_whole_deadline(tmp_path):
    # one byte every 0.1 s: each read succeeds, the deadline still ends the call
    start = time.monotonic()
    trickle = [step for b in OK_HEADERS for step in (bytes((b,)), 0.1)]
    answer = call(tmp_path, [UPGRADED + SETTINGS, *trickle], timeout=0.5)
    assert answer.error == "timed out after 0.5s" and time.monotonic() - start < 1.5


def test_no_socket_and_a_foreign_root(tmp_path):
    answer = h2c_call(str(tmp_path / "none.sock"), "/grpc", LIST, b"", timeout=1)
    assert answer.message is None and "No such file" in answer.error
    assert answer.timed_out is False
    ctx = Context(root=tmp_path, live=True)
    refused = ctx.grpc("/var/run/docker.sock", "/grpc", LIST, b"")
    assert refused.error == "not asked (not this machine's own root)" and not refused.ok


def test_a_graceful_goaway_still_answers_and_continuation_joins_headers(tmp_path):
    body = b"\x00\x00\x00\x00\x02\x08\x01"
    answer = call(tmp_path, [UPGRADED + SETTINGS + fr(7, 0, 0, struct.pack(">II", 1, 0)) + OK_HEADERS
                             + fr(0, 0, 1, body) + fr(1, 1, 1, b"\x00\x0bgrpc") + fr(9, 4, 1, b"-status\x010")])
    assert answer.ok and answer.message == b"\x08\x01" and answer.status == 0


def test_a_non_zero_status_with_a_message_is_an_error(tmp_path):
    answer = call(tmp_path, [UPGRADED + SETTINGS + OK_HEADERS + fr(0, 0, 1, b"\x00\x00\x00\x00\x01x")
                             + fr(1, 5, 1, b"\x00\x0bgrpc-status\x0213")])
    assert (answer.ok, answer.status, answer.error) == (False, 13, "grpc-status 13")


def test_a_short_prefix_and_a_large_request_are_refused(tmp_path):
    answer = call(tmp_path, [UPGRADED + SETTINGS + OK_HEADERS + fr(0, 0, 1, b"\x00\x00") + TRAILER_OK])
    assert answer.error == "malformed prefix"
    big = h2c_call(str(tmp_path / "none.sock"), "/grpc", LIST, b"x" * 20000, timeout=1)
    assert big.error == "request message larger than 16379 bytes"


def test_endless_frames_beside_the_answer_are_bounded(tmp_path):
    pings = fr(6, 1, 0, b"12345678") * 5000  # acks nobody asked for: 85000 bytes, and no answer
    answer = call(tmp_path, [UPGRADED + SETTINGS + pings], limit=1000)
    assert answer.error == "more than 67536 bytes received"


def test_endless_indexed_header_frames_end_at_the_timeout(tmp_path):
    # Each frame adds literal-with-indexing fields (empty name and value) that never end the stream: the
    # table must not grow for ever and the deadline must hold even while frames keep arriving.
    frames = UPGRADED + SETTINGS + b"".join(fr(1, 0x04, 1, b"\x40\x00\x00" * 5000) for _ in range(60))
    start = time.monotonic()
    answer = call(tmp_path, [frames, 3.0], timeout=1.0)
    assert time.monotonic() - start < 4 and answer.message is None and answer.error


def test_a_huge_status_number_is_an_error_value_not_an_exception(tmp_path):
    # a literal value of 200 digits: longer than any gRPC code
    trailer = fr(1, 5, 1, b"\x00\x0bgrpc-status\x7f\x49" + b"1" * 200)
    answer = call(tmp_path, [UPGRADED + SETTINGS + OK_HEADERS + fr(0, 0, 1, b"\x00\x00\x00\x00\x02\x08\x01") + trailer])
    assert answer.status is None and answer.ok and answer.message == b"\x08\x01"


def test_index_zero_is_a_malformed_block():
    with pytest.raises(MalformedHeaders):
        Hpack().block(b"\x80")
