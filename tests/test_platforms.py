"""Platform vocabulary: parsing/normalisation of --platform strings and the mapping table."""

import pytest

from mab_doctor.host import platforms
from mab_doctor.host.platforms import PlatformError, Target, parse_platform, parse_platform_list, runs_natively


@pytest.mark.parametrize("given, want", [
    ("linux/amd64", "linux/amd64"), ("amd64", "linux/amd64"), ("x86_64", "linux/amd64"),
    ("linux/amd64/v1", "linux/amd64"), ("linux/amd64/v3", "linux/amd64/v3"),
    ("linux/arm64", "linux/arm64"), ("arm64/v8", "linux/arm64"), ("aarch64", "linux/arm64"),
    ("linux/arm64/v8", "linux/arm64"), ("linux/arm", "linux/arm/v7"), ("arm", "linux/arm/v7"),
    ("armhf", "linux/arm/v7"), ("armel", "linux/arm/v6"), ("linux/arm/7", "linux/arm/v7"),
    ("linux/arm/v6", "linux/arm/v6"), ("LINUX/ARM/V5", "linux/arm/v5"), ("i386", "linux/386"),
    ("linux/386", "linux/386"), ("ppc64el", "linux/ppc64le"), ("linux/s390x", "linux/s390x"),
    ("mips64el", "linux/mips64le"), ("linux/riscv64", "linux/riscv64"), (" linux/loong64 ", "linux/loong64"),
])
def test_normalises_docker_and_debian_spellings(given, want):
    assert str(parse_platform(given)) == want


@pytest.mark.parametrize("bad, phrase", [
    ("linux/nonsense", "unknown architecture 'nonsense'"), ("windows/amd64", "linux/* targets only"),
    ("linux/arm/v9", "arm variants are v5"), ("linux/arm64/v7", "arm64 has no variant"),
    ("", "bad platform string"), ("linux//arm64", "bad platform string"), ("a/b/c/d", "bad platform"),
    ("linux/s390x/v2", "takes no variant"), ("linux/amd64/v7", "amd64 variants"),
])
def test_nonsense_is_a_clear_error(bad, phrase):
    with pytest.raises(PlatformError, match=phrase.replace("*", r"\*").replace("(", r"\(")):
        parse_platform(bad)


def test_list_keeps_order_and_drops_duplicates():
    got = parse_platform_list("linux/arm64, arm64/v8,linux/arm,linux/amd64,")
    assert [str(t) for t in got] == ["linux/arm64", "linux/arm/v7", "linux/amd64"]
    with pytest.raises(PlatformError):
        parse_platform_list(" , ")


def test_table_is_consistent():
    ocis = [p.oci for p in platforms.PLATFORMS]
    assert len(ocis) == len(set(ocis))
    for p in platforms.PLATFORMS:
        assert str(parse_platform(p.oci)) == p.oci
        assert p.elf_class in (32, 64) and p.endian in ("little", "big")
        assert p.qemu_binary.startswith("qemu-")
    assert platforms.from_uname("armv6l").oci == "linux/arm/v6"
    assert platforms.from_uname("x86_64").debian_arch == "amd64"
    assert platforms.from_elf(183, 64, "little").hub_prefix == "arm64v8"
    assert platforms.from_elf(22, 64, "big").oci == "linux/s390x"
    assert platforms.from_elf(8, 64, "big").oci == "linux/mips64"
    assert platforms.from_elf(40, 32, "little").oci == "linux/arm/v7"


@pytest.mark.parametrize("host, target, native", [
    ("linux/amd64", "linux/386", True), ("linux/amd64", "linux/arm64", False),
    ("linux/arm64", "linux/arm/v7", True), ("linux/arm/v6", "linux/arm/v7", False),
    ("linux/arm/v8", "linux/arm/v7", True), ("linux/arm/v7", "linux/arm64", False),
    ("linux/arm/v7", "linux/arm/v5", True), ("linux/amd64", "linux/amd64/v3", True),
    ("linux/386", "linux/amd64", False),
])
def test_runs_natively_follows_containerd_compare(host, target, native):
    assert runs_natively(platforms.BY_OCI[host], parse_platform(target)) is native


def test_target_str_carries_extra_variant():
    assert str(Target(platforms.BY_OCI["linux/amd64"], "v2")) == "linux/amd64/v2"


