"""Podman's storage files read directly agree with `podman images` + `podman image inspect` (real Podman 4.3)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid

import pytest

from mab_doctor.core.context import Context
from mab_doctor.engines import localimages
from mab_doctor.engines.podmanstore import StoreImages, read_podman_store

PLATFORM_KEYS = ("Os", "Architecture", "Variant")


def sh(*argv: str) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=180)
    if done.returncode != 0:
        pytest.fail(f"{' '.join(argv)}: exit {done.returncode}: {done.stderr[-800:]}")
    return done.stdout


def all_images() -> list[str]:
    """Every image Podman has (dangling and intermediate ones too), as "id names" lines."""
    rows = json.loads(sh("podman", "images", "-a", "--no-trunc", "--format", "json") or "[]")
    return sorted(f"{r['Id']} {sorted(r.get('Names') or [])}" for r in rows)


def via_cli(ctx: Context, monkeypatch) -> localimages.Listed:
    """The listing as the CLI gives it: the storage reader answers "unsure" for this call."""
    with monkeypatch.context() as patch:
        patch.setattr(localimages, "read_podman_store", lambda _ctx: StoreImages(False, "off for the test"))
        return localimages._podman_images(ctx, shutil.which("podman"))


def platforms(listed: localimages.Listed) -> dict:
    return {id_: {k: (doc or {}).get(k) for k in PLATFORM_KEYS} for id_, doc in listed.docs.items()}


@pytest.fixture
def podman():
    if shutil.which("podman") is None:
        pytest.skip("podman is not installed")
    before = all_images()
    print(f"podman images before: {before}")
    created: list[str] = []
    yield created
    for image in created:
        subprocess.run(["podman", "rmi", "-f", image], capture_output=True, timeout=120)
    after = all_images()
    print(f"podman images after: {after}")
    assert after == before, "the test left Podman's images changed"


def build(tmp_path, tag: str, platform: str, busybox, *, extra: str = "") -> None:
    folder = tmp_path / tag.replace("/", "_").replace(":", "_")
    folder.mkdir(exist_ok=True)
    shutil.copy(busybox, folder / "busybox")
    (folder / "Containerfile").write_text(f"FROM scratch\nCOPY busybox /bin/busybox\n{extra}")
    sh("podman", "build", "--network", "none", "--platform", platform, "-t", tag, str(folder))


def test_storage_reader_equals_the_cli_for_real_images(tmp_path, monkeypatch, podman, busybox_arm64, busybox_armhf,
                                                       busybox_native):
    prefix = f"localhost/mabtest-store-{uuid.uuid4().hex[:8]}"
    arm64, armv7, native = f"{prefix}-a:arm64", f"{prefix}-b:armv7", f"{prefix}-c:native"
    second, dangling = f"{prefix}-a:second", f"{prefix}-d:old"
    podman += [arm64, armv7, native, second, dangling]
    build(tmp_path, arm64, "linux/arm64", busybox_arm64)
    build(tmp_path, armv7, "linux/arm/v7", busybox_armhf)
    build(tmp_path, native, "linux/amd64", busybox_native)
    sh("podman", "tag", arm64, second)  # one image, two names
    build(tmp_path, dangling, "linux/arm64", busybox_arm64, extra="LABEL v=1\n")
    old_id = sh("podman", "image", "inspect", "--format", "{{.Id}}", dangling).strip()
    build(tmp_path, dangling, "linux/arm64", busybox_arm64, extra="LABEL v=2\n")  # the old one loses its name
    podman.append(old_id)
    ctx = Context()
    stored = read_podman_store(ctx)
    assert stored.images, stored.why
    direct = localimages._podman_images(ctx, shutil.which("podman"))
    cli = via_cli(ctx, monkeypatch)
    assert cli.problems == () and direct.problems == ()
    assert sorted(direct.named) == sorted(cli.named) and len(set(direct.named)) == len(direct.named)
    assert platforms(direct) == platforms(cli)
    ids = dict(direct.named)
    assert old_id not in direct.docs  # dangling: left out by both
    assert ids[arm64] == ids[second]
    mine = {name: direct.docs[ids[name]] for name in (arm64, armv7, native)}
    assert {n: (d["Os"], d["Architecture"]) for n, d in mine.items()} == {
        arm64: ("linux", "arm64"), armv7: ("linux", "arm"), native: ("linux", "amd64")}
    assert all("Variant" not in cli.docs[ids[n]] for n in mine)  # Podman 4.3's inspect has no Variant


def test_an_empty_store_is_an_empty_listing_like_the_cli(podman, monkeypatch):
    if all_images():
        pytest.skip("Podman has images of others: the empty case cannot be seen here")
    ctx = Context()
    assert localimages._podman_images(ctx, shutil.which("podman")) == via_cli(ctx, monkeypatch) == localimages.Listed()
    assert read_podman_store(ctx).images is True
    assert os.path.isdir("/var/lib/containers/storage")


def test_a_real_manifest_list_is_left_to_the_cli(podman, monkeypatch):
    name = f"localhost/mabtest-store-{uuid.uuid4().hex[:8]}-list:1"
    podman.append(name)
    sh("podman", "manifest", "create", name)
    ctx = Context()
    stored = read_podman_store(ctx)
    assert (stored.images, stored.why.endswith("is a manifest list")) == (False, True), stored.why
    assert name in dict(localimages._podman_images(ctx, shutil.which("podman")).named)
