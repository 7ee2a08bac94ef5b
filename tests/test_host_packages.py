"""Which dpkg package installed a binary: fake dpkg databases in fixture trees (lists, times, status paragraphs)."""

from __future__ import annotations

import os
import random
import time

import pytest

from mab_doctor.host import packages
from mab_doctor.host.packages import (Packaged, oci_platform, package_answer, paragraphs,
                                      upstream_version)

STATUS, INFO = "/var/lib/dpkg/status", "/var/lib/dpkg/info"
PODMAN_VERSION = "4.3.1+ds1-8+deb12u1+b3"  # as this machine's Debian 12 status file records it


def para(name, version, arch="amd64", status="install ok installed", **more):
    """One status paragraph as dpkg writes it (Package first, continuation lines indented)."""
    extra = "".join(f"{k.replace('_', '-')}: {v}\n" for k, v in more.items())
    return (f"Package: {name}\nStatus: {status}\nPriority: optional\nInstalled-Size: 40213\nArchitecture: {arch}\n"
            f"{extra}Version: {version}\nDescription: {name}, a tool\n a longer description\n .\n more\n")


def installed_by(ctx, path, candidates):
    """The package answer alone (its reason is asserted by the tests that need it)."""
    return package_answer(ctx, path, candidates)[0]


NEIGHBOURS = [para("podman-docker", "4.3.1+ds1-8", "all", Depends="podman"), para("podmanx", "9.9"),
              para("golang-github-containers-common", "0.50.1+ds1-4", "all", Breaks="podman (<< 4)")]


@pytest.fixture
def dpkg(make_host, base_host):
    """dpkg(status_paragraphs, lists={name: text}, files={...}, **kw) -> Context; every file of every list
    is a fresh file in the tree, and each .list is stamped just after its files, as dpkg does."""
    def make(paragraphs_, lists=None, files=None, **kw):
        lists = lists if lists is not None else {"podman.list": "/.\n/usr\n/usr/bin\n/usr/bin/podman\n"}
        tree = {**base_host, STATUS: "\n".join(paragraphs_), **(files or {})}
        for name, text in lists.items():
            tree[f"{INFO}/{name}"] = text
            for line in text.splitlines():
                if line.rsplit("/", 1)[-1] in ("podman", "ls", "tool", "buildah") and line not in tree:
                    tree.setdefault(line if not line.startswith("/bin/") else "/usr" + line, "\x7fELF fake\n")
        ctx = make_host(tree, **kw)
        now = time.time()  # after every file of the tree was written: their inodes changed before it
        for name in lists:
            os.utime(ctx.path(f"{INFO}/{name}"), (now, now))
        return ctx
    return make


def stamp(ctx, list_path, after, binary="/usr/bin/podman"):
    """Set a .list's modification time to the binary's inode change time plus ``after`` seconds."""
    when = os.stat(ctx.path(binary)).st_ctime + after
    os.utime(ctx.path(list_path), (when, when))


PODMAN = Packaged("podman", PODMAN_VERSION, "4.3.1", "amd64", "linux/amd64", "/usr/bin/podman")


def test_a_listed_untouched_binary_is_the_package_s(dpkg):
    ctx = dpkg([*NEIGHBOURS[:2], para("podman", PODMAN_VERSION), NEIGHBOURS[2]])
    assert package_answer(ctx, "/usr/bin/podman", ["podman"]) == (PODMAN, None)
    assert PODMAN.goarch == "amd64"
    assert PODMAN.says("podman") == ("podman 4.3.1 from the Debian package podman 4.3.1+ds1-8+deb12u1+b3 "
                                     "(/usr/bin/podman as the package installed it; amd64: linux/amd64)")
    assert ctx.runner.calls == []  # nothing was run: the strict fake runner would have failed on any command


def test_merged_usr_the_path_as_given_and_as_resolved(dpkg):
    ctx = dpkg([para("podman", PODMAN_VERSION)])
    assert installed_by(ctx, "/bin/podman", ["podman"]) == PODMAN  # /bin -> usr/bin: the listed file
    ls = dpkg([para("coreutils", "9.1-1")], {"coreutils.list": "/bin\n/bin/ls\n/usr/bin/env\n"})
    assert ls.lookup("/bin/ls").inside == "/usr/bin/ls"
    got = installed_by(ls, "/usr/bin/ls", ["coreutils"])  # the list says /bin/ls: the same file here
    assert (got.package, got.upstream, got.path) == ("coreutils", "9.1", "/bin/ls")


