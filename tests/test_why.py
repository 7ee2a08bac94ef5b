"""`why`: failed build logs (hand-written and captured from real builds) classified, and the command's contract."""

from __future__ import annotations

import io
import json
import re
import time
from pathlib import Path

import pytest

from mab_doctor.cli import main
from mab_doctor.engines.failures import Cause, Diagnosis, classify

LOGS = Path(__file__).parent / "data" / "buildlogs"


def _diagnose(name: str) -> Diagnosis:
    return classify((LOGS / name).read_bytes().decode("utf-8", "replace"))


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# (log, the only cause expected, line, a phrase its title must hold, a phrase its remedy must hold)
WRITTEN = [
    ("exec-format.log", "exec-format", 14, "no binfmt handler", "sudo mab-doctor --fix"),
    ("exec-format-tty.log", "exec-format", 4, "no binfmt handler", "sudo mab-doctor --fix"),
    ("exec-format-crlf.log", "exec-format", 6, "CRLF", "dos2unix"),
    ("exec-format-script.log", "exec-format", 8, "/opt/setup.sh has no #! line", "#!/bin/sh"),
    ("no-F-flag.log", "no-F-flag", 7, "linux/riscv64", "sudo mab-doctor --fix"),
    ("qemu-crash.log", "qemu-crash", 3, "signal 11", "mab-doctor binfmt-handlers"),
    ("no-C-flag.log", "no-C-flag", 3, "C flag", "USER root"),
    ("docker-driver-multiplatform.log", "docker-driver-multiplatform", 2, "docker", "--driver docker-container"),
    ("exporter-manifest-list.log", "exporter-manifest-list", 6, "manifest list", "--push"),
    ("no-platform-match.log", "no-platform-match", 8, "platform", "docker buildx imagetools inspect"),
    ("podman-no-image-in-list.log", "podman-no-image-in-list", 4, "quay.io/example/tools:2.1 has no s390x",
     "podman pull --platform linux/s390x quay.io/example/tools:2.1"),
    ("network-endpoint.log", "network-endpoint", 6, "network", "ip link show docker0"),
    ("out-of-memory.log", "out-of-memory", 4, "memory", "make -j1"),
    ("registry-unreachable.log", "registry-unreachable", 8, "registry-1.docker.io", "getent hosts registry-1.docker.io"),
]


@pytest.mark.parametrize("name, key, line, title, remedy", WRITTEN, ids=[w[0] for w in WRITTEN])
def test_each_written_log_names_its_cause(name, key, line, title, remedy):
    got = _diagnose(name)
    assert [c.key for c in got.causes] == [key]
    cause = got.causes[0]
    assert cause.line == line and title in cause.title and remedy in cause.remedy
    shown = re.sub(r"\x1b\[[0-9;]*m", "", (LOGS / name).read_bytes().decode(errors="replace").split("\n")[line - 1])
    assert len(cause.evidence) >= 6 and cause.evidence in shown.replace("\r", "\\x0d")
    assert got.tail == ()


def test_evidence_is_the_line_without_progress_prefix_ansi_or_controls():
    assert _diagnose("exec-format.log").causes[0].evidence == "exec /bin/sh: exec format error"
    assert _diagnose("exec-format-tty.log").causes[0].evidence == "0.102 exec /bin/sh: exec format error"
    assert _diagnose("exec-format-crlf.log").causes[0].evidence == \
        "env: can't execute 'sh\\x0d': No such file or directory"


def test_a_go_compile_error_is_no_known_cause_and_shows_the_error_lines():
    got = _diagnose("unrelated-go-compile.log")
    assert got.causes == ()
    assert got.tail == (
        '#10 ERROR: process "/bin/sh -c go build -o /out/server ./cmd/server" did not complete successfully: exit code: 1',
        'ERROR: failed to solve: process "/bin/sh -c go build -o /out/server ./cmd/server" did not complete '
        'successfully: exit code: 1')


