"""Property-based fuzzing of the build-log classifier: arbitrary text never raises and takes bounded time."""

from __future__ import annotations

import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mab_doctor.engines.failures import MAX_SHOWN, TAIL, Diagnosis, classify

FUZZ = settings(max_examples=200, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow])
# Fragments of the texts the classifier looks for, so examples reach its rules and not only its misses.
FRAGMENTS = ["exec format error", "exec /bin/sh: ", "no such file or directory", "qemu: uncaught target signal ",
             "Segmentation fault", "linux/arm64", "effective uid is not 0", "^M", "\r", "\\r", "#!", "'", ":",
             "no match for platform in manifest", "failed to resolve source metadata for ", "exit code: 137",
             "Killed", "\n", "#12 0.345 ", "\x1b[31m", "\x1b]", "ERROR: ", "dial tcp: lookup ", " no such host",
             "failed to do request: Head \"https://", "no image found in manifest list for architecture ",
             "manifest list docker://", "failed to create shim task", "\x00", "\ud800"]
LOGS = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=30)), max_size=60).map("".join)


@FUZZ
@given(LOGS)
def test_arbitrary_text_never_raises_and_stays_bounded(text):
    started = time.monotonic()
    got = classify(text)
    assert time.monotonic() - started < 2
    assert isinstance(got, Diagnosis) and len(got.tail) <= TAIL
    assert not (got.causes and got.tail)
    lines = text.count("\n") + 1
    for cause in got.causes:
        assert 1 <= cause.line <= lines
        assert len(cause.evidence) <= MAX_SHOWN + 3
        assert not any(ch in cause.evidence for ch in "\x1b\r\x00")


@FUZZ
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=2000))
def test_any_unicode_text_never_raises(text):
    assert isinstance(classify(text), Diagnosis)
