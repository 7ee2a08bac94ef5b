"""The binfmt_misc instance a process uses: user namespaces (Linux >= 6.7) and WSL 2, on fixture host trees."""

# Where every string below comes from: tests/hosts/README.md, "binfmt_misc instances: strings used by the tests".

from __future__ import annotations

import pytest

from helpers import DEBIAN_AARCH64, MP, entry_text
from mab_doctor.checks.binfmt_mount import binfmt_mount
from mab_doctor.core.model import Status
from mab_doctor.emulation import instance as inst
from mab_doctor.emulation.binfmt import is_protected, parse_entry
from mab_doctor.fix.plan import c_flag_fix, enable_entry_fix, persist_fix

# Real captures on the mab-doctor build VM (kernel 6.18.44-fc-v657), in the kernel's "%10u %10u %10u" format.
IDENTITY = "         0          0 4294967295\n"
ROOT_AS_ROOT = "         0          0          1\n"        # `unshare --user --map-root-user`, run by root
NOBODY_AS_ROOT = "         0      65534          1\n"      # the same, run by uid 65534 (a rootless user)
HOST_MOUNT = "104 103 0:39 / /proc/sys/fs/binfmt_misc rw,relatime - binfmt_misc binfmt_misc rw\n"
OWN_MOUNT = "125 104 0:49 / /proc/sys/fs/binfmt_misc rw,relatime - binfmt_misc binfmt_misc rw\n"
PROC = "103 85 0:22 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw\n"
# Real kernel releases: Ubuntu 24.04's 6.8 and Debian 12's 6.1; WSL 2's, with its /proc/version and entries.
UBUNTU_68 = "6.8.0-44-generic"
DEBIAN_61 = "6.1.0-13-amd64"
WSL2_RELEASE = "5.15.62.1-microsoft-standard-WSL2"
WSL2_VERSION = ("Linux version 5.15.62.1-microsoft-standard-WSL2 (oe-user@oe-host) (x86_64-msft-linux-gcc (GCC) 9.3.0, "
                "GNU ld (GNU Binutils) 2.34.0.20200220) #1 SMP Wed Aug 24 22:24:20 UTC 2022\n")
WSL_INTEROP = "enabled\ninterpreter /init\nflags: PF\noffset 0\nmagic 4d5a\n"
WSL_INTEROP_LATE = "enabled\ninterpreter /init\nflags: P\noffset 0\nmagic 4d5a\n"
WSL2_MOUNT = "30 25 0:29 / /proc/sys/fs/binfmt_misc rw,nosuid,nodev,noexec,relatime - binfmt_misc binfmt_misc rw\n"
AARCH64 = entry_text(DEBIAN_AARCH64)


def tree(make_host, base_host, *, release, uid_map, mountinfo, entries=(), targets="linux/amd64,linux/arm64",
         **extra):
    files = {**base_host, "/proc/sys/kernel/osrelease": release + "\n", "/proc/self/mountinfo": mountinfo,
             f"{MP}/status": "enabled\n", f"{MP}/register": "", **dict(entries), **extra}
    if uid_map is not None:
        files["/proc/self/uid_map"] = uid_map
    return make_host(files, targets=targets)


# ----- the four environments, end to end ----------------------------------------------------------

def test_the_initial_user_namespace_uses_the_hosts_table(make_host, base_host):
    ctx = tree(make_host, base_host, release=UBUNTU_68, uid_map=IDENTITY, mountinfo=PROC + HOST_MOUNT,
               entries={f"{MP}/qemu-aarch64": AARCH64})
    found = inst.binfmt_instance(ctx)
    assert (found.kind, found.userns.initial, found.per_userns, found.wsl2) == ("initial", True, True, ())
    assert found.sees == ("the initial user namespace's: this process is in the initial user namespace (its "
                          "uid_map is the identity map), so it sees and uses the host's table")
    res = binfmt_mount(ctx)
    assert res.status is Status.OK and res.summary == "mounted and enabled (1 entries registered)"
    assert res.details[3] == f"binfmt_misc instance: {found.sees}"