# Logs captured from real failing builds on a Debian 12 host (tests/data/buildlogs/real-README.md says how).
REAL = [
    ("real-exec-format.log", ["exec-format"], 19),
    ("real-podman-exec-format.log", ["exec-format"], 5),
    ("real-no-F-flag.log", ["no-F-flag"], 19),
    ("real-no-C-flag.log", ["no-C-flag"], 27),
    ("real-docker-driver-multiplatform.log", ["docker-driver-multiplatform"], 1),
    ("real-exporter-manifest-list.log", ["exporter-manifest-list"], 1),
    ("real-network-endpoint.log", ["network-endpoint"], 12),
    ("real-network-endpoint-legacy-client20.log", ["network-endpoint"], 8),
    ("real-network-endpoint-buildkit.log", ["network-endpoint"], 19),
    ("real-oom.log", ["out-of-memory"], 12),
    ("real-docker-platform-mismatch.log", ["registry-unreachable"], 12),
    ("real-podman-platform-mismatch.log", ["registry-unreachable"], 3),
    ("real-suid-with-C-flag-control.log", [], None),   # C flag set: su runs setuid and asks for a password
    ("real-legacy-platform-ignored.log", [], None),    # a successful build; its `\r\r` progress is no CRLF script
]


@pytest.mark.parametrize("name, keys, line", REAL, ids=[r[0] for r in REAL])
def test_each_real_log_names_the_cause_that_produced_it(name, keys, line):
    if not (LOGS / name).exists():
        pytest.skip(f"{name} not captured on this checkout")
    got = _diagnose(name)
    assert [c.key for c in got.causes] == keys
    if line is not None:
        assert got.causes[0].line == line


def test_real_no_c_flag_evidence_and_oom_evidence():
    for name, evidence in (("real-no-C-flag.log", "su: must be suid to work properly"), ("real-oom.log", "Killed")):
        if (LOGS / name).exists():
            assert _diagnose(name).causes[0].evidence == evidence


@pytest.mark.parametrize("text, key", [
    ("#7 1.2 exec /bin/sh: exec format error", "exec-format"),
    ("/bin/bash^M: bad interpreter: No such file or directory", "exec-format"),
    ("exec /app/server: exec format error", "exec-format"),
    ("#5 [linux/arm64 2/3] RUN make\n#5 4.1 Illegal instruction (core dumped)", "qemu-crash"),
    ("qemu: uncaught target signal 4 (Illegal instruction) - core dumped", "qemu-crash"),
    ("su: must be suid to work properly", "no-C-flag"),
    ("ERROR: multiple platforms feature is currently not supported for docker driver. Please switch to a different "
     "driver (eg. \"docker buildx create --use\")", "docker-driver-multiplatform"),
    ("Error: error creating build container: no image found in manifest list for architecture arm64, variant \"v8\", "
     "OS linux", "podman-no-image-in-list"),
    ("failed to set up container networking: network bridge not found", "network-endpoint"),
    ("The command '/bin/sh -c make' returned a non-zero code: 137", "out-of-memory"),
    ("State: OOMKilled", "out-of-memory"),
    ("failed to do request: Head \"https://ghcr.io/v2/org/base/manifests/1\": dial tcp 140.82.121.34:443: i/o timeout",
     "registry-unreachable"),
])
def test_one_line_variants(text, key):
    assert [c.key for c in classify(text).causes] == [key]


def test_exec_format_subcases_are_told_apart():
    assert "/app/server is a binary for another architecture" in classify(
        "exec /app/server: exec format error").causes[0].title
    assert "CRLF" in classify("/bin/bash^M: bad interpreter: No such file or directory").causes[0].title


def test_a_crash_without_any_sign_of_emulation_is_not_blamed_on_qemu():
    assert classify("Segmentation fault (core dumped)\nmake: *** [all] Error 139").causes == ()


def test_no_platform_match_names_the_image_and_platform():
    got = classify("#3 [linux/arm64 internal] load metadata\nERROR: failed to solve: localbase:1: failed to resolve "
                   "source metadata for docker.io/library/localbase:1: no match for platform in manifest: not found")
    cause = got.causes[0]
    assert cause.key == "no-platform-match" and cause.line == 2
    assert "docker pull --platform linux/arm64 docker.io/library/localbase:1" in cause.remedy


def test_several_causes_come_most_specific_first():
    text = ("ERROR: failed to do request: Head \"https://registry-1.docker.io/v2/x/manifests/1\": dial tcp: lookup "
            "registry-1.docker.io on 1.1.1.1:53: no such host\n#6 0.1 exec /bin/sh: exec format error")
    assert [(c.key, c.line) for c in classify(text).causes] == [("exec-format", 2), ("registry-unreachable", 1)]


def test_tail_keeps_the_last_five_error_lines_only_when_nothing_is_known():
    text = "\n".join(f"error {i}" for i in range(9)) + "\nall good\n"
    assert classify(text) == Diagnosis((), ("error 4", "error 5", "error 6", "error 7", "error 8"))
    assert classify("") == Diagnosis((), ())