def test_a_binary_the_package_does_not_list(dpkg):
    ctx = dpkg([para("podman", PODMAN_VERSION)], files={"/usr/local/bin/podman": "#!/bin/sh\n"})
    assert package_answer(ctx, "/usr/local/bin/podman", ["podman"]) == (
        None, "/usr/local/bin/podman is not a file of the Debian package podman")


def test_a_symlink_the_package_lists_but_pointing_elsewhere(dpkg):
    ctx = dpkg([para("podman", PODMAN_VERSION)], files={"/opt/podman": "#!/bin/sh\n"})
    ctx.path("/usr/bin/podman").unlink()
    ctx.path("/usr/bin/podman").symlink_to("/opt/podman")
    assert package_answer(ctx, "/usr/bin/podman", ["podman"]) == (
        None, "/usr/bin/podman is not a file of the Debian package podman")


@pytest.mark.parametrize("after, trusted", [(0.004, True), (0.0, True), (-0.9, True), (-1.2, False),
                                            (-3600.0, False)])
def test_a_binary_changed_after_the_list_was_written_is_not_trusted(dpkg, after, trusted):
    ctx = dpkg([para("podman", PODMAN_VERSION)])
    stamp(ctx, f"{INFO}/podman.list", after)
    got, why = package_answer(ctx, "/usr/bin/podman", ["podman"])
    assert (got, why) == ((PODMAN, None) if trusted else (
        None, "/usr/bin/podman was changed after the Debian package podman 4.3.1+ds1-8+deb12u1+b3 installed it"))


def test_copying_over_the_binary_gives_it_a_new_inode_change_time(dpkg):
    ctx = dpkg([para("podman", PODMAN_VERSION)])
    stamp(ctx, f"{INFO}/podman.list", 0.004)
    before = ctx.lookup("/usr/bin/podman").ctime
    ctx.path("/usr/bin/podman").write_bytes(b"\x7fELF another build\n")  # what `cp new /usr/bin/podman` does
    os.utime(ctx.path(f"{INFO}/podman.list"), (before - 5, before - 5))
    assert installed_by(ctx, "/usr/bin/podman", ["podman"]) is None


def test_found_carries_the_times_of_the_file(tmp_path, make_host):
    ctx = make_host({"/usr/bin/x": "x"})
    os.utime(ctx.path("/usr/bin/x"), (1.5e9, 1.6e9))
    st = os.stat(ctx.path("/usr/bin/x"))
    found = ctx.lookup("/usr/bin/x")
    assert (found.mtime, found.ctime) == (1.6e9, st.st_ctime)
    from mab_doctor.core.context import Context
    live = Context().lookup(str(ctx.path("/usr/bin/x")))  # the live root's own stat, same file
    assert (live.mtime, live.ctime) == (1.6e9, st.st_ctime)
    assert ctx.lookup("/nowhere").mtime == 0.0


def test_arch_qualified_lists_of_multi_arch_same_packages(dpkg):
    tool = "/usr/lib/aarch64-linux-gnu/foo/tool"
    ctx = dpkg([para("libfoo-bin", "2.1-3", "amd64", Multi_Arch="same"),
                para("libfoo-bin", "2.1-3", "arm64", Multi_Arch="same")],
               {"libfoo-bin:amd64.list": "/usr/lib/x86_64-linux-gnu/foo/tool\n",
                "libfoo-bin:arm64.list": f"{tool}\n"})
    stamp(ctx, f"{INFO}/libfoo-bin:arm64.list", 0.004, tool)
    assert installed_by(ctx, tool, ["libfoo-bin"]) == Packaged("libfoo-bin", "2.1-3", "2.1", "arm64", "linux/arm64",
                                                               tool)


def test_a_list_found_only_under_the_other_name(dpkg):
    ctx = dpkg([para("podman", PODMAN_VERSION)], {"podman:amd64.list": "/usr/bin/podman\n"})
    assert installed_by(ctx, "/usr/bin/podman", ["podman"]) == PODMAN
    none = dpkg([para("podman", PODMAN_VERSION)], {})
    none.path("/usr/bin/podman").write_text("x")
    assert package_answer(none, "/usr/bin/podman", ["podman"]) == (
        None, "the Debian package podman has no readable file list")