# The vocabulary, row by row: (oci, uname -m names, Debian arch, Docker Hub prefix, GOARCH, GOARM, QEMU cpu,
# QEMU family, e_machine, ELF class, byte order, ARM float ABI).
VOCABULARY = [
    ("linux/amd64", ("x86_64",), "amd64", "amd64", "amd64", None, "x86_64", "i386", 62, 64, "little", None),
    ("linux/386", ("i386", "i486", "i586", "i686"), "i386", "i386", "386", None, "i386", "i386", 3, 32, "little",
     None),
    ("linux/arm64", ("aarch64", "arm64"), "arm64", "arm64v8", "arm64", None, "aarch64", "arm", 183, 64, "little",
     None),
    ("linux/arm/v8", ("armv8l",), "armhf", "arm32v7", "arm", "7", "arm", "arm", 40, 32, "little", "hard"),
    ("linux/arm/v7", ("armv7l",), "armhf", "arm32v7", "arm", "7", "arm", "arm", 40, 32, "little", "hard"),
    ("linux/arm/v6", ("armv6l",), "armhf", "arm32v6", "arm", "6", "arm", "arm", 40, 32, "little", "hard"),
    ("linux/arm/v5", ("armv5tel", "armv5tejl", "armv5l"), "armel", "arm32v5", "arm", "5", "arm", "arm", 40, 32,
     "little", "soft"),
    ("linux/riscv64", ("riscv64",), "riscv64", "riscv64", "riscv64", None, "riscv64", "riscv64", 243, 64, "little",
     None),
    ("linux/ppc64le", ("ppc64le",), "ppc64el", "ppc64le", "ppc64le", None, "ppc64le", "ppcle", 21, 64, "little", None),
    ("linux/s390x", ("s390x",), "s390x", "s390x", "s390x", None, "s390x", "s390x", 22, 64, "big", None),
    ("linux/mips64le", ("mips64",), "mips64el", "mips64le", "mips64le", None, "mips64el", "mips", 8, 64, "little",
     None),
    ("linux/mips64", (), "mips64", None, "mips64", None, "mips64", "mips", 8, 64, "big", None),
    ("linux/loong64", ("loongarch64",), "loong64", None, "loong64", None, "loongarch64", "loongarch", 258, 64,
     "little", None),
]


def test_the_vocabulary_row_by_row():
    got = [(p.oci, p.uname, p.debian_arch, p.hub_prefix, p.goarch, p.goarm, p.qemu, p.qemu_family, p.elf_machine,
            p.elf_class, p.endian, p.float_abi) for p in platforms.PLATFORMS]
    assert got == VOCABULARY
    assert [p.elf_machine_name for p in platforms.PLATFORMS] == [
        "EM_X86_64", "EM_386", "EM_AARCH64", "EM_ARM", "EM_ARM", "EM_ARM", "EM_ARM", "EM_RISCV", "EM_PPC64",
        "EM_S390", "EM_MIPS", "EM_MIPS", "EM_LOONGARCH"]
    assert platforms.DEFAULT_TARGETS == ("linux/amd64", "linux/arm64", "linux/arm/v7")


@pytest.mark.parametrize("oci, arch, variant, level, qemu_binary", [
    ("linux/amd64", "amd64", None, None, "qemu-x86_64"), ("linux/arm64", "arm64", None, 8, "qemu-aarch64"),
    ("linux/arm/v8", "arm", "v8", 8, "qemu-arm"), ("linux/arm/v6", "arm", "v6", 6, "qemu-arm"),
    ("linux/arm/v5", "arm", "v5", 5, "qemu-arm"), ("linux/s390x", "s390x", None, None, "qemu-s390x"),
])
def test_row_properties(oci, arch, variant, level, qemu_binary):
    p = platforms.BY_OCI[oci]
    assert (p.arch, p.variant, p.arm_level, p.qemu_binary) == (arch, variant, level, qemu_binary)


@pytest.mark.parametrize("alias, want", [
    ("amd64", "linux/amd64"), ("x86_64", "linux/amd64"), ("x86-64", "linux/amd64"), ("386", "linux/386"),
    ("i386", "linux/386"), ("i686", "linux/386"), ("arm64", "linux/arm64"), ("aarch64", "linux/arm64"),
    ("arm", "linux/arm/v7"), ("armhf", "linux/arm/v7"), ("armel", "linux/arm/v6"), ("armv7l", "linux/arm/v7"),
    ("armv6l", "linux/arm/v6"), ("armv5tel", "linux/arm/v5"), ("armv8l", "linux/arm/v8"),
    ("riscv64", "linux/riscv64"), ("ppc64le", "linux/ppc64le"), ("ppc64el", "linux/ppc64le"),
    ("s390x", "linux/s390x"), ("mips64le", "linux/mips64le"), ("mips64el", "linux/mips64le"),
    ("mips64", "linux/mips64"), ("loong64", "linux/loong64"), ("loongarch64", "linux/loong64"),
])
def test_every_architecture_alias(alias, want):
    assert str(parse_platform(alias)) == want
    assert str(parse_platform("linux/" + alias)) == want


