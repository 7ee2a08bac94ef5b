"""base-images: each FROM image of the project looked up per target in the local stores (the cache trap)."""

import json

import pytest

from helpers import DOCKER, docker_data
from mab_doctor.api import Check
from mab_doctor.checks.base_images import base_images
from mab_doctor.core.context import CommandResult
from mab_doctor.core.model import Status
from mab_doctor.project.model import Build, Dockerfile, Intent, Platform, Stage, Where

DF = "Dockerfile"
PODMAN = "/usr/bin/podman"


def inspect(ref):
    return (DOCKER, "image", "inspect", "--format", "{{json .}}", ref)


def held(ctx, ref, arch, variant=None):
    doc = {"Id": "sha256:" + "a" * 64, "RepoTags": [ref], "Os": "linux", "Architecture": arch}
    if variant:
        doc["Variant"] = variant
    ctx.runner.commands[inspect(ref)] = CommandResult(inspect(ref), 0, json.dumps(doc) + "\n")


def absent(ctx, ref):
    ctx.runner.commands[inspect(ref)] = CommandResult(inspect(ref), 1, "\n", f"Error: No such image: {ref}\n")


def in_podman(ctx, ref, arch=None):
    """What `podman image inspect` answers: a one-element list, or an error when Podman lacks the image."""
    argv = (PODMAN, "image", "inspect", ref)
    if arch is None:
        ctx.runner.commands[argv] = CommandResult(argv, 125, "[]\n", f"Error: {ref}: image not known\n")
    else:
        doc = {"Id": "b" * 64, "RepoTags": [f"localhost/{ref}"], "Os": "linux", "Architecture": arch}
        ctx.runner.commands[argv] = CommandResult(argv, 0, json.dumps([doc]) + "\n")


def project(*stages, builds=()):
    return Intent("/p", (DF,), builds=builds, dockerfiles=(Dockerfile(DF, tuple(stages)),))


def stage(image, line=1, **kw):
    return Stage(image, Where(DF, line, 6), **kw)


def host(docker_host, intent, targets="linux/amd64,linux/arm64", containerd=False, podman=False):
    info = json.loads(docker_data("info-20.10.json"))
    if containerd:
        info["DriverStatus"] = [["driver-type", "io.containerd.snapshotter.v1"]]
    ctx = docker_host(docker_data("version-28-client-20.10-server.json"), info=json.dumps(info), targets=targets,
                      files={PODMAN: "#!/bin/sh\n"} if podman else None)
    if podman:
        ctx.path(PODMAN).chmod(0o755)
    ctx.project = intent
    return ctx


def rows(results):
    return {r.target: r for r in results}


def test_a_base_held_only_for_amd64_fails_the_arm64_target_with_the_pull_remedy(docker_host):
    ctx = host(docker_host, project(stage("localbase:1")))
    held(ctx, "localbase:1", "amd64")
    res = rows(base_images(ctx))
    assert res["linux/amd64"].status is Status.OK and res["linux/amd64"].summary == "1 base image held for linux/amd64"
    arm = res["linux/arm64"]
    assert arm.status is Status.FAIL
    assert arm.summary == "localbase:1 is stored only for another platform (docker: only linux/amd64)"
    assert "`docker pull --platform linux/arm64 localbase:1`" in arm.remediation
    assert list(arm.details) == ["localbase:1 (Dockerfile:1:6): is stored only for another platform (docker: only "
                           "linux/amd64)"]
    assert dict(arm.data) == {"images": {"localbase:1": "other"}}


def test_an_absent_base_warns_that_the_registry_is_needed(docker_host):
    ctx = host(docker_host, project(stage("python:3.12-slim")), targets="linux/arm64")
    absent(ctx, "python:3.12-slim")
    (res,) = base_images(ctx)
    assert res.status is Status.WARN and res.target == "linux/arm64"
    assert res.summary == "python:3.12-slim is in no local store: the build will pull it from its registry"


def test_scratch_earlier_stages_and_build_platform_stages_are_not_looked_up(docker_host):
    ctx = host(docker_host, project(stage("golang:1.22", platform="$BUILDPLATFORM", name="build"),
                                    stage("build", 5, from_stage=True), stage("scratch", 9)))
    (res,) = base_images(ctx)
    assert res.status is Status.OK and "only FROM scratch" in res.summary
    assert not [c for c in ctx.runner.calls if "inspect" in c[0]]