def test_an_empty_own_instance_on_6_8_warns_when_targets_need_emulation(make_host, base_host):
    ctx = tree(make_host, base_host, release=UBUNTU_68, uid_map=NOBODY_AS_ROOT, mountinfo=PROC + HOST_MOUNT + OWN_MOUNT)
    found = inst.binfmt_instance(ctx)
    assert (found.kind, found.userns.initial, found.userns.ranges) == ("own", False, ((0, 65534, 1),))
    assert [m.device for m in found.mounts] == ["0:39", "0:49"]
    assert found.sees == ("this user namespace's own instance: this process is in a user namespace other than the "
                          "initial one, on kernel 6.8.0-44-generic (>= 6.7), and a second binfmt_misc (device 0:49) "
                          "is mounted over the one beneath it (device 0:39)")
    res = binfmt_mount(ctx)
    assert res.status is Status.WARN and res.fix is None
    assert res.summary == ("this user namespace has its own binfmt_misc instance, without QEMU handlers: emulated "
                           "steps started here fail with 'exec format error'")
    assert res.remediation.startswith("Register the handlers in this namespace's instance (`mab-doctor --fix` run "
                                      "here does), or build from a user namespace that never mounted binfmt_misc")
    assert res.data["instance"]["kind"] == "own" and res.data["instance"]["mount_devices"] == ("0:39", "0:49")


def test_an_own_instance_is_only_reported_when_nothing_needs_emulation(make_host, base_host):
    ctx = tree(make_host, base_host, release=UBUNTU_68, uid_map=ROOT_AS_ROOT, mountinfo=PROC + HOST_MOUNT + OWN_MOUNT,
               targets="linux/amd64")
    res = binfmt_mount(ctx)
    assert res.status is Status.OK and res.summary == "mounted and enabled (0 entries registered)"
    assert res.details[3].startswith("binfmt_misc instance: this user namespace's own instance: ")


def test_another_namespace_on_6_1_inherits_the_one_table(make_host, base_host):
    ctx = tree(make_host, base_host, release=DEBIAN_61, uid_map=ROOT_AS_ROOT, mountinfo=PROC + HOST_MOUNT,
               entries={f"{MP}/qemu-aarch64": AARCH64})
    found = inst.binfmt_instance(ctx)
    assert (found.kind, found.userns.initial, found.per_userns) == ("inherited", False, False)
    assert found.sees == ("inherited from the initial namespace: this process is in a user namespace other than the "
                          "initial one, on kernel 6.1.0-13-amd64, older than 6.7, which has one binfmt_misc table "
                          "for the whole system")
    assert found.rootless == ("the host's handlers: rootless Podman and Buildah build in a user namespace of the "
                              "invoking user, and before Linux 6.7 binfmt_misc is one table for the whole system")
    res = binfmt_mount(ctx)
    assert res.status is Status.OK and res.summary == "mounted and enabled (1 entries registered)"
    assert res.details[3:] == (f"binfmt_misc instance: {found.sees}",
                               f"rootless Podman/Buildah builds use: {found.rootless}")


