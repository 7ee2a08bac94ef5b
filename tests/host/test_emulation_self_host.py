"""emulation-self's signals, seen from inside a real foreign process running under QEMU."""

from __future__ import annotations

import subprocess

import binfmt_state as bs
from mab_doctor.checks.emulation_self import cpuinfo_family, emulation_signals
from mab_doctor.host.platforms import BY_OCI


def test_a_foreign_process_sees_the_real_cpu_but_a_lying_uname(binfmt_guard, busybox_arm64, debian_aarch64_line):
    bs.mount()
    if "qemu-aarch64" not in bs.entries_text():
        bs.register_line(debian_aarch64_line)
    bs.write(f"{bs.MOUNT_POINT}/status", "1")
    inside_cpuinfo = subprocess.run([str(busybox_arm64), "cat", "/proc/cpuinfo"], capture_output=True, text=True,
                                    check=True, timeout=60).stdout
    inside_uname = subprocess.run([str(busybox_arm64), "uname", "-m"], capture_output=True, text=True,
                                  check=True, timeout=60).stdout.strip()
    assert inside_uname == "aarch64"  # QEMU reports the emulated machine: uname alone would say "native"
    host_family = cpuinfo_family(open("/proc/cpuinfo").read())
    assert cpuinfo_family(inside_cpuinfo) == host_family  # ... but the real CPU shows through cpuinfo
    signals = emulation_signals(BY_OCI["linux/arm64"], inside_cpuinfo)
    if host_family != "arm":  # on an arm64 build host arm64 would be native and rightly not flagged
        assert signals and "linux/arm64 ELF" in signals[0]
    assert emulation_signals(BY_OCI["linux/amd64" if host_family == "x86" else "linux/arm64"],
                             open("/proc/cpuinfo").read()) == []
