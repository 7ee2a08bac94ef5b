"""Podman's images read from containers-storage fixture trees: the same listing, or the CLI when unsure."""

from __future__ import annotations

import base64
import hashlib
import json
import os

import pytest

from mab_doctor.core.commands import RefusingRunner
from mab_doctor.core.context import CommandResult
from mab_doctor.engines.localimages import Listed, _podman_images
from mab_doctor.engines.podmanstore import LIST_LIMIT, big_data_name, read_podman_store

PODMAN = "/usr/bin/podman"
G = "/var/lib/containers/storage"
IMAGES = f"{G}/overlay-images"
DOCKER_V2 = "application/vnd.docker.distribution.manifest.v2+json"
OCI = "application/vnd.oci.image.manifest.v1+json"


@pytest.fixture(autouse=True)
def as_root(monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 0)


def image(names, arch="amd64", variant=None, *, kind=DOCKER_V2, images=IMAGES, config=None, extra=()):
    """(images.json row, files) of one stored image, laid out as Podman 4.3 writes it."""
    blob = json.dumps(config if config is not None else
                      {"os": "linux", "architecture": arch, **({"variant": variant} if variant else {})}).encode()
    digest = "sha256:" + hashlib.sha256(blob).hexdigest()
    id_ = digest[7:]
    manifest = {"schemaVersion": 2, "mediaType": kind, "layers": [],
                "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": digest}}
    if kind is None:
        del manifest["mediaType"]
        manifest["config"]["mediaType"] = "application/vnd.oci.image.config.v1+json"
    row = {"id": id_, "names": names, "big-data-names": [digest, "manifest", *extra]}
    files = {f"{images}/{id_}/manifest": json.dumps(manifest),
             f"{images}/{id_}/=" + base64.b64encode(digest.encode()).decode(): blob}
    return row, files


def store(make_host, *images, env=None, commands=None, extra=None, folder=IMAGES):
    files = {PODMAN: "#!/bin/sh\n", f"{folder}/images.json": json.dumps([row for row, _ in images])}
    for _, more in images:
        files.update(more)
    ctx = make_host({**files, **(extra or {})}, env=env or {"PATH": "/usr/bin"}, commands=commands)
    ctx.live = True  # the fake runner "runs" commands; none is expected unless given
    return ctx


def listed(ctx) -> Listed:
    return _podman_images(ctx, PODMAN)


def test_big_data_file_names_as_podman_4_3_wrote_them_here():
    # Names copied from a real /var/lib/containers/storage/overlay-images/<id>/ on Podman 4.3.1.
    assert big_data_name("manifest") == "manifest"
    assert big_data_name("instances.json") == "instances.json"
    assert big_data_name("sha256:ff3a5a4bbfbb483d833d8bf88a9d7cb5932becf4a61a2578f41b03fc9f6277e9") == (
        "=c2hhMjU2OmZmM2E1YTRiYmZiYjQ4M2Q4MzNkOGJmODhhOWQ3Y2I1OTMyYmVjZjRhNjFhMjU3OGY0MWIwM2ZjOWY2Mjc3ZTk=")
    assert big_data_name("abc:") == "abc:"  # makeBigDataBaseName: an odd character read last is kept


def test_architectures_names_and_dangling_images_without_any_command(make_host):
    amd, arm64, armv7 = image(["localhost/a:amd64"]), image(["localhost/b:arm64", "localhost/b:two"], "arm64"), \
        image(["docker.io/library/c:v7"], "arm", "v7")
    dangling = image([], "s390x")
    ctx = store(make_host, amd, arm64, dangling, armv7)
    got = listed(ctx)
    a, b, c = amd[0]["id"], arm64[0]["id"], armv7[0]["id"]
    assert got.named == (("docker.io/library/c:v7", c), ("localhost/b:arm64", b), ("localhost/b:two", b),
                         ("localhost/a:amd64", a))  # newest (last written) first
    assert got.docs == {c: {"Id": c, "Os": "linux", "Architecture": "arm"},  # inspect reports no Variant
                        b: {"Id": b, "Os": "linux", "Architecture": "arm64"},
                        a: {"Id": a, "Os": "linux", "Architecture": "amd64"}}
    assert got.problems == ()
    assert ctx.runner.calls == []


def test_an_oci_manifest_without_media_type_is_read_by_its_config_type(make_host):
    one = image(["localhost/oci:1"], "ppc64le", kind=None)
    assert listed(store(make_host, one)).docs[one[0]["id"]]["Architecture"] == "ppc64le"


