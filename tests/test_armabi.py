"""read_arm_abi / abi_label: .ARM.attributes first, then e_flags, then the loader; clear errors."""

import pytest

from mab_doctor.host.armabi import ArmAbi, abi_label, read_arm_abi
from mab_doctor.host.elf import ElfError
from elfbuild import aeabi_attributes, build_elf

HARD, SOFT = "/lib/ld-linux-armhf.so.3", "/lib/ld-linux.so.3"


def arm(flags=0x05000000, interp=None, attrs=None):
    return build_elf("arm", flags=flags, interp=interp, e_type=3, arm_attributes=attrs)


@pytest.mark.parametrize("cpu, vfp, flags, interp, want_arch, want_oci, want_abi, label", [
    (10, 1, 0x05000400, HARD, "v7", "v7", "hard", "hard-float v7 (Debian armhf)"),
    (6, 1, 0x05000400, HARD, "v6", "v6", "hard", "hard-float v6 (Raspbian armhf)"),
    (7, 1, 0x05000400, HARD, "v6KZ", "v6", "hard", "hard-float v6KZ (Raspbian armhf)"),
    (4, None, 0x05000200, SOFT, "v5TE", "v5", "soft", "soft-float v5TE (armel)"),
    (2, None, 0x05000200, SOFT, "v4T", "v5", "soft", "soft-float v4T (armel)"),
    (14, 1, 0x05000400, HARD, "v8", "v8", "hard", "hard-float v8 (armhf for ARMv8 AArch32)"),
])
def test_classification_from_attributes(cpu, vfp, flags, interp, want_arch, want_oci, want_abi, label):
    abi = read_arm_abi(arm(flags, interp, aeabi_attributes(cpu, vfp)))
    assert (abi.cpu_arch, abi.oci_variant, abi.float_abi) == (want_arch, want_oci, want_abi)
    assert abi_label(abi) == label
    assert any(".ARM.attributes Tag_CPU_arch" in e for e in abi.evidence)


def test_attributes_beat_e_flags():
    # A toolchain that marks hard-float code as soft in e_flags (matrix (e) caveat): attributes win.
    abi = read_arm_abi(arm(0x05000200, SOFT, aeabi_attributes(10, 1)))
    assert abi.float_abi == "hard" and "Tag_ABI_VFP_args = 1" in abi.evidence[-1]


def test_v6t2_is_v6_with_the_thumb2_caveat():
    abi = read_arm_abi(arm(0x05000400, HARD, aeabi_attributes(8, 1)))
    assert abi.oci_variant == "v6" and any("Thumb-2" in e and "ARM1176" in e for e in abi.evidence)


def test_attributes_without_vfp_args_and_no_other_hint_mean_soft():
    abi = read_arm_abi(arm(0x05000000, None, aeabi_attributes(4, None)))
    assert abi.float_abi == "soft" and "default 0" in abi.evidence[-1]


@pytest.mark.parametrize("flags, interp, want, source", [
    (0x05000400, None, "hard", "e_flags 0x5000400"), (0x05000200, None, "soft", "e_flags 0x5000200"),
    (0x05000000, HARD, "hard", "PT_INTERP"), (0x05000000, SOFT, "soft", "PT_INTERP"),
    (0x05000000, None, None, "unknown"),
])
def test_header_only_stubs_fall_back_to_e_flags_then_loader(flags, interp, want, source):
    abi = read_arm_abi(arm(flags, interp))
    assert abi.float_abi == want and abi.cpu_arch is None and abi.oci_variant is None
    assert source in abi.evidence[-1] and "no section headers" in abi.evidence[0]


def test_labels_without_a_cpu_level():
    assert abi_label(ArmAbi(None, None, "hard")) == "hard-float (armhf, CPU level unknown)"
    assert abi_label(ArmAbi(None, None, "soft")) == "soft-float (armel)"
    assert abi_label(ArmAbi("v7", "v7", None)) == "v7 ARM, float ABI unknown"


@pytest.mark.parametrize("cut", [0, 3, 30, 51])
def test_truncated_headers_raise(cut):
    with pytest.raises(ElfError, match="truncated"):
        read_arm_abi(arm(0x05000400, HARD, aeabi_attributes(10, 1))[:cut])


def test_truncated_section_table_raises():
    data = arm(0x05000400, HARD, aeabi_attributes(10, 1))
    with pytest.raises(ElfError, match="truncated: section headers end at byte"):
        read_arm_abi(data[:-10])


def test_malformed_attributes_raise_clearly():
    blob = aeabi_attributes(10, 1)
    data = bytearray(arm(0x05000400, HARD, blob))
    data[data.index(blob)] = ord("B")  # the format-version byte must be 'A'

    with pytest.raises(ElfError, match=r"malformed \.ARM\.attributes: attributes version 0x42, expected 0x41"):
        read_arm_abi(bytes(data))


@pytest.mark.parametrize("data, message", [
    (b"#!/bin/sh\n", "not an ELF file"),
    (build_elf("aarch64", interp="/lib/ld-linux-aarch64.so.1"), "not a 32-bit ARM ELF (ELF64, e_machine 183)"),
    (build_elf("i386"), "not a 32-bit ARM ELF (ELF32, e_machine 3)"),
])
def test_non_arm_input_raises(data, message):
    with pytest.raises(ElfError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_arm_abi(data)


def test_attributes_parser_skips_other_vendors_sections_and_strings():
    from mab_doctor.host.armabi import file_attributes

    blob = (b"A"
            # a "gnu" subsection (length 15) whose Tag_File claims Tag_CPU_arch 2: not aeabi, ignored
            + b"\x0f\x00\x00\x00" + b"gnu\x00" + b"\x01\x07\x00\x00\x00" + b"\x06\x02"
            # the "aeabi" subsection (length 46)
            + b"\x2e\x00\x00\x00" + b"aeabi\x00"
            # Tag_Section (length 9) for section 1 with Tag_CPU_arch 2: only Tag_File counts
            + b"\x02\x09\x00\x00\x00" + b"\x01\x00" + b"\x06\x02"
            # Tag_File (length 27): Tag_CPU_name "7-A", Tag_compatibility 1 "gnu", Tag_CPU_arch 10 as a
            # two-byte ULEB128, tag 65 (odd: a string), Tag_ABI_VFP_args 1, a second Tag_CPU_arch (ignored)
            + b"\x01\x1b\x00\x00\x00" + b"\x057-A\x00" + b"\x20\x01gnu\x00" + b"\x06\x8a\x00" + b"\x41AB\x00"
            + b"\x1c\x01" + b"\x06\x03")
    assert len(blob) == 62
    assert file_attributes(blob) == {32: 1, 6: 10, 28: 1}
    abi = read_arm_abi(arm(0x05000000, None, blob))
    assert (abi.cpu_arch, abi.oci_variant, abi.float_abi) == ("v7", "v7", "hard")
