"""binfmt-kernel: /proc/filesystems, then the kernel config and module files, on synthetic trees."""

import gzip
import random

import pytest

from mab_doctor.checks.binfmt_kernel import binfmt_kernel, kernel_config_value
from mab_doctor.core.model import Status


def host(make_host, base_host, release="6.1.0-13-amd64", targets="linux/amd64,linux/arm64", **files):
    return make_host({**base_host, "/proc/sys/kernel/osrelease": release + "\n", **files}, targets=targets)


def test_binfmt_kernel_listed(make_host, base_host):
    res = binfmt_kernel(host(make_host, base_host, **{"/proc/filesystems": "nodev\tproc\nnodev\tbinfmt_misc\n"}))
    assert res.status is Status.OK and res.fix is None
    assert res.summary == "binfmt_misc is available (listed in /proc/filesystems)" and res.data == {"needed": True}


@pytest.mark.parametrize("filesystems", ["nodev\tbinfmt_misc_old\n", "nodev\tnotbinfmt_misc\n", "nodev\tproc\n"])
def test_binfmt_kernel_wants_the_whole_word_on_its_own_line(make_host, base_host, filesystems):
    res = binfmt_kernel(host(make_host, base_host, **{"/proc/filesystems": filesystems}))
    assert res.status is Status.FAIL and res.summary == "binfmt_misc is not available in this kernel"


def test_binfmt_kernel_module_not_loaded_from_config_gz(make_host, base_host):
    config = gzip.compress(b"CONFIG_BINFMT_SCRIPT=y\nCONFIG_BINFMT_MISC=m\n")
    res = binfmt_kernel(host(make_host, base_host, **{"/proc/filesystems": "nodev\tproc\n", "/proc/config.gz": config}))
    assert res.status is Status.WARN and res.summary == "binfmt_misc is a module that is not loaded yet"
    assert res.fix.commands == (("modprobe", "binfmt_misc"),) and res.fix.needs_root
    assert res.remediation == "Load it: `sudo modprobe binfmt_misc` (mounting binfmt_misc also loads it)."
    assert res.details == ("/proc/filesystems has no binfmt_misc line", "CONFIG_BINFMT_MISC=m in /proc/config.gz",
                           "module file: not found under /lib/modules/6.1.0-13-amd64")
    assert res.data == {"needed": True, "config": "m"}


@pytest.mark.parametrize("name", ["binfmt_misc.ko", "binfmt_misc.ko.xz", "binfmt_misc.ko.zst", "binfmt_misc.ko.gz"])
def test_binfmt_kernel_module_file_without_a_config(make_host, base_host, name):
    module = f"/lib/modules/6.1.0-13-amd64/kernel/fs/{name}"
    res = binfmt_kernel(host(make_host, base_host, **{"/proc/filesystems": "nodev\tproc\n", module: "x"}))
    assert res.status is Status.WARN and res.summary == "binfmt_misc is a module that is not loaded yet"
    assert res.details == ("/proc/filesystems has no binfmt_misc line", "no kernel config found",
                           f"module file: {module}")


def test_binfmt_kernel_module_of_another_release_does_not_count(make_host, base_host):
    files = {"/proc/filesystems": "nodev\tproc\n", "/lib/modules/5.10.0/kernel/fs/binfmt_misc.ko": "x"}
    res = binfmt_kernel(host(make_host, base_host, **files))
    assert res.status is Status.FAIL and res.summary == "binfmt_misc is not available in this kernel"


def test_binfmt_kernel_module_not_needed_for_native_targets(make_host, base_host):
    files = {"/proc/filesystems": "nodev\tproc\n", "/boot/config-6.1.0-13-amd64": "CONFIG_BINFMT_MISC=m\n"}
    res = binfmt_kernel(host(make_host, base_host, targets="linux/amd64", **files))
    assert res.status is Status.OK and res.fix is None
    assert res.summary == "binfmt_misc is a module, not loaded, and not needed: every target runs natively"
    assert res.data == {"needed": False, "config": "m"}


def test_binfmt_kernel_built_in_but_not_listed(make_host, base_host):
    files = {"/proc/filesystems": "nodev\tproc\n", "/boot/config-6.1.0-13-amd64": "CONFIG_BINFMT_MISC=y\n"}
    res = binfmt_kernel(host(make_host, base_host, **files))
    assert res.status is Status.FAIL and res.summary == "binfmt_misc is not available in this kernel"
    assert res.remediation == ("Try `sudo modprobe binfmt_misc`; if that fails, boot a kernel with "
                               "CONFIG_BINFMT_MISC.")
    assert res.fix.commands == (("modprobe", "binfmt_misc"),)
    assert res.details == ("/proc/filesystems has no binfmt_misc line",
                           "CONFIG_BINFMT_MISC=y in /boot/config-6.1.0-13-amd64")
    native_only = binfmt_kernel(host(make_host, base_host, targets="linux/amd64", **files))
    assert native_only.status is Status.WARN and native_only.summary == "binfmt_misc is not available in this kernel"


