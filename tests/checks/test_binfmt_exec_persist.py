"""binfmt-exec classification and probes; binfmt-persist on synthetic trees."""

import errno

import pytest

from mab_doctor.checks.binfmt_exec import binfmt_exec, classify
from mab_doctor.checks.binfmt_persist import binfmt_persist
from mab_doctor.core.context import CommandResult
from mab_doctor.core.model import Status
from mab_doctor.host.platforms import PLATFORMS, parse_platform
from mab_doctor.emulation.probes import EXIT_CODE, build_probe, has_probe
from elfbuild import build_elf
from test_binfmt_handlers import DEBIAN_AARCH64, entry_text, tree


@pytest.mark.parametrize("res, label", [
    (CommandResult(("p",), EXIT_CODE), "ran"),
    (CommandResult(("p",), error="Exec format error", errno=errno.ENOEXEC), "ENOEXEC"),
    (CommandResult(("p",), missing=True, errno=errno.ENOENT), "ENOENT"),
    (CommandResult(("p",), -11), "signal 11"), (CommandResult(("p",), 3), "exit 3"),
    (CommandResult(("p",), timed_out=True, timeout=1), "timeout"),
    (CommandResult(("chroot",), 127, stderr="chroot: failed to run command '/probe': No such file or directory"),
     "ENOENT"),
    (CommandResult(("chroot",), 126, stderr="chroot: failed to run command '/probe': Permission denied"), "EACCES"),
    (CommandResult(("chroot",), 127, stderr="other"), "exit 127"),
    (CommandResult(("py",), refused=True), "not run"),
])
def test_classify(res, label):
    assert classify(res) == label


def test_probes_exist_for_the_required_targets_and_parse():
    from mab_doctor.host.elf import parse_header

    for oci in ("linux/amd64", "linux/386", "linux/arm64", "linux/arm/v7", "linux/arm/v6", "linux/riscv64",
                "linux/ppc64le", "linux/s390x", "linux/mips64le"):
        platform = parse_platform(oci).platform
        assert has_probe(platform)
        header = parse_header(build_probe(platform))
        assert (header.machine, header.elf_class, header.endian, header.e_type, header.interpreter) == (
            platform.elf_machine, platform.elf_class, platform.endian, 2, None)
    assert sum(has_probe(p) for p in PLATFORMS) >= 9


def test_exec_skips_on_a_foreign_root(make_host):
    results = binfmt_exec(make_host(tree({}), targets="linux/arm64,linux/amd64"))
    assert [r.status for r in results] == [Status.SKIP, Status.SKIP]
    assert "live host" in results[0].summary


PERSIST = {"/usr/lib/systemd/systemd": build_elf("x86_64"), "/usr/lib/systemd/systemd-binfmt": build_elf("x86_64")}


def persist(make_host, files, target="linux/arm64"):
    (res,) = binfmt_persist(make_host(files, targets=target))
    return res


def test_persisted_with_f_by_systemd(make_host):
    files = tree({"qemu-aarch64": entry_text(DEBIAN_AARCH64)},
                 **PERSIST, **{"/usr/lib/binfmt.d/qemu-aarch64.conf": DEBIAN_AARCH64 + "\n"})
    res = persist(make_host, files)
    assert res.status is Status.OK and "/usr/lib/binfmt.d/qemu-aarch64.conf" in res.summary


def test_etc_masks_usr_lib_and_lacks_f(make_host):
    no_f = DEBIAN_AARCH64.replace(":OPF", ":OP")
    files = tree({"qemu-aarch64": entry_text(DEBIAN_AARCH64)}, **PERSIST,
                 **{"/usr/lib/binfmt.d/qemu-aarch64.conf": DEBIAN_AARCH64 + "\n",
                    "/etc/binfmt.d/qemu-aarch64.conf": "# local override\n" + no_f + "\n"})
    res = persist(make_host, files)
    assert res.status is Status.WARN and "without the F flag" in res.summary
    (action,) = res.fix.actions
    assert action.kind == "persist" and action.subject == "/etc/binfmt.d/qemu-aarch64.conf"
    assert action.line.endswith(":POF")


def test_only_in_the_running_kernel(make_host):
    res = persist(make_host, tree({"qemu-aarch64": entry_text(DEBIAN_AARCH64)}, **PERSIST))
    assert res.status is Status.WARN and "only in the running kernel" in res.summary and res.fix


def test_stored_but_no_init_replays_it(make_host):
    files = tree({"qemu-aarch64": entry_text(DEBIAN_AARCH64)},
                 **{"/usr/lib/binfmt.d/qemu-aarch64.conf": DEBIAN_AARCH64 + "\n"})
    res = persist(make_host, files)
    assert res.status is Status.WARN and "nothing replays handlers at boot" in res.summary and res.fix is None
    assert "binfmt.d has it with F" in res.summary


def test_binfmt_support_admin_file_counts(make_host):
    admin = ("qemu-user-static\nmagic\n0\n\\x7f\\x45\\x4c\\x46\\x02\\x01\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00"
             "\\x00\\x00\\x02\\x00\\xb7\\x00\n\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\x00\\xff\\xff\\xff\\xff\\xff\\xff"
             "\\xff\\xff\\xfe\\xff\\xff\\xff\n/usr/libexec/qemu-binfmt/aarch64-binfmt-P\n\nno\nyes\nyes\n")
    files = tree({"qemu-aarch64": entry_text(DEBIAN_AARCH64)}, **PERSIST,
                 **{"/var/lib/binfmts/qemu-aarch64": admin,
                    "/etc/systemd/system/multi-user.target.wants/binfmt-support.service": ""})
    res = persist(make_host, files)
    assert res.status is Status.OK and "binfmt-support" in res.summary


def test_no_handler_means_nothing_to_persist(make_host):
    assert persist(make_host, tree({}, **PERSIST)).status is Status.SKIP
