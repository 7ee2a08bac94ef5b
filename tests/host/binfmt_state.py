"""Snapshot and exact restore of this machine's binfmt_misc state, for host tests."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field

from mab_doctor.emulation.binfmt import MOUNT_POINT, SPECIAL_FILES, parse_entry


@dataclass
class BinfmtState:
    """Whether binfmt_misc is mounted, its global status, and every entry's exact text."""

    mounted: bool
    status: str | None
    entries: dict[str, str] = field(default_factory=dict)


def is_mounted() -> bool:
    return os.path.exists(f"{MOUNT_POINT}/status")


def snapshot() -> BinfmtState:
    if not is_mounted():
        return BinfmtState(False, None)
    entries = {n: open(f"{MOUNT_POINT}/{n}").read() for n in sorted(os.listdir(MOUNT_POINT))
               if n not in SPECIAL_FILES}
    return BinfmtState(True, open(f"{MOUNT_POINT}/status").read().strip(), entries)


def write(path: str, text: str) -> None:
    with open(path, "w") as fh:
        fh.write(text)


def mount() -> None:
    if not is_mounted():
        subprocess.run(["mount", "-t", "binfmt_misc", "binfmt_misc", MOUNT_POINT], check=True)


def unmount() -> None:
    # On this kernel unmounting drops every entry; callers snapshot first.
    if is_mounted():
        subprocess.run(["umount", MOUNT_POINT], check=True)


def register_line(line: str) -> None:
    write(f"{MOUNT_POINT}/register", line)


def restore(state: BinfmtState) -> None:
    """Put binfmt_misc back exactly as ``state`` recorded it, and prove it."""
    mount()
    now = snapshot()
    for name, text in now.entries.items():
        if state.entries.get(name) != text:
            write(f"{MOUNT_POINT}/{name}", "-1")
    for name, text in state.entries.items():
        if name not in now.entries or now.entries[name] != text:
            entry = parse_entry(name, text)
            register_line(entry.register_string())
            if not entry.enabled:
                write(f"{MOUNT_POINT}/{name}", "0")
    if state.mounted:
        write(f"{MOUNT_POINT}/status", "1" if state.status == "enabled" else "0")
    else:
        write(f"{MOUNT_POINT}/status", "-1")  # removes every entry
        unmount()
    after = snapshot()
    assert after == state, f"binfmt_misc not restored: {after} != {state}"


BINFMT_D = ("/etc/binfmt.d", "/run/binfmt.d", "/usr/local/lib/binfmt.d", "/usr/lib/binfmt.d")


def replay_binfmt_d() -> list[str]:
    """Register every binfmt.d line the way systemd-binfmt does at boot: files sorted by name, an
    earlier directory masking the same name, an existing entry of the same name removed first."""
    files: dict[str, str] = {}
    for folder in BINFMT_D:
        for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
            if name.endswith(".conf"):
                files.setdefault(name, f"{folder}/{name}")
    registered = []
    for name in sorted(files):
        for line in open(files[name]).read().splitlines():
            if not line.strip() or line[0] in "#;":
                continue
            entry = line[1:].split(line[0])[0]
            if os.path.exists(f"{MOUNT_POINT}/{entry}"):
                write(f"{MOUNT_POINT}/{entry}", "-1")
            register_line(line.strip())
            registered.append(entry)
    return registered


def entries_text() -> dict[str, str]:
    """Every entry's exact text right now."""
    return snapshot().entries
