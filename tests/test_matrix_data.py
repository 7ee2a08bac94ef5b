"""Invariants of the compatibility matrix data file (doctor/data/matrix.json).

Only the standard library's json is used: the file must stay loadable without the package.
"""

import json
import pathlib
import re

import pytest

MATRIX_PATH = pathlib.Path(__file__).resolve().parent.parent / "doctor" / "data" / "matrix.json"

TOP_LEVEL_KEYS = {"schema", "requirements", "known_environments"}
REQUIREMENT_KEYS = {
    "id", "component", "checks", "minimum", "maximum_exclusive", "known_bad",
    "why", "detection", "remediation", "sources", "verified",
}
# A known-bad entry names one version ("version") or a range ("from" inclusive, "before" exclusive, either
# end open), optionally the targets it hurts, and always what users see, why, and where that is said.
KNOWN_BAD_KEYS = {"version", "from", "before", "targets", "symptom", "why", "source"}
KNOWN_BAD_REQUIRED = {"symptom", "why", "source"}
ENVIRONMENT_KEYS = {
    "id", "distro", "version", "name", "kernel", "binfmt_support", "qemu_user_static",
    "docker", "podman", "buildah", "problems", "sources", "unverified",
}
# Fields of a known environment that hold version strings (or null).
ENVIRONMENT_VERSION_FIELDS = ("version", "kernel", "binfmt_support", "qemu_user_static", "docker", "podman", "buildah")
# Fields that may be named in "unverified": facts about the release, not its identity or our notes.
ENVIRONMENT_FACT_FIELDS = {"name", "kernel", "binfmt_support", "qemu_user_static", "docker", "podman", "buildah"}

# The built-in check names.
SPEC_CHECKS = {
    "host-platform", "emulation-self", "float-abi", "host-resources", "kernel-version", "binfmt-kernel",
    "binfmt-mount", "binfmt-handlers", "binfmt-exec", "binfmt-persist", "docker-cli", "docker-daemon",
    "docker-experimental", "buildx", "buildx-builder", "image-cache", "podman",
}

REQUIRED_REQUIREMENT_IDS = {
    "kernel-binfmt-fix-binary", "kernel-binfmt-misc", "binfmt-misc-mounted", "binfmt-misc-enabled",
    "qemu-handler-registered", "qemu-handler-fix-binary", "qemu-interpreter-static", "binfmt-support-fix-binary",
    "qemu-user-static", "qemu-static-pie-kernel", "docker-cli-plugins", "docker-cli-experimental", "docker-daemon-experimental",
    "buildx-default-builder", "buildx-plugin-discovery", "buildx-multiplatform-driver", "containerd-image-store",
    "docker-armv6-variant", "docker-platform-mismatch-warning", "buildah-multiplatform", "podman-multiplatform",
    "host-memory", "host-cpus", "host-disk",
}
REQUIRED_ENVIRONMENT_IDS = {
    "debian-10", "debian-11", "debian-12", "debian-13", "ubuntu-16.04", "ubuntu-18.04", "ubuntu-20.04",
    "ubuntu-22.04", "ubuntu-24.04", "raspbian-11", "raspbian-12",
}
GUIDELINE_IDS = {"host-memory", "host-cpus", "host-disk"}

KEBAB = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
ENV_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*-[0-9]+(?:\.[0-9]+)*$")
# Optional Debian epoch ("1:"), dot-separated numbers, then an optional suffix that starts with
# a non-digit separator or letter ("+dfsg-7+deb12u18", "-1", "~rc1", "ubuntu1").
VERSION = re.compile(r"^(?:[0-9]+:)?[0-9]+(?:\.[0-9]+)*(?:[-+~a-z][0-9A-Za-z.+~-]*)?$")


@pytest.fixture(scope="module")
def matrix():
    with MATRIX_PATH.open(encoding="utf-8") as f:
        return json.load(f)


@pytest.fixture(scope="module")
def requirements(matrix):
    return {r["id"]: r for r in matrix["requirements"]}


def _non_empty_str(value):
    return isinstance(value, str) and value.strip() != ""


def _is_version(value):
    return isinstance(value, str) and VERSION.match(value) is not None