def test_epochs_and_the_second_candidate(dpkg):
    qemu = "/usr/bin/qemu-aarch64-static"
    ctx = dpkg([para("qemu-user-static", "1:7.2+dfsg-7+deb12u18+b3")], {"qemu-user-static.list": f"{qemu}\n"},
               files={qemu: "\x7fELF\n"})
    stamp(ctx, f"{INFO}/qemu-user-static.list", 0.004, qemu)
    got = installed_by(ctx, qemu, ["qemu-user", "qemu-user-static"])
    assert (got.package, got.version, got.upstream) == ("qemu-user-static", "1:7.2+dfsg-7+deb12u18+b3", "7.2")


@pytest.mark.parametrize("status, why", [
    ("deinstall ok config-files", "deinstall ok config-files"),
    ("install ok half-configured", "install ok half-configured"),
    ("install reinstreq half-installed", "install reinstreq half-installed"),
    ("deinstall ok installed", "deinstall ok installed"),
])
def test_packages_not_wholly_installed_do_not_answer(dpkg, status, why):
    ctx = dpkg([para("podman", PODMAN_VERSION, status=status)])
    assert package_answer(ctx, "/usr/bin/podman", ["podman"]) == (
        None, f"the Debian package podman is not installed as a whole ({why})")


def test_a_held_package_answers(dpkg):
    ctx = dpkg([para("podman", PODMAN_VERSION, status="hold ok installed")])
    assert installed_by(ctx, "/usr/bin/podman", ["podman"]) == PODMAN


def test_no_such_package_and_no_dpkg_at_all(dpkg, make_host, base_host):
    ctx = dpkg(NEIGHBOURS)
    assert package_answer(ctx, "/usr/bin/podman", ["podman", "podman-remote"]) == (
        None, "no Debian package named podman or podman-remote is installed")
    fedora = make_host({**base_host, "/usr/bin/podman": "x"})
    assert package_answer(fedora, "/usr/bin/podman", ["podman"]) == (None, None)


def test_a_diverted_binary_is_not_the_package_s(dpkg):
    ctx = dpkg([para("podman", PODMAN_VERSION)],
               files={"/var/lib/dpkg/diversions": "/usr/bin/other\n/usr/bin/other.real\nfoo\n"
                                                  "/usr/bin/podman\n/usr/bin/podman.distrib\nlocal\n"})
    assert package_answer(ctx, "/usr/bin/podman", ["podman"]) == (
        None, "/usr/bin/podman is diverted by local (dpkg-divert): not the file the package podman installed")


def test_an_architecture_independent_package_has_no_platform(dpkg):
    got = installed_by(dpkg([para("podman", PODMAN_VERSION, "all")]), "/usr/bin/podman", ["podman"])
    assert (got.architecture, got.platform, got.goarch) == ("all", None, None)


def test_two_architectures_listing_one_file_are_no_answer(dpkg):
    ctx = dpkg([para("podman", "4.3.1-1", "amd64", Multi_Arch="same"),
                para("podman", "4.3.1-1", "i386", Multi_Arch="same")],
               {"podman:amd64.list": "/usr/bin/podman\n", "podman:i386.list": "/usr/bin/podman\n"})
    assert package_answer(ctx, "/usr/bin/podman", ["podman"]) == (
        None, "/usr/bin/podman is listed by several installed packages: podman:amd64 4.3.1-1, podman:i386 4.3.1-1")


@pytest.mark.parametrize("debian, upstream", [
    ("4.3.1+ds1-8+deb12u1", "4.3.1"), ("4.3.1+ds1-8+deb12u1+b3", "4.3.1"), ("1.28.2+ds1-3+deb12u1+b3", "1.28.2"),
    ("1:7.2+dfsg-7+deb12u18+b3", "7.2"), ("1:10.0.2+ds-2", "10.0.2"), ("4.0.0~rc4+ds1-1", "4.0.0-rc4"),
    ("0.9~ds1-2", "0.9"), ("2.0+git20200101.abc-3", "2.0"), ("3.4.4+ds1-1~bpo11+1", "3.4.4"), ("5", "5"),
    ("1:2.3", "2.3"), ("1.2.3-rc1-4", "1.2.3-rc1"), ("2.1.dfsg-1", "2.1"), ("1.0+repack2-1", "1.0"),
])
def test_upstream_versions(debian, upstream):
    assert upstream_version(debian) == upstream


@pytest.mark.parametrize("arch, oci", [
    ("amd64", "linux/amd64"), ("arm64", "linux/arm64"), ("armhf", "linux/arm/v7"), ("armel", "linux/arm/v5"),
    ("i386", "linux/386"), ("ppc64el", "linux/ppc64le"), ("s390x", "linux/s390x"), ("riscv64", "linux/riscv64"),
    ("mips64el", "linux/mips64le"), ("loong64", "linux/loong64"), ("all", None), ("hurd-i386", None), ("", None),
])
def test_debian_architectures_as_oci_platforms(arch, oci):
    assert oci_platform(arch) == oci


