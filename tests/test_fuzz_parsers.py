"""Property-based fuzzing of the parsers of host data: no exception but the declared one, and round trips.

The binfmt_misc properties are differential: the fake kernel in tests/fakes follows fs/binfmt_misc.c,
so what the doctor accepts must be what the kernel accepts, and what it reads back must be what the
kernel would print. Examples are derandomized (the same every run) and bounded so the whole module
takes seconds.
"""

from __future__ import annotations

import json
import string

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from fakes.binfmt_parse import KernelEntry, parse_register
from mab_doctor.core.jsonout import json_documents
from mab_doctor.emulation.binfmt import Entry, EntryError, parse_entry, parse_register_line
from mab_doctor.engines.buildx import parse_ls_json, parse_ls_table, validate_metadata
from mab_doctor.host.hostinfo import arm_cpu_variant, cpuinfo_field
from mab_doctor.host.packages import installed_fields, paragraphs
from mab_doctor.host.matrix import parse_version, version_lt
from mab_doctor.host.platforms import PlatformError, parse_platform, parse_platform_list

FUZZ = settings(max_examples=300, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
ANY_TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=400)
NAME_CHARS = string.ascii_letters + string.digits + "-_.:/\\ \n\x00é"


def _escaped(raw: bytes) -> str:
    return "".join(f"\\x{b:02x}" for b in raw)


@st.composite
def register_lines(draw) -> str:
    """Register strings near the kernel's grammar: mostly valid, often just off."""
    delim = draw(st.sampled_from([":", ":", ":", "#", "|"]))
    name = draw(st.text(alphabet=NAME_CHARS, min_size=0, max_size=12))
    kind = draw(st.sampled_from(["M", "M", "M", "E", "X", ""]))
    offset = draw(st.one_of(st.just(""), st.integers(-5, 300).map(str), st.just("99999999999999999999"),
                            st.just("1e3")))
    magic = draw(st.binary(min_size=0, max_size=40))
    mask = draw(st.one_of(st.none(), st.binary(min_size=len(magic), max_size=len(magic)),
                          st.binary(min_size=0, max_size=40)))
    interp = draw(st.sampled_from(["/usr/bin/qemu-aarch64-static", "/q", "", "/a:b", "rel/path"]))
    flags = draw(st.text(alphabet="POCFpx", max_size=5))
    magic_text = _escaped(magic) if draw(st.booleans()) else magic.decode("latin-1").replace(delim, "")
    fields = [name, kind, offset, magic_text, "" if mask is None else _escaped(mask), interp, flags]
    if kind == "E":
        fields[3] = draw(st.sampled_from(["jar", "", "a/b", "py"]))
    cut = draw(st.integers(5, 7))
    return delim + delim.join(fields[:cut])


def _as_entry(k: KernelEntry) -> tuple:
    return (k.name, k.interpreter, k.flags, k.magic, k.mask, k.offset, k.extension)


def _ours(e: Entry) -> tuple:
    if e.kind == "E":
        return (e.name, e.interpreter, e.flags, b"", None, 0, e.extension)
    return (e.name, e.interpreter, e.flags, e.magic, e.mask, e.offset, None)


@FUZZ
@given(register_lines())
def test_register_lines_the_kernel_accepts_parse_to_the_same_entry(line):
    try:
        kernel = parse_register(line)
    except OSError:
        return  # the kernel refuses it; what the doctor then says is the next test's business
    mine = parse_register_line(line)
    assert _ours(mine) == _as_entry(kernel)
    # The doctor's own register string for that entry is accepted by the kernel and means the same.
    assert _as_entry(parse_register(mine.register_string())) == _as_entry(kernel)


@FUZZ
@given(register_lines())
def test_a_register_line_the_kernel_refuses_is_never_taken_for_a_handler(line):
    try:
        parse_register(line)
        return
    except OSError:
        pass
    try:
        mine = parse_register_line(line)
    except EntryError:
        return
    # Accepted by the doctor although the kernel would refuse it: only tolerable when the doctor's
    # rebuilt string is valid (the doctor normalises, e.g. flag order); it must never keep a value
    # the kernel cannot hold.
    kernel = parse_register(mine.register_string())
    assert _as_entry(kernel) == _ours(mine)


@FUZZ
@given(register_lines(), st.booleans())
def test_entry_files_read_back_as_the_kernel_printed_them(line, enabled):
    try:
        kernel = parse_register(line)
    except OSError:
        return
    kernel.enabled = enabled
    entry = parse_entry(kernel.name, kernel.text())
    assert _ours(entry) == _as_entry(kernel) and entry.enabled is enabled