def test_version_regex_itself():
    for good in ("4.8", "19.03.0", "2.1.7", "1:7.2+dfsg-7+deb12u18", "2.2.1-1+deb11u1", "1:2.5+dfsg-5ubuntu10",
                 "4.9.3+ds1-1ubuntu0.1", "16.04", "2"):
        assert _is_version(good), good
    for bad in ("", "latest", "v20.10", "20.10 ", ">=4.8", "4..8", ".4", "4.8.", "x.y"):
        assert not _is_version(bad), bad


def test_schema_and_top_level_keys(matrix):
    assert matrix["schema"] == "mab-doctor/matrix/v1"
    assert set(matrix) == TOP_LEVEL_KEYS
    assert isinstance(matrix["requirements"], list) and matrix["requirements"]
    assert isinstance(matrix["known_environments"], list) and matrix["known_environments"]


def test_requirement_ids_unique_and_complete(matrix):
    ids = [r["id"] for r in matrix["requirements"]]
    assert len(ids) == len(set(ids)), "duplicate requirement ids"
    assert all(KEBAB.match(i) for i in ids), ids
    missing = REQUIRED_REQUIREMENT_IDS - set(ids)
    assert not missing, missing


def test_requirement_fields(matrix):
    for r in matrix["requirements"]:
        rid = r["id"]
        assert set(r) == REQUIREMENT_KEYS, rid
        for key in ("component", "why", "detection", "remediation"):
            assert _non_empty_str(r[key]), (rid, key)
        assert isinstance(r["checks"], list) and r["checks"], rid
        for name in r["checks"]:
            assert isinstance(name, str) and KEBAB.match(name), (rid, name)
            assert name in SPEC_CHECKS, (rid, name)
        assert isinstance(r["sources"], list) and r["sources"], rid
        assert all(_non_empty_str(s) for s in r["sources"]), rid
        assert isinstance(r["verified"], bool), rid
        assert isinstance(r["known_bad"], list), rid


def test_requirement_versions_parse(matrix):
    for r in matrix["requirements"]:
        for key in ("minimum", "maximum_exclusive"):
            value = r[key]
            assert value is None or _is_version(value), (r["id"], key, value)
        for bad in r["known_bad"]:
            assert KNOWN_BAD_REQUIRED <= set(bad) <= KNOWN_BAD_KEYS, (r["id"], set(bad))
            bounds = [bad.get(k) for k in ("version", "from", "before") if k in bad]
            assert bounds and all(_is_version(v) for v in bounds), (r["id"], bad)
            assert ("version" in bad) != ("from" in bad or "before" in bad), (r["id"], bad)  # one or the other
            if "from" in bad and "before" in bad:
                assert _version_key(bad["from"]) < _version_key(bad["before"]), (r["id"], bad)
            assert all(_non_empty_str(bad[k]) for k in KNOWN_BAD_REQUIRED), r["id"]
            if "targets" in bad:
                assert bad["targets"] and all(re.match(r"^linux/[a-z0-9]+(/v[0-9])?$", t) for t in bad["targets"])


def _version_key(text):
    return tuple(int(p) for p in re.match(r"^[0-9]+(?:\.[0-9]+)*", text).group(0).split("."))


def test_ranges_are_ordered(matrix):
    for r in matrix["requirements"]:
        if r["minimum"] is not None and r["maximum_exclusive"] is not None:
            assert _version_key(r["minimum"]) < _version_key(r["maximum_exclusive"]), r["id"]


def test_specific_thresholds(requirements):
    assert requirements["kernel-binfmt-fix-binary"]["minimum"] == "4.8"
    assert requirements["docker-cli-plugins"]["minimum"] == "19.03.0"
    assert requirements["docker-cli-experimental"]["maximum_exclusive"] == "20.10.0"
    assert requirements["docker-daemon-experimental"]["maximum_exclusive"] == "20.10.0"
    assert requirements["binfmt-support-fix-binary"]["minimum"] == "2.1.7"


def test_unverified_facts_are_marked(requirements):
    # The matrix marks these facts unverified.
    assert requirements["podman-multiplatform"]["verified"] is False
    assert requirements["qemu-user-static"]["verified"] is False


def test_guidelines_are_not_presented_as_upstream_facts(requirements):
    for rid in GUIDELINE_IDS:
        r = requirements[rid]
        assert r["sources"] == ["mab-doctor guideline"], rid
        assert r["verified"] is False, rid
        assert "guideline" in r["why"].lower(), rid
        assert r["checks"] == ["host-resources"], rid
    assert requirements["host-memory"]["minimum"] == "2"
    assert requirements["host-cpus"]["minimum"] == "2"
    assert requirements["host-disk"]["minimum"] == "10"