def test_an_arch_prefixed_base_fails_every_other_target(docker_host):
    ctx = host(docker_host, project(stage("arm64v8/alpine:3.19", arch_prefix="linux/arm64")))
    held(ctx, "arm64v8/alpine:3.19", "arm64", "v8")
    res = rows(base_images(ctx))
    assert res["linux/arm64"].status is Status.OK
    amd = res["linux/amd64"]
    assert amd.status is Status.FAIL and amd.summary == ("arm64v8/alpine:3.19 is the linux/arm64 image whatever the "
                                                         "target (an arch-prefixed name)")
    assert "FROM --platform=$TARGETPLATFORM" in amd.remediation and "docker pull" not in amd.remediation


def test_a_pinned_stage_is_judged_for_its_own_platform_only(docker_host):
    ctx = host(docker_host, project(stage("tools:1", platform="linux/amd64")))
    held(ctx, "tools:1", "amd64")
    results = base_images(ctx)
    assert [(r.target, r.status) for r in results] == [("linux/amd64", Status.OK)]


def test_the_builds_decide_which_targets_a_dockerfile_is_built_for(docker_host):
    build = Build("bake", "arm", Where("docker-bake.hcl", 1), (Platform("linux/arm64", Where("docker-bake.hcl", 2)),),
                  dockerfile=DF)
    ctx = host(docker_host, project(stage("localbase:1"), builds=(build,)))
    held(ctx, "localbase:1", "amd64")
    results = base_images(ctx)
    assert [(r.target, r.status) for r in results] == [("linux/arm64", Status.FAIL)]


def test_with_the_containerd_store_another_platform_shown_is_only_a_warning(docker_host):
    ctx = host(docker_host, project(stage("localbase:1")), containerd=True)
    held(ctx, "localbase:1", "amd64")
    res = rows(base_images(ctx))
    arm = res["linux/arm64"]
    # Measured with Docker 26: inspect shows amd64 both for an amd64-only tag and for an amd64+arm64 one.
    assert arm.status is Status.WARN and arm.summary == ("localbase:1 may lack linux/arm64: the containerd store "
                                                         "shows only linux/amd64 for it (this daemon's API lists "
                                                         "one platform of a tag)")
    assert "`docker pull --platform linux/arm64 localbase:1`" in arm.remediation
    assert res["linux/amd64"].status is Status.OK
    held(ctx, "localbase:1", "arm64")  # no host variant at all: what is shown is all there is
    res = rows(base_images(ctx))
    assert res["linux/amd64"].status is Status.FAIL and res["linux/arm64"].status is Status.OK


def test_no_dockerfile_or_no_project_skips(docker_host):
    ctx = host(docker_host, None)
    assert [r.status for r in base_images(ctx)] == [Status.SKIP]
    ctx.project = Intent("/p")
    assert [r.status for r in base_images(ctx)] == [Status.SKIP]


def test_no_store_at_all_skips(docker_host):
    ctx = docker_host.down(targets="linux/arm64")
    ctx.project = project(stage("localbase:1"))
    (res,) = base_images(ctx)
    assert res.status is Status.SKIP and res.summary.startswith("no image store to look in: the Docker daemon")


def test_it_is_a_per_target_check_of_the_docker_category():
    assert isinstance(base_images, Check)
    assert (base_images.name, base_images.category, base_images.per_target) == ("base-images", "docker", True)


def pull_all(target, *images):
    pulls = "; ".join(f"`docker pull --platform {target} {i}`" for i in images)
    return f"Store the {target} variant: {pulls} (or build it for {target} and tag it)."


@pytest.mark.parametrize("count, more", [(2, " (+1 more)"), (3, " (+2 more)")])
def test_several_bases_of_another_platform_count_the_others_and_pull_each(docker_host, count, more):
    images = [f"base{n}:1" for n in range(count)]
    ctx = host(docker_host, project(*(stage(image, 1 + 4 * n) for n, image in enumerate(images))),
               targets="linux/arm64")
    for image in images:
        held(ctx, image, "amd64")
    (res,) = base_images(ctx)
    assert res.status is Status.FAIL
    assert res.summary == "base0:1 is stored only for another platform (docker: only linux/amd64)" + more
    assert res.remediation == pull_all("linux/arm64", *images)
    assert list(res.details) == [f"{image} (Dockerfile:{1 + 4 * n}:6): is stored only for another platform "
                                 f"(docker: only linux/amd64)" for n, image in enumerate(images)]
    assert dict(res.data) == {"images": {image: "other" for image in images}}