@pytest.mark.parametrize("given, want", [
    ("linux/arm/6", "linux/arm/v6"), ("linux/arm/v8", "linux/arm/v8"), ("armel/v7", "linux/arm/v7"),
    ("linux/arm64/8", "linux/arm64"), ("linux/amd64/1", "linux/amd64"), ("linux/amd64/3", "linux/amd64/v3"),
    ("linux/amd64/v2", "linux/amd64/v2"), ("linux/amd64/v4", "linux/amd64/v4"), ("AMD64/V2", "linux/amd64/v2"),
])
def test_variants_spelled_with_or_without_v(given, want):
    assert str(parse_platform(given)) == want


@pytest.mark.parametrize("bad, message", [
    ("linux", "bad platform string 'linux': expected os/arch[/variant], e.g. linux/arm64"),
    ("arm/v7/x", "bad platform string 'arm/v7/x': expected os/arch[/variant], e.g. linux/arm64"),
    ("linux/arm/v7/x", "bad platform string 'linux/arm/v7/x': expected os/arch[/variant], e.g. linux/arm64"),
    ("   ", "bad platform string '   ': expected os/arch[/variant], e.g. linux/arm64"),
    ("linux/arm/", "bad platform string 'linux/arm/': expected os/arch[/variant], e.g. linux/arm64"),
    ("darwin/arm64", "platform 'darwin/arm64': mab-doctor checks linux/* targets only"),
    ("freebsd/amd64", "platform 'freebsd/amd64': mab-doctor checks linux/* targets only"),
    ("wasip1/wasm", "platform 'wasip1/wasm': mab-doctor checks linux/* targets only"),
    ("js/wasm", "platform 'js/wasm': mab-doctor checks linux/* targets only"),
    ("Windows/amd64", "platform 'Windows/amd64': mab-doctor checks linux/* targets only"),
    ("linux/vax", "unknown architecture 'vax' in platform 'linux/vax' (known: linux/amd64, linux/386, linux/arm64, "
                  "linux/arm/v8, linux/arm/v7, linux/arm/v6, linux/arm/v5, linux/riscv64, linux/ppc64le, "
                  "linux/s390x, linux/mips64le, linux/mips64, linux/loong64)"),
    ("linux/arm64/v9", "platform 'linux/arm64/v9': arm64 has no variant 'v9' (only v8)"),
    ("linux/amd64/v5", "platform 'linux/amd64/v5': amd64 variants are v1..v4, not 'v5'"),
    ("linux/arm/v4", "platform 'linux/arm/v4': arm variants are v5, v6, v7, v8, not 'v4'"),
    ("linux/riscv64/v1", "platform 'linux/riscv64/v1': riscv64 takes no variant"),
    ("linux/386/7", "platform 'linux/386/7': 386 takes no variant"),
])
def test_error_messages_exactly(bad, message):
    with pytest.raises(PlatformError) as caught:
        parse_platform(bad)
    assert str(caught.value) == message


def test_list_errors_exactly():
    with pytest.raises(PlatformError) as caught:
        parse_platform_list(",,")
    assert str(caught.value) == "empty list (give platforms such as linux/arm64,linux/arm/v7)"
    with pytest.raises(PlatformError, match="unknown architecture 'vax'"):
        parse_platform_list("linux/arm64,vax")
    assert [str(t) for t in parse_platform_list("amd64/v3,linux/amd64,linux/amd64/v3")] == [
        "linux/amd64/v3", "linux/amd64"]
    assert parse_platform_list("linux/arm64")[0] is not None and len(parse_platform_list("linux/arm64")) == 1


@pytest.mark.parametrize("machine, oci", [
    ("x86_64", "linux/amd64"), ("i686", "linux/386"), ("i486", "linux/386"), ("arm64", "linux/arm64"),
    ("armv8l", "linux/arm/v8"), ("armv5tejl", "linux/arm/v5"), ("armv5l", "linux/arm/v5"),
    ("mips64", "linux/mips64le"), ("loongarch64", "linux/loong64"), ("ppc64le", "linux/ppc64le"),
    ("riscv64", "linux/riscv64"), ("s390x", "linux/s390x"), ("armv7", None), ("", None), ("pdp11", None),
])
def test_from_uname(machine, oci):
    found = platforms.from_uname(machine)
    assert (found.oci if found else None) == oci


