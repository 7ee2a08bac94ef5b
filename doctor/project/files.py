"""The door to the project's files: regular files only, bounded, never outside the project directory."""

from __future__ import annotations

from pathlib import Path

from mab_doctor.core.hostfs import HostFS

LIMIT = 1 << 20  # 1 MiB: no real bake, compose, workflow or Dockerfile comes near it


class ProjectFiles:
    """Reads under one project directory. Paths are project-relative ("compose.yaml",
    ".github/workflows/ci.yml"); symlinks are followed only as far as they stay inside the project
    (the same confinement as a foreign --root), FIFOs and devices are refused, sizes are bounded."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        # The project is never the machine's '/': confine even then, so a link cannot lead out.
        self._fs = HostFS(self.directory)
        self._fs.confined = True

    def kind(self, relative: str) -> str:
        """'file', 'directory', 'missing', 'dangling symlink', 'FIFO', 'error' ... (never raises)."""
        return self._fs.lookup("/" + relative.lstrip("/")).kind

    def read_text(self, relative: str, limit: int = LIMIT) -> tuple[str | None, str | None]:
        """(text, None) or (None, a one-line reason). The reason does not repeat the file's name: it goes
        into a Problem that already names it. Undecodable UTF-8 is a reason."""
        inside = "/" + relative.lstrip("/")
        got = self._fs.read(inside, limit, whole=True)
        if got.data is None:
            return None, (got.reason or "not read").removeprefix(f"{inside}: ")
        try:
            return got.data.decode("utf-8"), None
        except UnicodeDecodeError as exc:
            return None, f"not UTF-8 text (byte {exc.start}): not read"

    def listdir(self, relative: str = "") -> tuple[list[str], str | None]:
        """(sorted entry names, None) or ([], why)."""
        names, why = self._fs.listdir("/" + relative.strip("/"))
        return sorted(names), why