def test_wsl2_warns_that_the_table_goes_with_the_vm(make_host, base_host):
    ctx = tree(make_host, base_host, release=WSL2_RELEASE, uid_map=IDENTITY, mountinfo=WSL2_MOUNT,
               entries={f"{MP}/WSLInterop": WSL_INTEROP, f"{MP}/WSLInterop-late": WSL_INTEROP_LATE,
                        f"{MP}/qemu-aarch64": AARCH64},
               **{"/proc/version": WSL2_VERSION})
    found = inst.binfmt_instance(ctx)
    assert found.wsl2 == ("kernel 5.15.62.1-microsoft-standard-WSL2", "WSL's entries WSLInterop, WSLInterop-late",
                          "/proc/version names Microsoft")
    assert (found.kind, found.per_userns, found.interop) == ("initial", False, ("WSLInterop", "WSLInterop-late"))
    res = binfmt_mount(ctx)
    assert res.status is Status.WARN and res.fix is None
    assert res.summary == ("mounted and enabled (3 entries registered), but on WSL 2 this table is emptied whenever "
                           "the WSL VM stops")
    assert res.details[-1] == ("WSL 2 (kernel 5.15.62.1-microsoft-standard-WSL2; WSL's entries WSLInterop, "
                               "WSLInterop-late; /proc/version names Microsoft): this table is shared by every distro "
                               "in the WSL VM and emptied when the VM stops (`wsl --shutdown`, idle timeout); WSL's "
                               "own entries (WSLInterop, WSLInterop-late) are fine, and --fix never touches them")
    assert "`sudo mab-doctor --fix --persist`" in res.remediation and "`command = update-binfmts --enable`" in \
        res.remediation and "`systemd=true` under `[boot]`" in res.remediation
    assert res.data["instance"]["wsl2"] is True


def test_wsl2_is_fine_when_every_target_is_native(make_host, base_host):
    ctx = tree(make_host, base_host, release=WSL2_RELEASE, uid_map=IDENTITY, mountinfo=WSL2_MOUNT,
               entries={f"{MP}/WSLInterop": WSL_INTEROP}, targets="linux/amd64")
    res = binfmt_mount(ctx)
    assert res.status is Status.OK and res.summary == "mounted and enabled (1 entries registered)"


@pytest.mark.parametrize("text", [WSL_INTEROP, WSL_INTEROP_LATE])
def test_wsls_own_entries_stay_out_of_every_fix(text):
    for name in ("WSLInterop", "WSLInterop-late"):
        entry = parse_entry(name, text)
        assert is_protected(name) and entry.interpreter == "/init" and entry.magic == b"MZ"
        assert (enable_entry_fix(entry), persist_fix(entry), c_flag_fix(entry)) == (None, None, None)


# ----- the other namespaces' cases -----------------------------------------------------------------

def test_nothing_mounted_in_another_namespace_warns_without_a_mount_fix(make_host, base_host):
    # A rootless container's fresh /proc: the old binfmt_misc line stays in mountinfo, hidden under it.
    files = {**base_host, "/proc/sys/kernel/osrelease": UBUNTU_68 + "\n", "/proc/self/uid_map": NOBODY_AS_ROOT,
             "/proc/self/mountinfo": PROC + HOST_MOUNT + "130 125 0:50 / /proc rw - proc proc rw\n"}
    ctx = make_host(files, targets="linux/arm64")
    found = inst.binfmt_instance(ctx)
    assert found.kind == "inherited" and found.sees.endswith(
        "with no binfmt_misc mounted here, so exec uses the nearest ancestor namespace's instance (normally the "
        "initial one, which cannot be listed from here) unless this namespace mounted its own before")
    res = binfmt_mount(ctx)
    assert res.status is Status.WARN and res.fix is None
    assert res.summary == ("binfmt_misc is not visible from this user namespace: builds started here use the "
                           "initial namespace's handlers, which cannot be listed from here")
    assert res.remediation.endswith("Do not mount binfmt_misc here: on Linux 6.7 and newer that gives this "
                                    "namespace its own empty instance, which hides the host's handlers from it for "
                                    "good.")


def test_one_untagged_mount_in_another_namespace_is_undetermined(make_host, base_host):
    ctx = tree(make_host, base_host, release=UBUNTU_68, uid_map=ROOT_AS_ROOT, mountinfo=PROC + HOST_MOUNT)
    found = inst.binfmt_instance(ctx)
    assert found.kind == "undetermined" and found.sees.startswith("undetermined: this process is in a user "
                                                                  "namespace other than the initial one")
    assert binfmt_mount(ctx).status is Status.OK


