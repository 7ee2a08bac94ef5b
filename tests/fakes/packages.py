"""A fake package manager for FakeHost: installing a package adds its files and, like a Debian
postinst running systemd-binfmt, may register the binfmt.d lines it ships."""

from __future__ import annotations

import errno
from dataclasses import dataclass, field
from typing import Mapping

from fakes.binfmt_kernel import FakeHost
from mab_doctor.fix.writer import RunResult

BINFMT_D = "/usr/lib/binfmt.d/"


@dataclass
class FakePackageManager:
    """`apt-get install -y NAME` (or any argv ending in the package name) on a FakeHost."""

    host: FakeHost
    packages: Mapping[str, Mapping[str, str]]   # package -> {path: content}
    registers_on_install: bool = False          # the postinst registers the package's binfmt.d lines
    installed: list[str] = field(default_factory=list)

    def attach(self, program: str = "apt-get") -> "FakePackageManager":
        """Make ``program`` on the host this package manager."""
        self.host.programs[program] = self
        return self

    def __call__(self, argv: tuple[str, ...]) -> RunResult:
        name = argv[-1]
        if name not in self.packages:
            return RunResult(100, f"E: Unable to locate package {name}")
        for path, text in self.packages[name].items():
            self.host.replace_file(path, text)
        self.installed.append(name)
        if self.registers_on_install:
            for path, text in self.packages[name].items():
                if path.startswith(BINFMT_D):
                    self._register(text.splitlines()[0])
        return RunResult(0)

    def _register(self, line: str) -> None:
        try:
            self.host.register(line)
        except OSError as exc:
            if exc.errno != errno.EEXIST:  # systemd-binfmt leaves a taken name alone
                raise
