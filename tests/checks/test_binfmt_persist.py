"""binfmt-persist on synthetic trees: binfmt.d masking, the F flag, binfmt-support, boot-time replay."""

from elfbuild import build_elf
from helpers import DEBIAN_AARCH64, entry_text
from mab_doctor.checks.binfmt_persist import binfmt_persist
from mab_doctor.core.model import Status

PERSIST = {"/usr/lib/systemd/systemd": build_elf("x86_64"), "/usr/lib/systemd/systemd-binfmt": build_elf("x86_64")}


def persist(make_host, files, target="linux/arm64"):
    (res,) = binfmt_persist(make_host(files, targets=target))
    return res


def test_persisted_with_f_by_systemd(make_host, binfmt_tree):
    files = binfmt_tree({"qemu-aarch64": entry_text(DEBIAN_AARCH64)},
                        **PERSIST, **{"/usr/lib/binfmt.d/qemu-aarch64.conf": DEBIAN_AARCH64 + "\n"})
    res = persist(make_host, files)
    assert res.status is Status.OK and "/usr/lib/binfmt.d/qemu-aarch64.conf" in res.summary


def test_etc_masks_usr_lib_and_lacks_f(make_host, binfmt_tree):
    no_f = DEBIAN_AARCH64.replace(":OPF", ":OP")
    files = binfmt_tree({"qemu-aarch64": entry_text(DEBIAN_AARCH64)}, **PERSIST,
                        **{"/usr/lib/binfmt.d/qemu-aarch64.conf": DEBIAN_AARCH64 + "\n",
                    "/etc/binfmt.d/qemu-aarch64.conf": "# local override\n" + no_f + "\n"})
    res = persist(make_host, files)
    assert res.status is Status.WARN and "without the F flag" in res.summary
    (action,) = res.fix.actions
    assert action.kind == "persist" and action.subject == "/etc/binfmt.d/qemu-aarch64.conf"
    assert action.line.endswith(":POF")


def test_only_in_the_running_kernel(make_host, binfmt_tree):
    res = persist(make_host, binfmt_tree({"qemu-aarch64": entry_text(DEBIAN_AARCH64)}, **PERSIST))
    assert res.status is Status.WARN and "only in the running kernel" in res.summary and res.fix


def test_stored_but_no_init_replays_it(make_host, binfmt_tree):
    files = binfmt_tree({"qemu-aarch64": entry_text(DEBIAN_AARCH64)},
                        **{"/usr/lib/binfmt.d/qemu-aarch64.conf": DEBIAN_AARCH64 + "\n"})
    res = persist(make_host, files)
    assert res.status is Status.WARN and "nothing replays handlers at boot" in res.summary and res.fix is None
    assert "binfmt.d has it with F" in res.summary


def test_binfmt_support_admin_file_counts(make_host, binfmt_tree):
    admin = ("qemu-user-static\nmagic\n0\n\\x7f\\x45\\x4c\\x46\\x02\\x01\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00"
             "\\x00\\x00\\x02\\x00\\xb7\\x00\n\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\x00\\xff\\xff\\xff\\xff\\xff\\xff"
             "\\xff\\xff\\xfe\\xff\\xff\\xff\n/usr/libexec/qemu-binfmt/aarch64-binfmt-P\n\nno\nyes\nyes\n")
    files = binfmt_tree({"qemu-aarch64": entry_text(DEBIAN_AARCH64)}, **PERSIST,
                        **{"/var/lib/binfmts/qemu-aarch64": admin,
                    "/etc/systemd/system/multi-user.target.wants/binfmt-support.service": ""})
    res = persist(make_host, files)
    assert res.status is Status.OK and "binfmt-support" in res.summary


def test_no_handler_means_nothing_to_persist(make_host, binfmt_tree):
    assert persist(make_host, binfmt_tree({}, **PERSIST)).status is Status.SKIP