def test_podman_set_up_but_nothing_stored_is_an_empty_listing(make_host):
    empty = make_host({PODMAN: "", f"{G}/overlay/l/.keep": ""}, env={"PATH": "/usr/bin"})
    empty.live = True
    assert listed(empty) == Listed()
    assert read_podman_store(empty).images_dir == IMAGES
    no_file = make_host({PODMAN: "", f"{IMAGES}/images.lock": ""}, env={"PATH": "/usr/bin"})
    no_file.live = True
    assert listed(no_file) == Listed() and no_file.runner.calls == []
    blank = store(make_host, extra={f"{IMAGES}/images.json": ""})
    assert listed(blank) == Listed()


CLI_ROW = json.dumps([{"Id": "f" * 64, "Names": ["localhost/x:1"]}, {"Id": "f" * 64, "Names": ["localhost/x:1"]}])
CLI = {(PODMAN, "images", "--format", "json"): CommandResult((), 0, CLI_ROW, ""),
       (PODMAN, "image", "inspect", "f" * 64): CommandResult((), 0, json.dumps(
           [{"Id": "f" * 64, "Os": "linux", "Architecture": "arm64"}]), "")}


def falls_back(ctx, reason: str) -> None:
    """The files leave it open: the reason says why, and the CLI answers (its rows kept once each)."""
    answer = read_podman_store(ctx)
    assert (answer.images, reason in answer.why) == (False, True), answer.why
    ctx.runner.commands.update(CLI)
    assert listed(ctx) == Listed((("localhost/x:1", "f" * 64),),
                                 {"f" * 64: {"Id": "f" * 64, "Os": "linux", "Architecture": "arm64"}})
    assert [c[0][1] for c in ctx.runner.calls] == ["images", "image"]


def test_a_manifest_list_is_left_to_podman(make_host):
    row, files = image(["localhost/list:1"], extra=["instances.json"])
    falls_back(store(make_host, (row, files)), "is a manifest list")
    row, files = image(["localhost/index:1"])
    files[f"{IMAGES}/{row['id']}/manifest"] = json.dumps({"schemaVersion": 2, "manifests": []})
    falls_back(store(make_host, (row, files)), "is a manifest list")


def test_missing_config_garbage_and_schema1_are_left_to_podman(make_host):
    row, files = image(["localhost/noconf:1"])
    del files[next(k for k in files if "/=" in k)]
    falls_back(store(make_host, (row, files)), "/=c2hhMjU2O")
    falls_back(store(make_host, extra={f"{IMAGES}/images.json": "[{\"id\": "}), "images.json: not JSON")
    falls_back(store(make_host, extra={f"{IMAGES}/images.json": "{}"}), "not a list of images")
    falls_back(store(make_host, extra={f"{IMAGES}/images.json": '[{"id": "../../etc"}]'}), "not a list of images")
    row, files = image(["localhost/badconf:1"], config=["not", "an", "object"])
    falls_back(store(make_host, (row, files)), "config is not an object")
    row, files = image(["localhost/old:1"])
    files[f"{IMAGES}/{row['id']}/manifest"] = json.dumps({"schemaVersion": 1, "fsLayers": []})
    falls_back(store(make_host, (row, files)), "manifest type None not read here")


def test_a_huge_images_json_is_left_to_podman(make_host):
    ctx = store(make_host, image(["localhost/a:1"]))
    os.truncate(ctx.path(f"{IMAGES}/images.json"), LIST_LIMIT + 1)  # sparse: costs no disk
    falls_back(ctx, "images.json")


def test_a_name_on_two_images_is_left_to_podman(make_host):
    falls_back(store(make_host, image(["localhost/a:1"]), image(["localhost/a:1"], "arm64")), "two images")


def test_storage_conf_graphroot_and_driver_are_followed(make_host):
    root = "/srv/podman"
    one = image(["localhost/vfs:1"], "riscv64", images=f"{root}/vfs-images")
    conf = f'[storage]\ndriver = "vfs"\ngraphroot = "{root}"\n'
    ctx = store(make_host, one, folder=f"{root}/vfs-images",
                extra={"/etc/containers/storage.conf": conf,
                       "/usr/share/containers/storage.conf": '[storage]\ndriver = "overlay"\n'})
    assert listed(ctx).docs[one[0]["id"]]["Architecture"] == "riscv64" and ctx.runner.calls == []
    env = {"PATH": "/usr/bin", "CONTAINERS_STORAGE_CONF": "/opt/s.conf"}
    ctx = store(make_host, one, folder=f"{root}/vfs-images", env=env, extra={"/opt/s.conf": conf})
    assert listed(ctx).named == (("localhost/vfs:1", one[0]["id"]),)
    env = {"PATH": "/usr/bin", "XDG_CONFIG_HOME": "/root/.config"}
    ctx = store(make_host, one, folder=f"{root}/vfs-images", env=env,
                extra={"/root/.config/containers/storage.conf": conf,
                       "/etc/containers/storage.conf": '[storage]\ngraphroot = "/nowhere"\ndriver = "overlay"\n'})
    assert listed(ctx).named == (("localhost/vfs:1", one[0]["id"]),)
    env = {"PATH": "/usr/bin", "STORAGE_DRIVER": "overlay2"}  # overlay2 is overlay; the env beats the file
    two = image(["localhost/ov:1"])
    ctx = store(make_host, two, env=env, extra={"/etc/containers/storage.conf": '[storage]\ndriver = "vfs"\n'
                                                 f'graphroot = "{G}"\n'})
    assert listed(ctx).named == (("localhost/ov:1", two[0]["id"]),)