@st.composite
def damaged_entry_texts(draw) -> str:
    base = KernelEntry("qemu-aarch64", "/usr/bin/qemu-aarch64-static", "OCF", magic=b"\x7fELF\x02\x01\x01",
                       mask=b"\xff" * 7, offset=draw(st.integers(0, 249))).text()
    lines = base.splitlines()
    i = draw(st.integers(0, len(lines) - 1))
    replacement = draw(st.one_of(
        ANY_TEXT.map(lambda t: t.replace("\n", " ")),
        st.sampled_from(["offset -1", "offset 9" * 700, "mask ", "mask ff", "magic ", "magic zz",
                         "flags: XYZ", "interpreter ", "enabled", "disabled", "extension ."]),
    ))
    lines[i] = replacement
    return "\n".join(lines) + "\n"


@FUZZ
@given(damaged_entry_texts())
def test_a_damaged_entry_file_is_garbage_or_something_the_kernel_could_hold(text):
    try:
        entry = parse_entry("qemu-aarch64", text)
    except EntryError as exc:
        assert "\n" not in str(exc) and len(str(exc)) < 2000  # one readable line
        return
    if entry.kind == "M":
        kernel = parse_register(entry.register_string())  # OSError here: reported as working, wrongly
        assert _as_entry(kernel) == _ours(entry)


@FUZZ
@given(ANY_TEXT)
def test_platform_strings_parse_or_say_why(text):
    try:
        target = parse_platform(text)
    except PlatformError as exc:
        assert "\n" not in str(exc)
        return
    assert parse_platform(str(target)) == target  # the canonical form is a fixed point


@FUZZ
@given(st.lists(st.sampled_from(["linux/arm64", "arm64", "linux/arm/v7", "armhf", "aarch64", "linux/amd64",
                                 "linux/riscv64", "", " ", "linux/arm/v9", "x", "linux/arm64/v8"]), max_size=8))
def test_platform_lists_keep_order_and_drop_duplicates(items):
    text = ",".join(items)
    try:
        targets = parse_platform_list(text)
    except PlatformError:
        return
    names = [str(t) for t in targets]
    assert len(names) == len(set(names)) and parse_platform_list(",".join(names)) == targets


CPUINFO_KEYS = ["processor", "model name", "CPU architecture", "Features", "Hardware", "CPU part"]


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(CPUINFO_KEYS + ["x"]), ANY_TEXT), max_size=12),
       st.sampled_from(["armv6l", "armv7l", "aarch64", "x86_64", "", "armv99"]),
       st.sampled_from(["arm", "arm64", "amd64"]))
def test_cpuinfo_never_breaks_the_variant_rule(pairs, machine, goarch):
    cpuinfo = "\n".join(f"{k}\t: {v}" for k, v in pairs)
    variant = arm_cpu_variant(cpuinfo, machine, goarch)
    assert variant is None or (variant.startswith("v") and variant[1:].isdigit())
    for key in CPUINFO_KEYS:
        value = cpuinfo_field(cpuinfo, key)
        assert value is None or value == value.strip()


@FUZZ
@given(ANY_TEXT, st.sampled_from(["dpkg", "qemu-user-static", "docker.io"]))
def test_dpkg_status_text_never_breaks(text, package):
    status = text.encode("utf-8", "surrogateescape")
    found = paragraphs(status, package)
    assert isinstance(found, list) and all(isinstance(f, dict) for f in found)
    stanza = installed_fields(status, package)
    assert stanza == {} or (stanza in found and stanza["Status"] in ("install ok installed", "hold ok installed"))


@FUZZ
@given(st.one_of(ANY_TEXT, st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                                        lambda inner: st.lists(inner, max_size=4)
                                        | st.dictionaries(st.text(max_size=6), inner, max_size=4),
                                        max_leaves=20).map(json.dumps)))
def test_command_output_json_is_objects_or_none(text):
    docs = json_documents(text)
    assert docs is None or all(isinstance(d, dict) for d in docs)


@FUZZ
@given(ANY_TEXT)
def test_buildx_outputs_and_metadata_parse_or_say_why(text):
    for parse in (parse_ls_json, parse_ls_table):
        try:
            builders = parse(text)
        except ValueError:
            continue
        assert all(b.name == b.name.strip() for b in builders)
    data, problem = validate_metadata(text)
    assert data is None or isinstance(data, dict)
    assert problem is None or "\n" not in problem


@FUZZ
@given(st.one_of(ANY_TEXT, st.lists(st.integers(0, 10**6), min_size=1, max_size=5).map(
    lambda xs: ".".join(map(str, xs)))), st.lists(st.integers(0, 99), min_size=1, max_size=4))
def test_versions_compare_consistently(text, parts):
    parsed = parse_version(text)
    assume(parsed is not None)
    other = ".".join(map(str, parts))
    assert not (version_lt(text, other) and version_lt(other, text))
    assert not version_lt(text, text)