def test_an_armhf_package_is_a_go_arm_build(dpkg):
    got = installed_by(dpkg([para("podman", "4.3.1+ds1-8", "armhf")]), "/usr/bin/podman", ["podman"])
    assert (got.platform, got.goarch) == ("linux/arm/v7", "arm")


def test_paragraphs_are_found_without_parsing_the_others():
    status = (b"Package: podman\nStatus: install ok installed\nVersion: 1\nConffiles:\n /etc/x 0abc\n\n"
              b"Package: podman-docker\nDepends: podman\n\nPackage: podman\nArchitecture: i386\nVersion: 2")
    assert paragraphs(status, "podman") == [
        {"Package": "podman", "Status": "install ok installed", "Version": "1", "Conffiles": ""},
        {"Package": "podman", "Architecture": "i386", "Version": "2"}]
    assert paragraphs(status, "podman-docker") == [{"Package": "podman-docker", "Depends": "podman"}]
    assert paragraphs(status, "docker") == [] and paragraphs(b"", "podman") == []


def test_a_huge_status_file(dpkg):
    many = [para(f"lib{i}-tool", f"{i}.0-1", Depends="podman, libc6") for i in range(30000)]
    ctx = dpkg([*many, para("podman", PODMAN_VERSION), para("zz", "1")])
    assert ctx.lookup(STATUS).size > 5_000_000
    assert installed_by(ctx, "/usr/bin/podman", ["podman"]) == PODMAN


def test_files_over_the_limits_are_not_read(dpkg, monkeypatch):
    ctx = dpkg([para("podman", PODMAN_VERSION)])
    monkeypatch.setattr(packages, "LIST_LIMIT", 16)
    assert package_answer(ctx, "/usr/bin/podman", ["podman"]) == (
        None, "the Debian package podman has no readable file list")
    monkeypatch.setattr(packages, "DPKG_STATUS_LIMIT", 64)
    fresh = dpkg([para("podman", PODMAN_VERSION)])
    assert package_answer(fresh, "/usr/bin/podman", ["podman"])[1].endswith(
        "/var/lib/dpkg/status: larger than 64 bytes: not read")


@pytest.mark.parametrize("seed", range(12))
def test_garbage_is_no_answer_and_never_raises(dpkg, seed):
    rnd = random.Random(seed)
    noise = bytes(rnd.randrange(256) for _ in range(rnd.randrange(2000)))
    pieces = [noise, b"Package: podman\n" + noise, b"\nPackage: podman\nStatus: install ok installed\n"
              b"Architecture: \xff\xfe\nVersion: \x00\n", b"Package: podman\nStatus: install ok installed\n"
              b"Architecture: amd64\nVersion: 1\n" + noise]
    status = rnd.choice(pieces)
    ctx = dpkg([], {"podman.list": "/usr/bin/podman\n"},
               files={"/var/lib/dpkg/diversions": noise, f"{INFO}/junk.list": noise})
    ctx.path(STATUS).write_bytes(status)
    if rnd.random() < 0.5:
        ctx.path(f"{INFO}/podman.list").write_bytes(noise + b"\n/usr/bin/podman" * rnd.randrange(2))
        stamp(ctx, f"{INFO}/podman.list", 0.004)
    got = installed_by(ctx, "/usr/bin/podman", ["podman"])
    if got is not None:  # only the well-formed paragraph can answer, and then with what it says
        assert status.startswith(b"Package: podman\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1\n")
        assert (got.version, got.architecture) == ("1", "amd64")


def test_odd_files_in_place_of_the_database(dpkg):
    ctx = dpkg([para("podman", PODMAN_VERSION)])
    ctx.path(f"{INFO}/podman.list").unlink()
    ctx.path(f"{INFO}/podman.list").mkdir()
    assert package_answer(ctx, "/usr/bin/podman", ["podman"]) == (
        None, "the Debian package podman has no readable file list")
    os.mkfifo(ctx.path(f"{INFO}/podman:amd64.list"))  # a FIFO is not read: nothing waits on it
    assert installed_by(ctx, "/usr/bin/podman", ["podman"]) is None
    ctx.path("/usr/bin/podman").unlink()
    assert package_answer(ctx, "/usr/bin/podman", ["podman"]) == (None, "/usr/bin/podman: not found")