def test_huge_and_binary_input_is_bounded_and_keeps_true_line_numbers():
    text = "x\n" * 3_000_000 + "exec /bin/sh: exec format error\n"
    started = time.monotonic()
    got = classify(text)
    assert time.monotonic() - started < 10
    assert got.causes[0].line == 3_000_001
    assert classify(bytes(range(256)).decode("latin-1") * 1000).causes == ()


def test_cause_is_frozen():
    cause = classify("OOMKilled").causes[0]
    assert isinstance(cause, Cause)
    with pytest.raises(AttributeError):
        cause.key = "x"  # type: ignore[misc]


def test_why_prints_cause_evidence_and_remedy(capsys):
    code, out, err = run(capsys, "why", str(LOGS / "no-C-flag.log"))
    assert code == 0 and err == ""
    assert out.splitlines()[1] == "  evidence (line 3): sudo: effective uid is not 0, is /usr/bin/sudo on a file " \
        "system with the 'nosuid' option set or an NFS file system without root privileges?"
    assert out.splitlines()[2].startswith("  → without C")


def test_why_escapes_control_characters(capsys):
    code, out, _ = run(capsys, "why", str(LOGS / "exec-format-crlf.log"))
    assert code == 0 and "\r" not in out and "'sh\\x0d'" in out


def test_why_without_a_known_cause_exits_1_with_the_tail(capsys):
    code, out, _ = run(capsys, "why", str(LOGS / "unrelated-go-compile.log"))
    assert code == 1 and out.startswith("no known cause") and "ERROR: failed to solve" in out


def test_why_json(capsys):
    code, out, _ = run(capsys, "why", str(LOGS / "out-of-memory.log"), "--format", "json")
    data = json.loads(out)
    assert code == 0 and set(data) == {"schema", "causes", "tail"} and data["schema"] == "mab-doctor/why/v1"
    assert set(data["causes"][0]) == {"key", "title", "evidence", "line", "remedy"}
    assert (data["causes"][0]["key"], data["causes"][0]["line"], data["tail"]) == ("out-of-memory", 4, [])
    code, out, _ = run(capsys, "why", str(LOGS / "unrelated-go-compile.log"), "--format", "json")
    assert code == 1 and json.loads(out)["causes"] == [] and len(json.loads(out)["tail"]) == 2


@pytest.mark.parametrize("argv", [["why"], ["why", "-"]])
def test_why_reads_standard_input(capsys, monkeypatch, argv):
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"#4 0.2 OOMKilled\n")))
    code, out, _ = run(capsys, *argv)
    assert code == 0 and "evidence (line 1): OOMKilled" in out


def test_why_refuses_an_unreadable_file_in_one_line(capsys, tmp_path):
    for target, phrase in ((tmp_path / "missing.log", "No such file"), (tmp_path, "a directory")):
        code, out, err = run(capsys, "why", str(target))
        assert code == 2 and out == "" and err.count("\n") == 1 and phrase in err
    code, _, err = run(capsys, "why", "a.log", "b.log")
    assert code == 2 and err.count("\n") == 1


def test_why_counts_the_lines_before_the_last_4_mib(capsys, tmp_path):
    log = tmp_path / "big.log"
    log.write_bytes(b"compiling...\n" * 700_000 + b"#9 1.0 exec /bin/sh: exec format error\n")
    code, out, _ = run(capsys, "why", str(log), "--format", "json")
    assert code == 0 and json.loads(out)["causes"][0]["line"] == 700_001


def test_help_why(capsys):
    code, out, _ = run(capsys, "help", "why")
    assert code == 0 and out.startswith("usage: mab-doctor why") and "LOGFILE" in out


def test_a_device_is_refused_and_an_endless_stream_is_cut(capsys, monkeypatch):
    import io
    import sys

    from mab_doctor.commands import why

    assert main(["why", "/dev/zero"]) == 2
    assert capsys.readouterr().err.strip().endswith("/dev/zero: a device or socket, not a log")

    class Endless(io.RawIOBase):
        def readable(self):
            return True

        def readinto(self, buffer):
            buffer[:] = b"x" * len(buffer)
            return len(buffer)

    monkeypatch.setattr(why, "MAX_TOTAL", 8 * 1024 * 1024)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BufferedReader(Endless())))
    assert main(["why", "-"]) == 1  # read 8 MiB, kept the last 4, found nothing: it ended
    assert "no known cause" in capsys.readouterr().out