def test_each_target_names_the_store_that_holds_it(docker_host):
    ctx = host(docker_host, project(stage("localbase:1")), podman=True)
    held(ctx, "localbase:1", "amd64")
    in_podman(ctx, "localbase:1", "arm64")
    res = rows(base_images(ctx))
    assert [res[t].status for t in ("linux/amd64", "linux/arm64")] == [Status.OK, Status.OK]
    assert list(res["linux/amd64"].details) == ["localbase:1 (Dockerfile:1:6): held for linux/amd64 (docker)"]
    assert list(res["linux/arm64"].details) == ["localbase:1 (Dockerfile:1:6): held for linux/arm64 (podman)"]
    assert res["linux/arm64"].summary == "1 base image held for linux/arm64"


def test_an_amd64_variant_target_is_held_by_an_image_of_that_variant(docker_host):
    ctx = host(docker_host, project(stage("localbase:1")), targets="linux/amd64/v3")
    held(ctx, "localbase:1", "amd64", "v3")
    (res,) = base_images(ctx)
    assert res.status is Status.OK and res.summary == "1 base image held for linux/amd64/v3"
    assert list(res.details) == ["localbase:1 (Dockerfile:1:6): held for linux/amd64/v3 (docker)"]


@pytest.mark.parametrize("containerd", [False, True])
def test_a_base_only_podman_holds_for_another_platform_gets_the_podman_pull(docker_host, containerd):
    # Docker holds nothing, so even the containerd store has nothing to be unsure about.
    ctx = host(docker_host, project(stage("localbase:1")), targets="linux/arm64", containerd=containerd, podman=True)
    absent(ctx, "localbase:1")
    in_podman(ctx, "localbase:1", "amd64")
    (res,) = base_images(ctx)
    assert res.status is Status.FAIL
    assert res.summary == "localbase:1 is stored only for another platform (podman: only linux/amd64)"
    assert res.remediation == ("Store the linux/arm64 variant: `podman pull --platform linux/arm64 localbase:1` "
                               "(or build it for linux/arm64 and tag it).")


def test_a_base_both_stores_hold_for_another_platform_gets_the_docker_pull(docker_host):
    ctx = host(docker_host, project(stage("localbase:1")), targets="linux/arm64", podman=True)
    held(ctx, "localbase:1", "amd64")
    in_podman(ctx, "localbase:1", "amd64")
    (res,) = base_images(ctx)
    assert res.summary == ("localbase:1 is stored only for another platform (docker: only linux/amd64, podman: only "
                           "linux/amd64)")
    assert res.remediation == pull_all("linux/arm64", "localbase:1")


def test_an_amd64_prefixed_base_fails_the_arm64_target(docker_host):
    ctx = host(docker_host, project(stage("amd64/alpine:3.19", arch_prefix="linux/amd64")))
    held(ctx, "amd64/alpine:3.19", "amd64")
    res = rows(base_images(ctx))
    assert res["linux/amd64"].status is Status.OK
    arm = res["linux/arm64"]
    assert arm.status is Status.FAIL
    assert arm.summary == "amd64/alpine:3.19 is the linux/amd64 image whatever the target (an arch-prefixed name)"
    assert arm.remediation == ("Replace the arch-prefixed base amd64/alpine:3.19 with the plain multi-platform name "
                               "and `FROM --platform=$TARGETPLATFORM`.")
    assert dict(arm.data) == {"images": {"amd64/alpine:3.19": "prefix"}}


def test_two_arch_prefixed_bases_are_named_together(docker_host):
    ctx = host(docker_host, project(stage("arm64v8/alpine:3.19", arch_prefix="linux/arm64"),
                                    stage("arm32v7/debian:12", 5, arch_prefix="linux/arm/v7")), targets="linux/amd64")
    absent(ctx, "arm64v8/alpine:3.19")
    absent(ctx, "arm32v7/debian:12")
    (res,) = base_images(ctx)
    assert res.summary == ("arm64v8/alpine:3.19 is the linux/arm64 image whatever the target (an arch-prefixed name) "
                           "(+1 more)")
    assert res.remediation == ("Replace the arch-prefixed bases arm64v8/alpine:3.19, arm32v7/debian:12 with the plain "
                               "multi-platform name and `FROM --platform=$TARGETPLATFORM`.")