@pytest.mark.parametrize("files, found", [
    ({"/proc/config.gz": gzip.compress(b"CONFIG_BINFMT_MISC=y\n"), "/boot/config-R": "CONFIG_BINFMT_MISC=m\n"},
     ("y", "/proc/config.gz")),
    ({"/proc/config.gz": b"not gzip", "/boot/config-R": "CONFIG_BINFMT_MISC=m\n"}, ("m", "/boot/config-R")),
    ({"/proc/config.gz": gzip.compress(b"CONFIG_OTHER=y\n"), "/boot/config-R": "# CONFIG_BINFMT_MISC is not set\n"},
     ("n", "/boot/config-R")),
    ({"/boot/config-R": "CONFIG_BINFMT_MISC=y2\nCONFIG_BINFMT_MISC=n\n # CONFIG_BINFMT_MISC is not set\n"},
     (None, None)),
    ({"/boot/config-S": "CONFIG_BINFMT_MISC=y\n"}, (None, None)),
    ({}, (None, None)),
])
def test_kernel_config_value_sources_in_order(make_host, files, found):
    assert kernel_config_value(make_host(files), "R") == found


def test_kernel_config_value_reads_the_first_four_mib_only(make_host):
    line = "\nCONFIG_BINFMT_MISC=m\n"
    assert kernel_config_value(make_host({"/boot/config-R": "#" * (4 * 1024 * 1024 - 30) + line}), "R") == (
        "m", "/boot/config-R")
    assert kernel_config_value(make_host({"/boot/config-R": "#" * (4 * 1024 * 1024) + line}), "R") == (None, None)


def test_binfmt_kernel_built_without(make_host, base_host):
    files = {"/proc/filesystems": "nodev\tproc\n",
             "/boot/config-6.1.0-13-amd64": "# CONFIG_BINFMT_MISC is not set\n"}
    res = binfmt_kernel(host(make_host, base_host, **files))
    assert res.status is Status.FAIL
    assert res.summary == "kernel built without binfmt_misc (CONFIG_BINFMT_MISC is not set)"
    assert res.remediation == "Boot a kernel built with CONFIG_BINFMT_MISC=y or =m." and res.fix is None
    assert res.details == ("/proc/filesystems has no binfmt_misc line",
                           "CONFIG_BINFMT_MISC=n in /boot/config-6.1.0-13-amd64")
    native_only = binfmt_kernel(host(make_host, base_host, targets="linux/amd64", **files))
    assert native_only.status is Status.WARN
    assert native_only.summary == "kernel built without binfmt_misc (CONFIG_BINFMT_MISC is not set)"


def test_binfmt_kernel_built_without_wins_over_a_stray_module_file(make_host, base_host):
    files = {"/proc/filesystems": "nodev\tproc\n", "/boot/config-6.1.0-13-amd64": "# CONFIG_BINFMT_MISC is not set\n",
             "/lib/modules/6.1.0-13-amd64/kernel/fs/binfmt_misc.ko": "x"}
    res = binfmt_kernel(host(make_host, base_host, **files))
    assert res.status is Status.FAIL
    assert res.summary == "kernel built without binfmt_misc (CONFIG_BINFMT_MISC is not set)"


def test_binfmt_kernel_truncated_config_gz_is_not_a_crash(make_host, base_host):
    files = {"/proc/filesystems": "nodev\tproc\n", "/proc/config.gz": gzip.compress(b"CONFIG_X=y\n" * 50)[:20]}
    res = binfmt_kernel(host(make_host, base_host, **files))
    assert res.status is Status.FAIL and res.details == ("/proc/filesystems has no binfmt_misc line",
                                                         "no kernel config found")


def test_binfmt_kernel_unreadable_filesystems(make_host, base_host):
    res = binfmt_kernel(host(make_host, base_host, **{"/proc/filesystems/x": ""}))
    assert res.status is Status.WARN and res.summary == "cannot read /proc/filesystems"
    assert res.remediation == "Run mab-doctor where /proc is mounted and readable." and res.data == {"needed": True}


def test_a_fifo_at_proc_filesystems_is_a_warning_not_a_hang(make_host, base_host):
    import os

    ctx = host(make_host, base_host)
    os.mkfifo(ctx.path("/proc/filesystems"))
    res = binfmt_kernel(ctx)
    assert res.status is Status.WARN and res.details == ("/proc/filesystems: a FIFO, not a regular file: not read",)


def test_a_config_gz_inflating_past_the_limit_is_cut_there(make_host, base_host):
    limit = 16 * 1024 * 1024
    bomb = gzip.compress(b"#" * (limit + 1) + b"\nCONFIG_BINFMT_MISC=m\n")
    files = {"/proc/filesystems": "nodev\tproc\n", "/proc/config.gz": bomb}
    res = binfmt_kernel(host(make_host, base_host, **files))
    assert res.data["config"] is None and "no kernel config found" in res.details
    within = gzip.compress(b"#" * (limit - 30) + b"\nCONFIG_BINFMT_MISC=m\n")
    res = binfmt_kernel(host(make_host, base_host, **{**files, "/proc/config.gz": within}))
    assert res.data["config"] == "m"


def test_kernel_config_value_inflates_with_the_full_gzip_window(make_host):
    # The same 20000 characters twice: the copy refers back further than a 16 KiB window reaches.
    block = random.Random(7).randbytes(10000).hex().encode()
    config = gzip.compress(block + b"\n" + block + b"\nCONFIG_BINFMT_MISC=m\n")
    assert kernel_config_value(make_host({"/proc/config.gz": config}), "R") == ("m", "/proc/config.gz")


def test_the_declaration():
    c = binfmt_kernel
    assert (c.name, c.title, c.category, c.requires, c.per_target, c.fixable) == (
        "binfmt-kernel", "binfmt_misc kernel support", "kernel", (), False, True)
    assert c.doc.startswith("What it checks: ")