# ----- files the checks read under --root, and ELF data -------------------------------------------

from mab_doctor.host.armabi import file_attributes, read_arm_abi  # noqa: E402
from mab_doctor.host.elf import ElfError, parse_header  # noqa: E402

from elfbuild import aeabi_attributes, build_elf  # noqa: E402

GOOD_ELVES = [build_elf("arm", flags=0x05000400, interp="/lib/ld-linux-armhf.so.3",
                        arm_attributes=aeabi_attributes(10, 1)),
              build_elf("arm", flags=0x05000200, arm_attributes=aeabi_attributes(5, None)),
              build_elf("aarch64", interp="/lib/ld-linux-aarch64.so.1"), build_elf("x86_64")]


@FUZZ
@given(st.sampled_from(GOOD_ELVES), st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)), max_size=6),
       st.integers(0, 420))
def test_damaged_elf_files_are_read_or_refused_never_more(good, flips, cut):
    data = bytearray(good)
    for pos, value in flips:
        if pos < len(data):
            data[pos] = value
    data = bytes(data[:cut] if cut < len(data) else data)
    for size in (None, len(data)):
        try:
            header = parse_header(data, size)
        except ElfError as exc:
            assert "\n" not in str(exc) and str(exc)
            continue
        assert header.elf_class in (32, 64) and header.endian in ("little", "big")
    try:
        abi = read_arm_abi(data)
    except ElfError:
        return
    assert abi is not None


@FUZZ
@given(st.binary(max_size=300), st.sampled_from(["<", ">"]))
def test_attribute_sections_of_any_bytes_parse_or_say_why(blob, order):
    try:
        tags = file_attributes(blob, order)
    except ElfError as exc:
        assert str(exc)
        return
    assert all(isinstance(k, int) and isinstance(v, int) and v >= 0 for k, v in tags.items())


MOUNT_LINE = st.lists(st.sampled_from(["36", "25", "0:31", "/", "/proc/sys/fs/binfmt_misc", "rw,relatime",
                                       "shared:12", "-", "binfmt_misc", "systemd-1", "autofs", "rw", "", "x y"]),
                      max_size=12).map(" ".join)


@FUZZ
@given(st.lists(st.one_of(MOUNT_LINE, ANY_TEXT), max_size=8))
def test_mountinfo_lines_give_only_filesystem_types_at_the_mount_point(lines):
    from mab_doctor.checks.binfmt_mount import mount_types

    types = mount_types("\n".join(lines))
    assert all(t and " " not in t for t in types)


@FUZZ
@given(st.lists(st.one_of(st.sampled_from(["ID=debian", 'VERSION_ID="12"', 'PRETTY_NAME="Debian GNU/Linux 12"',
                                           "ID_LIKE=ubuntu debian", "ID=", "=", '"', "ID='x", "#c"]),
                          ANY_TEXT), max_size=8),
       st.binary(max_size=40))
def test_os_release_of_any_content_gives_a_distro_or_nothing(tmp_path_factory, lines, tail):
    from helpers import make_context

    root = tmp_path_factory.mktemp("osr")
    (root / "etc").mkdir()
    (root / "etc" / "os-release").write_bytes("\n".join(lines).encode("utf-8", "surrogatepass") + tail)
    info = make_context(root).distro()
    for value in (info.id(), info.version(), info.name(pretty=True), info.like()):
        assert isinstance(value, str) and "\x00" not in value


@FUZZ
@given(ANY_TEXT, st.sampled_from(["CONFIG_BINFMT_MISC=y", "CONFIG_BINFMT_MISC=m", "# CONFIG_BINFMT_MISC is not set",
                                  "CONFIG_BINFMT_MISC=x", ""]), st.booleans())
def test_kernel_configs_of_any_content_answer_y_m_n_or_unknown(tmp_path_factory, noise, line, zipped):
    import gzip

    from helpers import make_context
    from mab_doctor.checks.binfmt_kernel import kernel_config_value

    root = tmp_path_factory.mktemp("cfg")
    body = f"{noise}\n{line}\n".encode("utf-8", "surrogatepass")
    target = root / ("proc/config.gz" if zipped else "boot/config-6.1.0")
    target.parent.mkdir(parents=True)
    target.write_bytes(gzip.compress(body) if zipped else body)
    value, source = kernel_config_value(make_context(root), "6.1.0")
    expected = {"CONFIG_BINFMT_MISC=y": "y", "CONFIG_BINFMT_MISC=m": "m",
                "# CONFIG_BINFMT_MISC is not set": "n"}.get(line)
    if expected and f"\n{line}\n" in f"\n{noise}\n{line}\n":
        assert value in ("y", "m", "n") and source == "/" + str(target.relative_to(root))
    else:
        assert value in ("y", "m", "n", None)