def test_two_held_bases_are_counted_in_the_summary(docker_host):
    ctx = host(docker_host, project(stage("a:1"), stage("b:1", 4)), targets="linux/amd64")
    held(ctx, "a:1", "amd64")
    held(ctx, "b:1", "amd64")
    (res,) = base_images(ctx)
    assert res.status is Status.OK and res.summary == "2 base images held for linux/amd64"
    assert dict(res.data) == {"images": {"a:1": "ok", "b:1": "ok"}}


def test_build_platform_and_earlier_stages_do_not_hide_a_later_base(docker_host):
    ctx = host(docker_host, project(stage("golang:1.22", platform="$BUILDPLATFORM", name="build"),
                                    stage("build", 5, from_stage=True, name="test"),
                                    stage("alpine:3.19", 9)), targets="linux/arm64")
    held(ctx, "alpine:3.19", "arm64", "v8")
    (res,) = base_images(ctx)
    assert res.status is Status.OK and res.summary == "1 base image held for linux/arm64"
    assert list(res.details) == ["alpine:3.19 (Dockerfile:9:6): held for linux/arm64 (docker)"]


# Under the containerd store, for the arm64 target of an amd64 host, each image below lands in one state.
KINDS = {
    "ok": ("arm:1", lambda ctx: held(ctx, "arm:1", "arm64")),
    "absent": ("gone:1", lambda ctx: absent(ctx, "gone:1")),
    "unsure": ("hostonly:1", lambda ctx: held(ctx, "hostonly:1", "amd64")),
    "other": ("v7only:1", lambda ctx: held(ctx, "v7only:1", "arm", "v7")),
    "prefix": ("amd64/prefixed:1", lambda ctx: held(ctx, "amd64/prefixed:1", "amd64")),
}
WORDS = {
    "absent": (Status.WARN, "gone:1 is in no local store: the build will pull it from its registry"),
    "unsure": (Status.WARN, "hostonly:1 may lack linux/arm64: the containerd store shows only linux/amd64 for it "
                            "(this daemon's API lists one platform of a tag)"),
    "other": (Status.FAIL, "v7only:1 is stored only for another platform (docker: only linux/arm/v7)"),
    "prefix": (Status.FAIL, "amd64/prefixed:1 is the linux/amd64 image whatever the target (an arch-prefixed name)"),
}


@pytest.mark.parametrize("first, second, worst, more", [
    ("ok", "absent", "absent", ""),
    ("absent", "unsure", "unsure", ""),
    ("unsure", "other", "other", ""),
    ("unsure", "prefix", "prefix", ""),
    ("prefix", "other", "prefix", " (+1 more)"),  # equally bad: the first named wins
    ("other", "prefix", "other", " (+1 more)"),
])
def test_the_worst_image_decides_the_result(docker_host, first, second, worst, more):
    (a, set_a), (b, set_b) = KINDS[first], KINDS[second]
    ctx = host(docker_host, project(stage(a, arch_prefix="linux/amd64" if first == "prefix" else None),
                                    stage(b, 5, arch_prefix="linux/amd64" if second == "prefix" else None)),
               targets="linux/arm64", containerd=True)
    set_a(ctx)
    set_b(ctx)
    (res,) = base_images(ctx)
    assert (res.status, res.summary) == (WORDS[worst][0], WORDS[worst][1] + more)
    assert dict(res.data) == {"images": {a: first, b: second}}


def test_a_lower_variant_of_the_same_architecture_serves_the_target(docker_host):
    # containerd's matching: an amd64/v3 build takes a plain amd64 image, an arm/v7 build an arm/v6 one;
    # an amd64 build never takes a 386 image from a one-platform store, nor arm/v7 an arm64 one.
    ctx = host(docker_host, project(stage("localbase:1")), targets="linux/amd64/v3")
    held(ctx, "localbase:1", "amd64")
    (res,) = base_images(ctx)
    assert res.status is Status.OK and res.summary == "1 base image held for linux/amd64/v3"
    ctx = host(docker_host, project(stage("armbase:1")), targets="linux/arm/v7")
    held(ctx, "armbase:1", "arm", "v6")
    assert [r.status for r in base_images(ctx)] == [Status.OK]
    ctx = host(docker_host, project(stage("oldbase:1")), targets="linux/amd64")
    held(ctx, "oldbase:1", "386")
    assert [r.status for r in base_images(ctx)] == [Status.FAIL]
    ctx = host(docker_host, project(stage("armbase:2")), targets="linux/arm/v7")
    held(ctx, "armbase:2", "arm64", "v8")
    assert [r.status for r in base_images(ctx)] == [Status.FAIL]