@pytest.mark.parametrize("conf, env, reason", [
    ('[storage]\ndriver = "overlay"\n', {}, "graphroot None"),
    ('[storage]\ngraphroot = "$HOME/s"\n', {}, "not a plain absolute path"),
    ('[storage]\ndriver = "overlay"\ngraphroot = "/var/lib/containers/storage"\n'
     '[storage.options]\nadditionalimagestores = ["/ro"]\n', {}, "further image stores"),
    ('[storage]\ndriver = "overlay"\ngraphroot = "/var/lib/containers/storage"\n'
     '[storage.options.overlay]\nadditionalimagestores = ["/ro"]\n', {}, "further image stores"),
    ('[storage\n', {}, "not TOML"),
    ('[storage]\ndriver = "fuse"\ngraphroot = "/var/lib/containers/storage"\n', {}, "driver 'fuse' unknown"),
    (None, {"STORAGE_OPTS": "overlay.imagestore=/ro"}, "STORAGE_OPTS is set"),
    (None, {"CONTAINERS_STORAGE_CONF": "s.conf"}, "not an absolute path"),
    (None, {"XDG_CONFIG_HOME": ""}, "not an absolute path"),
    (None, {"STORAGE_DRIVER": "vfs"}, "several drivers"),
])
def test_storage_setups_not_settled_by_the_files_are_left_to_podman(make_host, conf, env, reason):
    extra = {"/etc/containers/storage.conf": conf} if conf else {}
    falls_back(store(make_host, image(["localhost/a:1"]), env={"PATH": "/usr/bin", **env}, extra=extra), reason)


def test_two_driver_stores_or_a_lone_vfs_store_without_a_driver_are_left_to_podman(make_host):
    falls_back(store(make_host, image(["localhost/a:1"]), extra={f"{G}/vfs-images/images.json": "[]"}),
               "several drivers")
    falls_back(store(make_host, image(["localhost/a:1"], images=f"{G}/vfs-images"), folder=f"{G}/vfs-images"),
               "only a vfs store")


def test_no_graphroot_at_all_and_rootless_are_left_to_podman(make_host, monkeypatch):
    falls_back(store(make_host, extra={}, folder="/elsewhere"), f"{G} does not exist yet")
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    falls_back(store(make_host, image(["localhost/a:1"])), "rootless")


def test_a_foreign_root_still_runs_nothing_and_lists_nothing(make_host):
    ctx = store(make_host, image(["localhost/a:1"]))
    ctx.live = False
    ctx.runner = RefusingRunner()  # what a foreign --root gets
    assert read_podman_store(ctx).why == "a foreign --root: Podman's storage is not read"
    assert listed(ctx) is None


@pytest.mark.parametrize("env, conf, reason", [
    ({"CONTAINER_HOST": "ssh://core@build-box/run/podman/podman.sock"}, None, "CONTAINER_HOST is set"),
    ({"CONTAINER_CONNECTION": "build-box"}, None, "CONTAINER_CONNECTION is set"),
    ({}, ("/etc/containers/containers.conf", "[engine]\nremote = true\n"), "a `remote` setting"),
    ({}, ("/etc/containers/containers.conf.d/50-remote.conf", "[engine]\n  remote=true\n"), "a `remote` setting"),
    ({"HOME": "/root"}, ("/root/.config/containers/containers.conf", "[engine]\nremote = true\n"),
     "a `remote` setting"),
])
def test_a_remote_podman_is_asked_not_its_local_files(make_host, env, conf, reason):
    # podman then lists the images of the service it connects to, not this machine's storage.
    extra = {conf[0]: conf[1]} if conf else {}
    falls_back(store(make_host, image(["localhost/a:1"]), env={"PATH": "/usr/bin", **env}, extra=extra), reason)
