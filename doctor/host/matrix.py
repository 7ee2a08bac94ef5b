"""The compatibility matrix: loads doctor/data/matrix.json; checks read thresholds from here."""

from __future__ import annotations

import json
import os
import re
from functools import lru_cache
from typing import Any

from mab_doctor import DATA_DIR
from mab_doctor.core.record import record

_VERSION_RE = re.compile(r"(\d+(?:\.\d+)*)")
MATRIX_FILE = os.path.join(DATA_DIR, "matrix.json")


def parse_version(text: str | None) -> tuple[int, ...] | None:
    """Leading numeric part of a version: '1:7.2+dfsg-7' -> (7, 2); '6.1.0-13-amd64' -> (6, 1, 0)."""
    if not text:
        return None
    text = text.strip()
    text = text.split(":", 1)[1] if re.match(r"^\d+:", text) else text  # Debian epoch
    text = text.lstrip("vV")
    m = _VERSION_RE.match(text)
    return tuple(int(x) for x in m.group(1).split(".")) if m else None


def version_lt(a: str, b: str) -> bool:
    """a < b comparing the numeric parts, missing components counting as 0."""
    pa, pb = parse_version(a), parse_version(b)
    if pa is None or pb is None:
        raise ValueError(f"cannot compare versions {a!r} and {b!r}")
    width = max(len(pa), len(pb))
    return pa + (0,) * (width - len(pa)) < pb + (0,) * (width - len(pb))


@record
class Requirement:
    """One row of the matrix."""

    id: str
    component: str
    minimum: str | None
    maximum_exclusive: str | None
    why: str
    detection: str
    remediation: str
    sources: tuple[str, ...]
    verified: bool
    raw: Any

    @property
    def source(self) -> str:
        """The first source, for one-line citations."""
        return self.sources[0] if self.sources else "no source"


@lru_cache(maxsize=1)
def load() -> dict[str, Any]:
    """The matrix data as shipped in the package."""
    with open(MATRIX_FILE, encoding="utf-8") as fh:
        return json.loads(fh.read())


def requirement(req_id: str) -> Requirement:
    """Look a requirement up by id (KeyError names the id when the data lacks it)."""
    for row in load()["requirements"]:
        if row["id"] == req_id:
            return Requirement(row["id"], row["component"], row.get("minimum"),
                               row.get("maximum_exclusive"), row["why"], row["detection"],
                               row["remediation"], tuple(row.get("sources", ())),
                               bool(row.get("verified")), row)
    raise KeyError(f"matrix has no requirement {req_id!r}")


def known_environment(distro_id: str, version: str) -> dict[str, Any] | None:
    """The known-environment row for a distro release ('ubuntu', '22.04'), matching major versions."""
    for env in load()["known_environments"]:
        if env["distro"] != distro_id:
            continue
        if env["version"] == version or version.split(".")[0] == env["version"]:
            return env
    return None


def covers(entry: dict[str, Any], version: str) -> bool:
    """Whether a known-bad entry covers ``version``: its "version" exactly (missing components count
    as 0), else the range "from" (inclusive) to "before" (exclusive), either end open."""
    if "version" in entry:
        return not version_lt(version, entry["version"]) and not version_lt(entry["version"], version)
    low, high = entry.get("from"), entry.get("before")
    if low is None and high is None:
        return False  # an entry that bounds nothing is a data error, never a match for everything
    return (low is None or not version_lt(version, low)) and (high is None or version_lt(version, high))


def range_label(entry: dict[str, Any]) -> str:
    """How a known-bad entry reads: '9.2.0', '8.1.1 up to 8.2.10 (exclusive)', 'before 7.2.0', '6.9 and
    later', with ' for linux/arm64' when it names targets."""
    if "version" in entry:
        text = entry["version"]
    elif entry.get("from") and entry.get("before"):
        text = f"{entry['from']} up to {entry['before']} (exclusive)"
    elif entry.get("before"):
        text = f"before {entry['before']}"
    else:
        text = f"{entry.get('from')} and later"
    return text + (f" for {', '.join(entry['targets'])}" if entry.get("targets") else "")


def known_bad(req_id: str, version: str | None, target: str | None = None) -> list[dict[str, Any]]:
    """The known-bad entries of requirement ``req_id`` covering ``version`` (and ``target``, for entries
    that name targets); none for an unknown or unreadable version."""
    if not version or parse_version(version) is None:
        return []
    return [bad for bad in requirement(req_id).raw.get("known_bad", [])
            if covers(bad, version) and (target is None or not bad.get("targets") or target in bad["targets"])]