def test_environment_ids_unique_and_complete(matrix):
    ids = [e["id"] for e in matrix["known_environments"]]
    assert len(ids) == len(set(ids)), "duplicate environment ids"
    assert all(ENV_ID.match(i) for i in ids), ids
    missing = REQUIRED_ENVIRONMENT_IDS - set(ids)
    assert not missing, missing


def test_environment_fields(matrix):
    for e in matrix["known_environments"]:
        eid = e["id"]
        assert set(e) == ENVIRONMENT_KEYS, eid
        assert eid == f"{e['distro']}-{e['version']}", eid
        assert _non_empty_str(e["name"]), eid
        for key in ENVIRONMENT_VERSION_FIELDS:
            value = e[key]
            assert value is None or _is_version(value), (eid, key, value)
        assert isinstance(e["problems"], list), eid
        assert all(_non_empty_str(p) for p in e["problems"]), eid
        assert isinstance(e["sources"], list) and e["sources"], eid
        assert all(_non_empty_str(s) for s in e["sources"]), eid


def test_environment_unverified_names_existing_fields(matrix):
    for e in matrix["known_environments"]:
        unverified = e["unverified"]
        assert isinstance(unverified, list), e["id"]
        assert len(unverified) == len(set(unverified)), e["id"]
        for field in unverified:
            assert field in e, (e["id"], field)
            assert field in ENVIRONMENT_FACT_FIELDS, (e["id"], field)


def test_known_bad_qemu_ranges(requirements):
    got = [(b.get("version"), b.get("from"), b.get("before"), tuple(b.get("targets", ())))
           for b in requirements["qemu-user-static"]["known_bad"]]
    assert got == [(None, "5.1.0", "6.0.0", ("linux/arm64",)), (None, "7.0.0", "7.1.0", ("linux/arm/v7",)),
                   (None, None, "7.2.0", ("linux/amd64",)), (None, "8.1.1", "8.2.10", ("linux/arm64",)),
                   (None, "9.0.0", "9.2.0", ("linux/arm64",)), ("9.2.0", None, None, ("linux/arm64",)),
                   ("9.2.1", None, None, ("linux/arm64",)), ("9.2.2", None, None, ("linux/arm64",))]
    symptoms = {b["symptom"] for b in requirements["qemu-user-static"]["known_bad"]}
    assert symptoms == {"Segmentation fault (core dumped)", "Out of memory allocating 536870912 bytes!",
                        "Fatal glibc error: CPU does not support x86-64-v2",
                        "qemu: uncaught target signal 11 (Segmentation fault) - core dumped"}
    # What could not be confirmed says so.
    inferred = [b["why"] for b in requirements["qemu-user-static"]["known_bad"] if b["why"].startswith("Inferred")]
    assert len(inferred) == 2 and all("unverified" in w for w in inferred)


def test_the_brk_change_is_listed_per_stable_series(requirements):
    kernel = requirements["qemu-static-pie-kernel"]
    assert [(b.get("from"), b.get("before")) for b in kernel["known_bad"]] == [
        ("5.4.283", "5.5"), ("5.10.225", "5.11"), ("5.15.166", "5.16"), ("6.1.107", "6.2"), ("6.6.48", "6.7"),
        ("6.9", None)]
    assert kernel["checks"] == ["binfmt-handlers"] and kernel["verified"] is True
    assert "x86: Increase brk randomness entropy for 64-bit systems" in kernel["why"]
    assert "1:7.2+dfsg-7+deb12u9" in kernel["remediation"]


def test_corrected_environment_facts(matrix):
    envs = {e["id"]: e for e in matrix["known_environments"]}
    assert envs["ubuntu-16.04"]["docker"] == "1.10.3" and "docker" not in envs["ubuntu-16.04"]["unverified"]
    assert envs["debian-13"]["qemu_user_static"] == "1:10.0.13+ds-0+deb13u1"
    assert "1:10.0.2+ds-2" in envs["debian-13"]["problems"][0] and "1:9.1.0+ds-1" in envs["debian-13"]["problems"][0]
    assert not any("snapshot 2025" in s for s in envs["debian-12"]["sources"])
    assert not any("10.0 packaging" in p or "pre-10.0" in p for e in envs.values() for p in e["problems"])