def test_a_slave_copy_of_an_ancestors_mount_is_inherited(make_host, base_host):
    slave = "104 103 0:39 / /proc/sys/fs/binfmt_misc rw,relatime master:21 - binfmt_misc binfmt_misc rw\n"
    ctx = tree(make_host, base_host, release=UBUNTU_68, uid_map=ROOT_AS_ROOT, mountinfo=PROC + slave)
    found = inst.binfmt_instance(ctx)
    assert found.kind == "inherited" and found.sees.endswith("a copy that follows an ancestor's mount (mountinfo "
                                                             "tag master:)")


def test_a_same_device_stacked_twice_is_not_an_own_instance(make_host, base_host):
    again = "126 104 0:39 / /proc/sys/fs/binfmt_misc rw,relatime - binfmt_misc binfmt_misc rw\n"
    ctx = tree(make_host, base_host, release=UBUNTU_68, uid_map=ROOT_AS_ROOT, mountinfo=PROC + HOST_MOUNT + again)
    assert inst.binfmt_instance(ctx).kind == "undetermined"


def test_a_captured_tree_without_uid_map_is_unknown(make_host, base_host):
    ctx = tree(make_host, base_host, release=UBUNTU_68, uid_map=None, mountinfo=PROC + HOST_MOUNT)
    found = inst.binfmt_instance(ctx)
    assert (found.kind, found.sees, found.userns.initial) == ("unknown", "not known: /proc/self/uid_map: not found",
                                                              None)


def test_an_unreadable_kernel_release_in_another_namespace_is_unknown(make_host, base_host):
    ctx = tree(make_host, base_host, release="custom", uid_map=ROOT_AS_ROOT, mountinfo=PROC + HOST_MOUNT)
    found = inst.binfmt_instance(ctx)
    assert (found.kind, found.per_userns) == ("unknown", None)
    assert found.sees == ("not known: this process is in a user namespace other than the initial one, on kernel "
                          "custom, a release that does not say whether it is Linux 6.7 or newer")
    assert found.rootless == ("not known: kernel release custom does not say whether it is Linux 6.7 or newer")


def test_the_instance_is_computed_once_per_run(make_host, base_host):
    ctx = tree(make_host, base_host, release=UBUNTU_68, uid_map=IDENTITY, mountinfo=HOST_MOUNT)
    first = inst.binfmt_instance(ctx)
    ctx.path("/proc/self/uid_map").write_text(ROOT_AS_ROOT)
    assert inst.binfmt_instance(ctx) is first and first.kind == "initial"


# ----- the parsers -----------------------------------------------------------------------------------

@pytest.mark.parametrize("text, initial, ranges", [
    (IDENTITY, True, ((0, 0, 4294967295),)),
    ("0 0 4294967295", True, ((0, 0, 4294967295),)),
    (ROOT_AS_ROOT, False, ((0, 0, 1),)),
    ("         0       1000          1\n         1     100000      65536\n", False, ((0, 1000, 1), (1, 100000, 65536))),
    ("0 0 4294967294\n", False, ((0, 0, 4294967294),)),
    ("", False, ()),  # a map never written
])
def test_uid_maps(text, initial, ranges):
    assert inst.read_uid_map(text) == inst.UserNamespace(initial, ranges)


@pytest.mark.parametrize("text, problem", [
    ("0 0\n", "/proc/self/uid_map:1:4: 2 fields, not 'inside outside count'"),
    ("0 0 1\n1 2 3 4\n", "/proc/self/uid_map:2:7: 4 fields, not 'inside outside count'"),
    ("0 x 1\n", "/proc/self/uid_map:1:3: 'x' is not an id or a count"),
    ("  0 0 4294967296\n", "/proc/self/uid_map:1:7: '4294967296' is not an id or a count"),
    ("0 -1 1\n", "/proc/self/uid_map:1:3: '-1' is not an id or a count"),
    ("0 \u0662 1\n", "/proc/self/uid_map:1:3: '\u0662' is not an id or a count"),
    ("0 0 " + "9" * 40, "/proc/self/uid_map:1:5: '99999999999999999999...' is not an id or a count"),
])
def test_a_bad_uid_map_is_a_problem_with_line_and_column(text, problem):
    assert inst.read_uid_map(text) == inst.UserNamespace(None, (), problem)


