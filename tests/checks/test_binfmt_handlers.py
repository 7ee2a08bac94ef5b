"""binfmt-handlers on synthetic trees: mask matching, order, flags, interpreters, fixes."""

import pytest

from mab_doctor.checks.binfmt_handlers import binfmt_handlers
from mab_doctor.emulation.binfmt import UPSTREAM, parse_register_line, upstream_line
from mab_doctor.core.model import Status
from elfbuild import build_elf

MP = "/proc/sys/fs/binfmt_misc"
DEBIAN_AARCH64 = (":qemu-aarch64:M::\\x7f\\x45\\x4c\\x46\\x02\\x01\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00"
                  "\\x02\\x00\\xb7\\x00:\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\x00\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff"
                  "\\xfe\\xff\\xff\\xff:/usr/libexec/qemu-binfmt/aarch64-binfmt-P:OPF")


def entry_text(line: str, enabled: bool = True) -> str:
    """What the kernel prints for a registered line."""
    e = parse_register_line(line)
    text = f"{'enabled' if enabled else 'disabled'}\ninterpreter {e.interpreter}\nflags: {e.flags}\n"
    if e.kind == "E":
        return text + f"extension .{e.extension}\n"
    text += f"offset {e.offset}\nmagic {e.magic.hex()}\n"
    return text + (f"mask {e.mask.hex()}\n" if e.mask is not None else "")


def tree(entries: dict, **extra):
    files = {"/proc/sys/kernel/arch": "x86_64\n", "/proc/sys/kernel/osrelease": "6.1.0\n",
             "/etc/os-release": "ID=debian\nVERSION_ID=12\n", "/usr/bin/sh": build_elf("x86_64"), "/bin": "-> usr/bin",
             f"{MP}/status": "enabled\n", f"{MP}/register": "",
             "/usr/bin/qemu-aarch64-static": build_elf("x86_64"),
             "/usr/libexec/qemu-binfmt/aarch64-binfmt-P": "-> ../../bin/qemu-aarch64-static"}
    files.update({f"{MP}/{name}": text for name, text in entries.items()})
    files.update(extra)
    return files


def one(make_host, files, target="linux/arm64"):
    (res,) = binfmt_handlers(make_host(files, targets=target))
    assert res.target == target
    return res


def test_debian_handler_is_ok(make_host):
    res = one(make_host, tree({"qemu-aarch64": entry_text(DEBIAN_AARCH64)}))
    assert res.status is Status.OK and res.summary.startswith("qemu-aarch64 (flags POF")
    assert res.data["handler"]["resolved"] == "/usr/bin/qemu-aarch64-static"


@pytest.mark.parametrize("cpu, target", [("aarch64", "linux/arm64"), ("arm", "linux/arm/v6"),
                                         ("riscv64", "linux/riscv64"), ("ppc64le", "linux/ppc64le"),
                                         ("s390x", "linux/s390x"), ("mips64el", "linux/mips64le")])
def test_upstream_masks_match_their_architecture_only(make_host, cpu, target):
    line = upstream_line(cpu, "/usr/bin/qemu-aarch64-static")
    files = tree({f"qemu-{cpu}": entry_text(line)})
    res = one(make_host, files, target)
    assert res.status is Status.OK and res.data["handler"]["name"] == f"qemu-{cpu}"
    other = "linux/s390x" if cpu != "s390x" else "linux/arm64"
    assert one(make_host, files, other).status is Status.FAIL


def test_debian_ppc64le_mask_differs_from_upstream_but_still_matches(make_host):
    debian = (":qemu-ppc64le:M::" + UPSTREAM["ppc64le"][0] + ":" + UPSTREAM["ppc64le"][1].replace(
        "\\xff\\x00\\xff", "\\xfc\\x00\\xff", 1) + ":/usr/bin/qemu-aarch64-static:OPF")
    assert one(make_host, tree({"qemu-ppc64le": entry_text(debian)}), "linux/ppc64le").status is Status.OK


def test_missing_handler_fails_with_register_fix(make_host):
    res = one(make_host, tree({}))
    assert res.status is Status.FAIL and res.summary == "no binfmt_misc handler for linux/arm64 (qemu-aarch64)"
    (action,) = [a for a in res.fix.actions if a.kind == "register"]
    assert action.line == upstream_line("aarch64", "/usr/bin/qemu-aarch64-static")
    assert res.fix.needs_root and res.remediation


def test_distro_binfmt_d_definition_is_preferred(make_host):
    files = tree({}, **{"/usr/lib/binfmt.d/qemu-aarch64.conf": DEBIAN_AARCH64 + "\n"})
    res = one(make_host, files)
    assert [a.line for a in res.fix.actions if a.kind == "register"] == [DEBIAN_AARCH64]
    assert "/usr/lib/binfmt.d/qemu-aarch64.conf" in res.fix.title