@pytest.mark.parametrize("machine, elf_class, endian, oci", [
    (62, 64, "little", "linux/amd64"), (3, 32, "little", "linux/386"), (8, 64, "little", "linux/mips64le"),
    (243, 64, "little", "linux/riscv64"), (21, 64, "little", "linux/ppc64le"), (258, 64, "little", "linux/loong64"),
    (62, 32, "little", None), (40, 32, "big", None), (183, 64, "big", None), (40, 64, "little", None),
    (99, 64, "little", None),
])
def test_from_elf(machine, elf_class, endian, oci):
    found = platforms.from_elf(machine, elf_class, endian)
    assert (found.oci if found else None) == oci


@pytest.mark.parametrize("level, oci", [(4, None), (5, "linux/arm/v5"), (6, "linux/arm/v6"), (7, "linux/arm/v7"),
                                        (8, "linux/arm/v8"), (9, "linux/arm/v8"), (12, "linux/arm/v8")])
def test_arm_variant_platform(level, oci):
    found = platforms.arm_variant_platform(level)
    assert (found.oci if found else None) == oci


@pytest.mark.parametrize("host, target, native", [
    ("linux/arm/v7", "linux/arm/v7", True), ("linux/arm/v7", "linux/arm/v6", True),
    ("linux/arm/v7", "linux/arm/v8", False), ("linux/arm/v6", "linux/arm/v6", True),
    ("linux/arm/v6", "linux/arm/v5", True), ("linux/arm/v5", "linux/arm/v6", False),
    ("linux/arm64", "linux/arm/v8", True), ("linux/arm64", "linux/arm/v5", True), ("linux/arm64", "linux/arm64", True),
    ("linux/arm/v8", "linux/arm/v8", True), ("linux/arm/v8", "linux/arm64", False),
    ("linux/amd64", "linux/arm/v5", False), ("linux/arm/v7", "linux/386", False), ("linux/arm64", "linux/amd64", False),
    ("linux/386", "linux/386", True), ("linux/amd64", "linux/amd64/v2", True), ("linux/amd64", "linux/amd64", True),
    ("linux/riscv64", "linux/arm/v7", False), ("linux/s390x", "linux/386", False),
    ("linux/mips64le", "linux/mips64", False),
])
def test_runs_natively_without_kernel_facts(host, target, native):
    assert runs_natively(platforms.BY_OCI[host], parse_platform(target)) is native


@pytest.mark.parametrize("host, kernel, target, native", [
    # a 64-bit kernel under a 32-bit userland still runs its own 64-bit binaries
    ("linux/arm/v8", "linux/arm64", "linux/arm64", True),      # Pi with a 64-bit kernel and an armhf userland
    ("linux/386", "linux/amd64", "linux/amd64", True),         # x86_64 kernel, i386 userland
    ("linux/386", "linux/amd64", "linux/amd64/v3", True),
    ("linux/arm/v7", "linux/arm/v7", "linux/arm64", False),     # a 32-bit kernel does not
    ("linux/arm/v8", "linux/arm64", "linux/amd64", False),      # only the kernel's own platform
    ("linux/mips64", "linux/mips64le", "linux/mips64le", False),  # uname -m "mips64" does not tell the byte order
    ("linux/arm/v6", "linux/arm64", "linux/arm/v7", False),     # the userland rules for 32-bit ARM are unchanged
    ("linux/arm/v8", None, "linux/arm64", False),
])
def test_the_64bit_kernel_rule(host, kernel, target, native):
    k = platforms.BY_OCI[kernel] if kernel else None
    assert runs_natively(platforms.BY_OCI[host], parse_platform(target), k) is native


def test_empty_items_anywhere_in_a_list_are_skipped():
    assert [str(t) for t in parse_platform_list("linux/arm64,, ,linux/amd64")] == ["linux/arm64", "linux/amd64"]
    assert [str(t) for t in parse_platform_list(",linux/386")] == ["linux/386"]


def test_rows_and_targets_are_frozen():
    import dataclasses

    with pytest.raises(dataclasses.FrozenInstanceError):
        platforms.BY_OCI["linux/amd64"].oci = "linux/other"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        parse_platform("linux/amd64/v2").extra_variant = "v3"  # type: ignore[misc]