def test_an_unread_uid_map_keeps_the_reason():
    assert inst.read_uid_map(None, "/proc/self/uid_map: a FIFO, not a regular file: not read").problem == \
        "/proc/self/uid_map: a FIFO, not a regular file: not read"


@pytest.mark.parametrize("release, version", [
    ("6.8.0-44-generic", (6, 8)), ("6.7", (6, 7)), ("6.18.44-fc-v657", (6, 18)), ("6.6.87.2-microsoft-standard-WSL2",
    (6, 6)), ("4.4.0-19041-Microsoft", (4, 4)), (" 6.10.1\n", (6, 10)), ("unknown", None), ("6", None),
    ("\u0666.\u0668", None),
])
def test_kernel_versions(release, version):
    assert inst.kernel_version(release) == version


@pytest.mark.parametrize("release, proc_version, names, evidence", [
    (WSL2_RELEASE, "", (), ("kernel 5.15.62.1-microsoft-standard-WSL2",)),
    ("4.19.104-microsoft-standard", "", (), ("kernel 4.19.104-microsoft-standard",)),
    ("6.6.87.2-microsoft-standard-WSL2", "", ("WSLInterop-late",),
     ("kernel 6.6.87.2-microsoft-standard-WSL2", "WSL's entries WSLInterop-late")),
    ("6.1.55-custom", "Linux version 6.1.55-custom (someone@Microsoft)", ("WSLInterop",),
     ("WSL's entries WSLInterop", "/proc/version names Microsoft")),  # a WSL 2 VM on a kernel of one's own
    ("6.1.55-custom", "", ("WSLInterop",), ()),
    ("6.1.55-custom", "Linux version 6.1.55 (Microsoft)", (), ()),
    ("4.4.0-19041-Microsoft", "Linux version 4.4.0-19041-Microsoft (Microsoft@Microsoft.com)", ("WSLInterop",), ()),
    (DEBIAN_61, "Linux version 6.1.0-13-amd64 (debian-kernel@lists.debian.org)", ("qemu-aarch64",), ()),
])
def test_wsl2_evidence(release, proc_version, names, evidence):
    assert inst.wsl2_evidence(release, proc_version, names) == evidence


def test_mounts_at_keeps_ids_devices_options_and_tags():
    line = "36 25 0:31 / /proc/sys/fs/binfmt_misc rw,relatime shared:12 master:3 - binfmt_misc binfmt_misc rw\n"
    assert inst.mounts_at(PROC + line) == (
        inst.Mount("36", "25", "0:31", "rw,relatime", ("shared:12", "master:3"), "binfmt_misc"),)
    assert inst.mounts_at(PROC, "/proc") == (inst.Mount("103", "85", "0:22", "rw,nosuid,nodev,noexec,relatime", (),
                                                        "proc"),)
    assert inst.mounts_at("garbage\n1 2 3 4 /proc/sys/fs/binfmt_misc -\n") == ()


@pytest.mark.parametrize("release, kind", [("6.7.0", "own"), ("6.6.87.2-microsoft-standard-WSL2", "inherited"),
                                           ("7.0.13-arch1-1", "own"), ("5.15.0-105-generic", "inherited")])
def test_linux_6_7_is_where_a_namespace_gets_its_own_instance(make_host, base_host, release, kind):
    ctx = tree(make_host, base_host, release=release, uid_map=ROOT_AS_ROOT, mountinfo=PROC + HOST_MOUNT + OWN_MOUNT)
    assert inst.binfmt_instance(ctx).kind == kind
