"""binfmt-kernel: /proc/filesystems, then the kernel config and module files, on synthetic trees."""

import gzip

from mab_doctor.checks.binfmt_kernel import binfmt_kernel
from mab_doctor.core.model import Status


def host(make_host, base_host, release="6.1.0-13-amd64", targets="linux/amd64,linux/arm64", **files):
    return make_host({**base_host, "/proc/sys/kernel/osrelease": release + "\n", **files}, targets=targets)


def test_binfmt_kernel_listed(make_host, base_host):
    res = binfmt_kernel(host(make_host, base_host, **{"/proc/filesystems": "nodev\tproc\nnodev\tbinfmt_misc\n"}))
    assert res.status is Status.OK and res.fix is None


def test_binfmt_kernel_module_not_loaded_from_config_gz(make_host, base_host):
    config = gzip.compress(b"CONFIG_BINFMT_SCRIPT=y\nCONFIG_BINFMT_MISC=m\n")
    res = binfmt_kernel(host(make_host, base_host, **{"/proc/filesystems": "nodev\tproc\n", "/proc/config.gz": config}))
    assert res.status is Status.WARN and "module that is not loaded" in res.summary
    assert res.fix.commands == (("modprobe", "binfmt_misc"),) and res.fix.needs_root


def test_binfmt_kernel_built_without(make_host, base_host):
    files = {"/proc/filesystems": "nodev\tproc\n",
             "/boot/config-6.1.0-13-amd64": "# CONFIG_BINFMT_MISC is not set\n"}
    res = binfmt_kernel(host(make_host, base_host, **files))
    assert res.status is Status.FAIL and "built without binfmt_misc" in res.summary
    native_only = binfmt_kernel(host(make_host, base_host, targets="linux/amd64", **files))
    assert native_only.status is Status.WARN


def test_binfmt_kernel_truncated_config_gz_is_not_a_crash(make_host, base_host):
    files = {"/proc/filesystems": "nodev\tproc\n", "/proc/config.gz": gzip.compress(b"CONFIG_X=y\n" * 50)[:20]}
    res = binfmt_kernel(host(make_host, base_host, **files))
    assert res.status is Status.FAIL and "no kernel config found" in res.details


def test_binfmt_kernel_unreadable_filesystems(make_host, base_host):
    res = binfmt_kernel(host(make_host, base_host, **{"/proc/filesystems/x": ""}))
    assert res.status is Status.WARN and "cannot read /proc/filesystems" in res.summary


def test_a_fifo_at_proc_filesystems_is_a_warning_not_a_hang(make_host, base_host):
    import os

    ctx = host(make_host, base_host)
    os.mkfifo(ctx.path("/proc/filesystems"))
    res = binfmt_kernel(ctx)
    assert res.status is Status.WARN and res.details == ("/proc/filesystems: a FIFO, not a regular file: not read",)


def test_a_config_gz_inflating_past_the_limit_is_cut_there(make_host, base_host):
    from mab_doctor.checks.binfmt_kernel import CONFIG_TEXT_LIMIT

    bomb = gzip.compress(b"#" * (CONFIG_TEXT_LIMIT + 1) + b"\nCONFIG_BINFMT_MISC=m\n")
    files = {"/proc/filesystems": "nodev\tproc\n", "/proc/config.gz": bomb}
    res = binfmt_kernel(host(make_host, base_host, **files))
    assert res.data["config"] is None and "no kernel config found" in res.details
