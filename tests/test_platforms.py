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
