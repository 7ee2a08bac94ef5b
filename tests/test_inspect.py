"""`inspect`: ELF files, trees and local images in the platform vocabulary."""

from __future__ import annotations

import json
import os
from importlib import resources

import pytest

from mab_doctor.cli import main
from mab_doctor.core.context import CommandResult
from mab_doctor.inspection.inspect import inspect_dir, inspect_elf
from mab_doctor.inspection.images import inspect_image
from elfbuild import build_elf
from helpers import host

EF_SOFT, EF_HARD = 0x05000200, 0x05000400  # EABI5 + float ABI bit
ARMHF_LD = "/lib/ld-linux-armhf.so.3"


@pytest.fixture(scope="module")
def validator():
    import jsonschema

    schema = json.loads(resources.files("mab_doctor").joinpath("data/inspect-v1.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.fixture(autouse=True)
def no_engines(monkeypatch, tmp_path_factory):
    """No docker or podman on PATH: a name that is no file must not reach a real daemon."""
    monkeypatch.setenv("PATH", str(tmp_path_factory.mktemp("empty-path")))


@pytest.fixture
def files(tmp_path):
    """The fixture ELF files (and friends) by name."""
    made = {
        "amd64": build_elf("x86_64", interp="/lib64/ld-linux-x86-64.so.2", e_type=3),
        "arm64": build_elf("aarch64"),
        "armel": build_elf("arm", flags=EF_SOFT, interp="/lib/ld-linux.so.3"),
        "armhf": build_elf("arm", flags=EF_HARD, interp=ARMHF_LD),
        "s390x": build_elf("s390x"),
        "riscv64": build_elf("riscv64"),
    }
    made["truncated"] = made["amd64"][:30]
    made["text"] = b"#!/bin/sh\necho not an ELF\n"
    out = {}
    for name, data in made.items():
        (tmp_path / name).write_bytes(data)
        out[name] = str(tmp_path / name)
    return out


def run_json(capsys, *argv) -> tuple[int, dict]:
    code = main(["inspect", "--format", "json", *argv])
    out = capsys.readouterr().out
    return code, json.loads(out)


@pytest.mark.parametrize("name, want", [
    ("amd64", {"oci_platform": "linux/amd64", "debian_arch": "amd64", "elf_class": 64, "endianness": "little",
               "machine": "EM_X86_64", "static": False, "interpreter": "/lib64/ld-linux-x86-64.so.2",
               "arm_arch": None, "float_abi": None}),
    ("arm64", {"oci_platform": "linux/arm64", "debian_arch": "arm64", "machine": "EM_AARCH64", "static": True,
               "interpreter": None}),
    ("armel", {"oci_platform": "linux/arm/v5", "debian_arch": "armel", "elf_class": 32, "machine": "EM_ARM",
               "float_abi": "soft"}),
    ("armhf", {"oci_platform": "linux/arm/v7", "debian_arch": "armhf", "float_abi": "hard",
               "interpreter": ARMHF_LD}),
    ("s390x", {"oci_platform": "linux/s390x", "debian_arch": "s390x", "endianness": "big", "machine": "EM_S390"}),
    ("riscv64", {"oci_platform": "linux/riscv64", "debian_arch": "riscv64", "machine": "EM_RISCV"}),
])
def test_elf_identity(capsys, validator, files, name, want):
    code, doc = run_json(capsys, files[name])
    assert code == 0
    assert not list(validator.iter_errors(doc))
    item = doc["items"][0]
    assert item["kind"] == "elf" and item["input"] == files[name]
    assert {k: item[k] for k in want} == want
    assert item["runs_here"] in ("native", "emulated", "no")


@pytest.mark.parametrize("name, fragment", [("truncated", "truncated"), ("text", "not an ELF")])
def test_bad_files_are_unreadable_items(capsys, validator, files, name, fragment):
    code, doc = run_json(capsys, files[name])
    assert code == 1  # nothing readable was inspected
    assert not list(validator.iter_errors(doc))
    item = doc["items"][0]
    assert item["kind"] == "unreadable" and fragment in item["error"] and "\n" not in item["error"]


def test_section_table_beyond_end_is_truncated(tmp_path):
    from elfbuild import aeabi_attributes

    whole = build_elf("arm", flags=EF_HARD, arm_attributes=aeabi_attributes(10, 1))
    path = tmp_path / "cut"
    path.write_bytes(whole[:-20])
    item = inspect_elf(host("debian-12-amd64-qemu"), str(path))
    assert item["kind"] == "unreadable" and "truncated" in item["error"]


def test_runs_here_from_host_and_binfmt(files):
    ctx = host("debian-12-amd64-qemu")
    assert inspect_elf(ctx, files["amd64"])["runs_here"] == "native"
    arm64 = inspect_elf(ctx, files["arm64"])
    assert arm64["runs_here"] == "emulated" and arm64["handler"] == "qemu-aarch64"
    bare = host("ubuntu-18.04-kernel-4.4-no-binfmt")
    assert inspect_elf(bare, files["riscv64"])["runs_here"] == "no"
    assert "handler" not in inspect_elf(bare, files["riscv64"])


def test_directory_groups_by_platform(capsys, validator, tmp_path):
    tree = tmp_path / "tree"
    (tree / "bin").mkdir(parents=True)
    (tree / "lib").mkdir()
    (tree / "bin" / "tool-amd64").write_bytes(build_elf("x86_64"))
    (tree / "bin" / "tool-arm64").write_bytes(build_elf("aarch64"))
    (tree / "lib" / "libx.so").write_bytes(build_elf("aarch64", e_type=3))
    (tree / "lib" / "x.o").write_bytes(build_elf("riscv64", e_type=1))  # objects do not count
    (tree / "bin" / "broken").write_bytes(build_elf("x86_64")[:30])
    (tree / "README").write_text("text")
    (tree / "bin" / "link").symlink_to("/bin/ls")  # links are not followed out of the tree
    code, doc = run_json(capsys, str(tree))
    assert code == 0
    assert not list(validator.iter_errors(doc))
    item = doc["items"][0]
    assert item["kind"] == "dir" and item["mixed"] is True
    assert item["platforms"] == {"linux/amd64": ["bin/tool-amd64"], "linux/arm64": ["bin/tool-arm64", "lib/libx.so"]}
    assert [u["path"] for u in item["unreadable"]] == ["bin/broken"]
    assert "truncated" in item["unreadable"][0]["error"]

    assert main(["inspect", str(tree)]) == 0
    text = capsys.readouterr().out
    assert "MIXED ARCHITECTURES" in text and "bin/tool-amd64" in text and "bin/tool-arm64" in text
    assert "unreadable: bin/broken" in text


def test_single_platform_directory(tmp_path):
    (tmp_path / "a").write_bytes(build_elf("aarch64"))
    (tmp_path / "b").write_bytes(build_elf("aarch64", interp="/lib/ld-linux-aarch64.so.1", e_type=3))
    item = inspect_dir(host("debian-12-amd64-qemu"), str(tmp_path))
    assert item["platforms"] == {"linux/arm64": ["a", "b"]} and item["mixed"] is False


def test_explicit_platform_decides_exit_code(capsys, files, tmp_path):
    assert main(["inspect", "--platform", "linux/arm64", files["amd64"]]) == 1
    assert "NOT A REQUESTED PLATFORM: linux/amd64" in capsys.readouterr().out
    code, doc = run_json(capsys, "--platform", "linux/arm64", files["arm64"])
    assert code == 0 and doc["items"][0]["not_requested"] == []
    code, doc = run_json(capsys, files["amd64"], files["arm64"], "--platform", "linux/arm64")
    assert code == 1 and doc["requested_platforms"] == ["linux/arm64"]
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "x").write_bytes(build_elf("x86_64"))
    assert main(["inspect", "--platform", "linux/arm64", str(tmp_path / "t")]) == 1
    capsys.readouterr()


def test_default_targets_do_not_judge(capsys, files, monkeypatch):
    monkeypatch.setenv("MAB_PLATFORMS", "linux/arm64")
    code, doc = run_json(capsys, files["amd64"])
    assert code == 0 and "not_requested" not in doc["items"][0]


def test_text_block(capsys, files):
    assert main(["inspect", files["armhf"]]) == 0
    out = capsys.readouterr().out
    assert out.startswith(files["armhf"])
    for line in ("platform     linux/arm/v7", "Debian arch  armhf", "32-bit little-endian EM_ARM",
                 "float ABI hard", f"dynamic, loader {ARMHF_LD}", "runs here"):
        assert line in out


def test_nonexistent_input(capsys, validator, files):
    code, doc = run_json(capsys, "/nonexistent/file", "no-such-image:latest")
    assert code == 1
    assert not list(validator.iter_errors(doc))
    assert [i["error"] for i in doc["items"]] == ["no such file, directory or local image"] * 2
    code, doc = run_json(capsys, "/nonexistent/file", files["arm64"])
    assert code == 0  # one readable input is enough


def test_inspect_usage_errors(capsys):
    assert main(["inspect"]) == 2
    assert main(["--deep", "platform"]) == 2
    assert "unrecognized arguments: --deep" in capsys.readouterr().err


def test_docker_image_declared_platform(make_host, validator):
    docker = "/usr/bin/docker"
    commands = {
        (docker, "version", "--format", "{{json .}}"):
            CommandResult((), 0, json.dumps({"Client": {"Version": "20.10.24"}, "Server": {"Version": "20.10.24"}})),
        (docker, "info", "--format", "{{json .}}"): CommandResult((), 0, "{}"),
        (docker, "image", "inspect", "--format", "{{json .}}", "demo:1"):
            CommandResult((), 0, json.dumps({"Id": "sha256:ab", "Os": "linux", "Architecture": "arm", "Variant": "v6"})),
    }
    ctx = make_host({"/usr/bin/docker": "#!/bin/sh\n"}, commands=commands)
    os.chmod(ctx.path("/usr/bin/docker"), 0o755)
    item = inspect_image(ctx, "demo:1", deep=False)
    assert item["kind"] == "image" and item["engine"] == "docker"
    assert item["oci_platform"] == "linux/arm/v6" and item["debian_arch"] == "armhf"
    assert not list(validator.iter_errors({"schema": "mab-doctor/inspect/v1", "items": [item]}))


def test_image_tar_with_a_crafted_file_lists_it_and_goes_on():
    import io
    import tarfile

    from mab_doctor.inspection.elffiles import scan_tree
    from mab_doctor.inspection.images import _tar_files

    crafted = build_elf("arm", flags=EF_HARD, arm_attributes=b"A\x00\x00\x00\x00")  # a zero-length subsection
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, content in (("bin/sh", crafted), ("bin/tool", build_elf("aarch64")),
                              ("usr/bin/x", build_elf("arm", flags=EF_HARD, interp=ARMHF_LD))):
            member = tarfile.TarInfo(name)
            member.size = len(content)
            tar.addfile(member, io.BytesIO(content))
    buffer.seek(0)
    with tarfile.open(fileobj=buffer) as tar:
        tree = scan_tree(_tar_files(tar))
    assert tree["platforms"] == {"linux/arm/v7": ["usr/bin/x"], "linux/arm64": ["bin/tool"]}
    assert tree["unreadable"] == [{"path": "bin/sh", "error": "not a readable ELF file: malformed .ARM.attributes: "
                                                              "zero-length subsection at byte 1"}]