def test_no_static_emulator_plans_the_package_install(make_host):
    files = tree({})
    del files["/usr/bin/qemu-aarch64-static"], files["/usr/libexec/qemu-binfmt/aarch64-binfmt-P"]
    res = one(make_host, files)
    kinds = [a.kind for a in res.fix.actions]
    assert kinds == ["install", "register"]
    assert res.fix.commands[0] == ("apt-get", "install", "-y", "qemu-user-static")


def test_missing_f_flag_explains_the_enoent_symptom_and_replaces(make_host):
    no_f = DEBIAN_AARCH64.replace(":OPF", ":OP")
    res = one(make_host, tree({"qemu-aarch64": entry_text(no_f)}))
    assert res.status is Status.FAIL and "no F flag" in res.summary and "no such file or directory" in res.summary
    assert [(a.kind, a.subject) for a in res.fix.actions][:2] == [("unregister", "qemu-aarch64"),
                                                                 ("register", "qemu-aarch64")]


def test_disabled_handler(make_host):
    res = one(make_host, tree({"qemu-aarch64": entry_text(DEBIAN_AARCH64, enabled=False)}))
    assert res.status is Status.FAIL and "registered but disabled" in res.summary
    assert [(a.kind, a.subject) for a in res.fix.actions] == [("enable-entry", "qemu-aarch64")]


def test_dynamic_interpreter_fails(make_host):
    line = upstream_line("aarch64", "/usr/bin/qemu-aarch64")
    files = tree({"qemu-aarch64": entry_text(line)},
                 **{"/usr/bin/qemu-aarch64": build_elf("x86_64", interp="/lib64/ld-linux-x86-64.so.2")})
    res = one(make_host, files)
    assert res.status is Status.FAIL and "dynamically linked" in res.summary


def test_interpreter_for_another_host_fails(make_host):
    line = upstream_line("aarch64", "/opt/qemu-aarch64")
    res = one(make_host, tree({"qemu-aarch64": entry_text(line)}, **{"/opt/qemu-aarch64": build_elf("aarch64")}))
    assert res.status is Status.FAIL and "EM_AARCH64 binary, not EM_X86_64" in res.summary


def test_missing_interpreter_with_and_without_f(make_host):
    gone = upstream_line("aarch64", "/usr/bin/gone")
    assert one(make_host, tree({"qemu-aarch64": entry_text(gone)})).status is Status.WARN
    res = one(make_host, tree({"qemu-aarch64": entry_text(gone[:-1] + "O")}))
    assert res.status is Status.FAIL and "does not exist" in res.summary


def test_shadowed_duplicate_is_named(make_host):
    # Captured trees list entries in name order; the first one counts as the newest.
    files = tree({"a-tonistiigi": entry_text(upstream_line("aarch64", "/usr/bin/qemu-aarch64-static", "OCF")),
                  "qemu-aarch64": entry_text(DEBIAN_AARCH64)})
    res = one(make_host, files)
    assert res.status is Status.OK and res.data["handler"]["name"] == "a-tonistiigi"
    assert res.data["shadowed"] == ("qemu-aarch64",) and "shadows qemu-aarch64" in res.summary


def test_garbage_entries_warn_but_never_crash(make_host):
    files = tree({"qemu-aarch64": entry_text(DEBIAN_AARCH64), "broken": "what is this\n",
                  "jar": entry_text(":jar:E::jar::/usr/bin/jexec:")})
    res = one(make_host, files)
    assert res.status is Status.WARN and res.data["garbage"] == ("broken: first line is 'what is this', "
                                                                 "not enabled/disabled",)


def test_protected_or_foreign_handlers_are_never_fixed(make_host):
    box = upstream_line("aarch64", "/usr/bin/box64")[:-1]  # a non-QEMU emulator without F
    files = tree({"box64": entry_text(box.replace("qemu-aarch64", "box64"))},
                 **{"/usr/bin/box64": build_elf("x86_64")})
    res = one(make_host, files)
    assert res.status is Status.FAIL and res.fix is None


def test_native_targets_need_no_handler(make_host):
    assert one(make_host, tree({}), "linux/386").summary == "native: no handler needed"


def test_same_elf_machine_as_the_host_cannot_be_emulated():
    from mab_doctor.checks.binfmt_handlers import binfmt_handlers as check
    from helpers import host

    (res,) = check(host("pi-zero-raspbian", targets="linux/arm/v7"))
    assert res.status is Status.FAIL and "share linux/arm/v6's ELF machine" in res.summary
    assert res.fix is None  # a qemu-arm handler would capture every native program too
