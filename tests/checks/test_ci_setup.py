"""ci-setup on hand-made Intents and on fixture workflows: QEMU first and wide enough, a builder that can build."""

from __future__ import annotations

from helpers import TESTS
from mab_doctor.checks.ci_setup import ci_setup
from mab_doctor.core.context import Context
from mab_doctor.core.model import Status
from mab_doctor.engines.builders import DOCKER_DRIVER_REFUSAL, LOAD_REFUSAL
from mab_doctor.project.intent import read_intent
from mab_doctor.project.model import Build, CiSetup, Intent, Platform, Where

PROJECTS = TESTS / "data" / "projects"
WF = ".github/workflows/build.yml"
QEMU_FIX = "Add `docker/setup-qemu-action@v3` before `docker/setup-buildx-action` and the build step."


def build(line: int, *platforms: str, load: bool = False, engine: str = "buildx") -> Build:
    return Build("github", f"image step {line}", Where(WF, line, 9),
                 tuple(Platform(p, Where(WF, line + 2, 22)) for p in platforms), engine=engine, load=load)


def job(*builds: Build, qemu: int | None = None, qemu_platforms: tuple[str, ...] = (), buildx: int | None = None,
        driver: str | None = None, name: str = "image") -> CiSetup:
    return CiSetup("github", WF, name, Where(WF, 4, 3), Where(WF, qemu, 9) if qemu else None, qemu_platforms,
                   Where(WF, buildx, 9) if buildx else None, driver, builds)


def judge(*setups: CiSetup) -> list:
    return ci_setup.run(Context(root=TESTS, project=Intent("/p", files=(WF,), ci=setups)))


def one(*args, **kw):
    (res,) = judge(job(*args, **kw))
    return res


def test_skip_without_a_project_or_ci_builds():
    (res,) = ci_setup.run(Context(root=TESTS))
    assert res.status is Status.SKIP and res.summary == "no CI workflow builds images"
    (res,) = judge(job(name="test"))  # a job that builds nothing is no row
    assert res.status is Status.SKIP and res.summary == "no CI workflow builds images"


def test_all_in_order_is_ok():
    res = one(build(20, "linux/amd64", "linux/arm64"), qemu=8, buildx=12)
    assert res.status is Status.OK
    assert res.summary == (".github/workflows/build.yml: job image: QEMU (line 8), buildx (line 12, driver "
                           "docker-container), builds linux/amd64, linux/arm64 (line 20)")
    assert res.details == (".github/workflows/build.yml:4: github job image; the runner is assumed to be linux/amd64",
                           "QEMU platforms: all")
    assert res.data["driver"] == "docker-container" and res.data["qemu"] == 8 and res.data["buildx"] == 12


def test_amd64_and_386_need_no_qemu():
    res = one(build(9, "linux/amd64"), build(14, "linux/386"), buildx=6)
    assert res.status is Status.OK
    assert res.summary == (".github/workflows/build.yml: job image: no QEMU, buildx (line 6, driver "
                           "docker-container), builds linux/amd64, linux/386 (lines 9, 14)")


def test_no_qemu_step():
    res = one(build(9, "linux/amd64", "linux/arm64", "linux/arm/v7"), buildx=6)
    assert res.status is Status.FAIL
    assert res.summary == (".github/workflows/build.yml:9: job image builds linux/arm64, linux/arm/v7 "
                           "without a QEMU set-up step")
    assert res.remediation == QEMU_FIX


def test_qemu_after_the_build_names_both_lines():
    res = one(build(9, "linux/arm64"), build(20, "linux/s390x"), qemu=15, buildx=6)
    assert res.status is Status.FAIL
    assert res.summary == (".github/workflows/build.yml:15: job image sets up QEMU after the build at line 9 "
                           "that needs it (linux/arm64)")
    assert res.remediation == "Move the QEMU step before the build steps (and before `docker/setup-buildx-action`)."


def test_qemu_after_buildx_but_before_the_build_warns():
    res = one(build(20, "linux/amd64", "linux/ppc64le"), qemu=12, buildx=8)
    assert res.status is Status.WARN
    assert res.summary == (".github/workflows/build.yml:12: job image sets up QEMU after buildx (line 8): the "
                           "builder does not list linux/ppc64le in `buildx ls`")
    assert res.remediation.startswith("Move the QEMU step before `docker/setup-buildx-action`")


def test_qemu_platforms_must_cover_the_builds_by_cpu():
    # `arm` (normalised linux/arm/v7) runs arm/v6 too: one qemu-arm serves both.
    res = one(build(20, "linux/arm64", "linux/arm/v6", "linux/riscv64"), qemu=6,
              qemu_platforms=("linux/arm64", "linux/arm/v7"), buildx=10)
    assert res.status is Status.FAIL
    assert res.summary == ".github/workflows/build.yml:6: job image: the QEMU step installs linux/arm64, linux/arm/v7, " \
                          "not linux/riscv64"
    assert res.remediation == "Add linux/riscv64 to the QEMU step's `platforms` (or leave it out: all)."


def test_default_builder_refuses_several_platforms():
    res = one(build(9, "linux/amd64", "linux/386"))
    words = DOCKER_DRIVER_REFUSAL.replace("\n", " ")
    assert res.status is Status.FAIL
    assert res.summary == f'.github/workflows/build.yml:9: job image builds 2 platforms through the docker driver: ' \
                          f'buildx refuses it: "{words}"'
    assert res.data["driver"] == "docker"
    assert one(build(9, "linux/amd64")).status is Status.OK  # one platform: the docker driver is fine


def test_docker_driver_input_and_loading_several_platforms():
    res = one(build(9, "linux/amd64", "linux/386"), buildx=5, driver="docker")
    assert res.status is Status.FAIL and "through the docker driver" in res.summary
    res = one(build(9, "linux/amd64", "linux/386", load=True), buildx=5)
    assert res.status is Status.FAIL
    assert res.summary == (f'.github/workflows/build.yml:9: job image builds 2 platforms loaded into the classic '
                           f'image store: buildx refuses it: "{LOAD_REFUSAL}"')
    assert one(build(9, "linux/amd64", "linux/386", engine="podman")).status is Status.OK


def test_several_findings_fail_first_and_list_the_others():
    res = one(build(9, "linux/amd64", "linux/arm64", load=True), qemu=14, buildx=5)
    assert res.status is Status.FAIL
    assert res.summary == (".github/workflows/build.yml:14: job image sets up QEMU after the build at line 9 that "
                           "needs it (linux/arm64)")
    assert res.details[0] == (f'FAIL: .github/workflows/build.yml:9: job image builds 2 platforms loaded into the '
                              f'classic image store: buildx refuses it: "{LOAD_REFUSAL}"')


def test_one_row_per_job():
    rows = judge(job(build(9, "linux/arm64"), name="a"), job(name="lint"), job(build(9, "linux/amd64"), name="b"))
    assert [(r.status, r.data["job"]) for r in rows] == [(Status.FAIL, "a"), (Status.OK, "b")]


def fixture(name: str) -> list:
    return ci_setup.run(Context(root=TESTS, project=read_intent(PROJECTS / name, {})))


def test_fixture_late_and_narrow_qemu():
    late, narrow = fixture("ci-late")
    assert (late.status, late.summary) == (Status.WARN, ".github/workflows/image.yml:9: job late sets up QEMU after "
                                                        "buildx (line 8): the builder does not list linux/arm64 in "
                                                        "`buildx ls`")
    assert (narrow.status, narrow.summary) == (Status.FAIL, ".github/workflows/image.yml:17: job narrow: the QEMU step "
                                                            "installs linux/arm64, not linux/riscv64, linux/arm/v6")


def test_fixture_default_driver():
    multi, x86 = fixture("ci-default-driver")
    assert multi.status is Status.FAIL and multi.summary.startswith(
        ".github/workflows/build.yml:9: job multi builds 2 platforms through the docker driver: buildx refuses it: "
        "\"Multi-platform build is not supported for the docker driver.")
    assert x86.status is Status.FAIL and x86.details[-1] == (
        "no QEMU, the default builder (docker driver), builds linux/amd64, linux/386 (line 16)")


def test_fixture_gitlab_binfmt_after_the_build():
    (res,) = fixture("ci-gitlab-order")
    assert res.status is Status.FAIL
    assert res.summary == (".gitlab-ci.yml:7: job image-arm sets up QEMU after the build at line 6 that needs it "
                           "(linux/arm64, linux/arm/v7)")


def test_fixture_ordered_release_is_ok():
    (res,) = fixture("gha-ordered")
    assert res.status is Status.OK
    assert res.summary == (".github/workflows/release.yml: job image: QEMU (line 10), buildx (line 14, driver "
                           "docker-container), builds linux/amd64, linux/arm64, linux/arm/v7 (line 18)")


def test_explain_has_the_three_paragraphs():
    doc = ci_setup.doc
    assert "What it checks:" in doc and "Why it matters:" in doc and "How to fix:" in doc
    assert "linux/amd64" in doc


FACT = ".github/workflows/build.yml:4: github job image; the runner is assumed to be linux/amd64"
CONTAINER_FIX = ("Add `docker/setup-buildx-action@v3` (docker-container driver) before the build, or build one "
                 "platform per invocation.")
PUSH_FIX = ("Push (`push: true`, `--push`) or export an OCI archive (`type=oci,dest=image.tar`) instead of "
            "loading.")
DOCKER_WORDS = ("Multi-platform build is not supported for the docker driver. Switch to a different driver, or "
                "turn on the containerd image store, and try again.")


def test_refusals_have_their_own_remedies():
    assert one(build(9, "linux/amd64", "linux/386")).remediation == CONTAINER_FIX
    assert one(build(9, "linux/amd64", "linux/386"), buildx=5, driver="docker").remediation == CONTAINER_FIX
    assert one(build(9, "linux/amd64", "linux/386", load=True), buildx=5).remediation == PUSH_FIX


def test_a_driver_sorting_before_docker_that_loads_is_the_image_store_refusal():
    res = one(build(9, "linux/amd64", "linux/386", load=True), buildx=5, driver="cloud")
    assert res.status is Status.FAIL
    assert res.summary == ('.github/workflows/build.yml:9: job image builds 2 platforms loaded into the classic image '
                           'store: buildx refuses it: "docker exporter does not currently support exporting manifest '
                           'lists"')
    assert res.remediation == PUSH_FIX
    assert res.data["driver"] == "cloud"


def test_driver_and_engine_read_at_run_time_compare_by_value():
    # A parser builds these strings at run time, so they are equal to the literals but not the same objects.
    docker = "".join(["dock", "er"])
    res = one(build(9, "linux/amd64", "linux/386"), buildx=5, driver=docker)
    assert res.summary == (f'.github/workflows/build.yml:9: job image builds 2 platforms through the docker driver: '
                           f'buildx refuses it: "{DOCKER_WORDS}"')
    assert res.remediation == CONTAINER_FIX
    res = one(build(9, "linux/amd64", "linux/386", engine="".join(["build", "x"])))
    assert res.status is Status.FAIL
    assert res.remediation == CONTAINER_FIX


def test_buildah_is_not_judged_as_buildx():
    res = one(build(9, "linux/amd64", "linux/386", engine="buildah"))
    assert res.status is Status.OK
    assert res.summary == (".github/workflows/build.yml: job image: no QEMU, the default builder (docker driver), "
                           "builds linux/amd64, linux/386 (line 9)")


def test_other_findings_are_listed_whatever_their_sort_order():
    # The refusal at line 15 sorts before the QEMU finding at line 20 as text; it is still listed.
    res = one(build(15, "linux/amd64", "linux/arm64", load=True), qemu=20, buildx=5)
    assert res.status is Status.FAIL
    assert res.summary == (".github/workflows/build.yml:20: job image sets up QEMU after the build at line 15 that "
                           "needs it (linux/arm64)")
    assert res.details == (
        'FAIL: .github/workflows/build.yml:15: job image builds 2 platforms loaded into the classic image store: '
        'buildx refuses it: "docker exporter does not currently support exporting manifest lists"',
        FACT, "QEMU platforms: all",
        "QEMU (line 20), buildx (line 5, driver docker-container), builds linux/amd64, linux/arm64 (line 15)")
    assert res.remediation == ("Move the QEMU step before the build steps (and before "
                               "`docker/setup-buildx-action`). " + PUSH_FIX)


def test_identical_findings_are_reported_once():
    res = one(build(9, "linux/amd64", "linux/386"), build(9, "linux/amd64", "linux/386"))
    assert res.summary == (f'.github/workflows/build.yml:9: job image builds 2 platforms through the docker driver: '
                           f'buildx refuses it: "{DOCKER_WORDS}"')
    assert res.details == (FACT, "no QEMU set-up step",
                           "no QEMU, the default builder (docker driver), builds linux/amd64, linux/386 (line 9)")
    assert res.remediation == CONTAINER_FIX


def test_warn_and_fail_together_lead_with_the_fail():
    res = one(build(20, "linux/arm64", "linux/s390x"), qemu=12, qemu_platforms=("linux/arm64",), buildx=8)
    assert res.status is Status.FAIL
    assert res.summary == (".github/workflows/build.yml:12: job image: the QEMU step installs linux/arm64, not "
                           "linux/s390x")
    assert res.details[0] == ("WARN: .github/workflows/build.yml:12: job image sets up QEMU after buildx (line 8): the "
                              "builder does not list linux/arm64, linux/s390x in `buildx ls`")
    assert res.details[1:] == (FACT, "QEMU platforms: linux/arm64",
                               "QEMU (line 12), buildx (line 8, driver docker-container), builds linux/arm64, "
                               "linux/s390x (line 20)")
    assert res.remediation == ("Move the QEMU step before `docker/setup-buildx-action` (or re-create the builder "
                               "after it), so the builder boots with the emulated platforms registered. Add "
                               "linux/s390x to the QEMU step's `platforms` (or leave it out: all).")


def test_qemu_on_the_build_line_is_in_time_one_line_later_is_not():
    res = one(build(9, "linux/arm64"), qemu=9)  # e.g. one `run:` that installs binfmt and builds
    assert res.status is Status.OK
    assert res.summary == (".github/workflows/build.yml: job image: QEMU (line 9), the default builder (docker "
                           "driver), builds linux/arm64 (line 9)")
    res = one(build(8, "linux/arm64"), qemu=9)
    assert (res.status, res.summary) == (Status.FAIL, ".github/workflows/build.yml:9: job image sets up QEMU after "
                                                      "the build at line 8 that needs it (linux/arm64)")


def test_qemu_on_the_buildx_line_is_in_time_one_line_later_is_not():
    assert one(build(20, "linux/arm64"), qemu=9, buildx=9).status is Status.OK
    assert one(build(20, "linux/arm64"), qemu=9, buildx=10).status is Status.OK
    res = one(build(20, "linux/arm64"), qemu=9, buildx=8)
    assert (res.status, res.summary) == (Status.WARN, ".github/workflows/build.yml:9: job image sets up QEMU after "
                                                      "buildx (line 8): the builder does not list linux/arm64 in "
                                                      "`buildx ls`")


def test_the_first_build_needing_qemu_is_named():
    res = one(build(9, "linux/arm64"), build(20, "linux/s390x"), buildx=6)
    assert res.summary == (".github/workflows/build.yml:9: job image builds linux/arm64, linux/s390x without a QEMU "
                           "set-up step")
    res = one(build(9, "linux/arm64"), build(12, "linux/s390x"), qemu=15, buildx=6)
    assert res.summary == (".github/workflows/build.yml:15: job image sets up QEMU after the build at line 9 that "
                           "needs it (linux/arm64)")


def test_an_unknown_platform_counts_as_emulated():
    res = one(build(9, "linux/bogus"), buildx=6)
    assert (res.status, res.summary) == (Status.FAIL, ".github/workflows/build.yml:9: job image builds linux/bogus "
                                                      "without a QEMU set-up step")
    res = one(build(20, "linux/bogus"), qemu=6, qemu_platforms=("linux/arm64",), buildx=10)
    assert (res.status, res.summary) == (Status.FAIL, ".github/workflows/build.yml:6: job image: the QEMU step "
                                                      "installs linux/arm64, not linux/bogus")
    res = one(build(20, "linux/bogus"), qemu=6, qemu_platforms=("linux/bogus",), buildx=10)
    assert res.status is Status.OK


def test_qemu_platforms_by_short_name_cover_the_builds():
    res = one(build(20, "linux/arm64", "linux/s390x"), qemu=6, qemu_platforms=("arm64", "s390x"), buildx=10)
    assert res.status is Status.OK
    assert res.details == (FACT, "QEMU platforms: arm64, s390x")
    res = one(build(20, "linux/arm64", "linux/s390x", "linux/ppc64le"), qemu=6, qemu_platforms=("linux/amd64",),
              buildx=10)
    assert res.summary == (".github/workflows/build.yml:6: job image: the QEMU step installs linux/amd64, not "
                           "linux/arm64, linux/s390x, linux/ppc64le")


def test_several_jobs_each_get_their_own_row():
    rows = judge(job(build(9, "linux/amd64", "linux/arm64"), qemu=5, buildx=7, name="release"),
                 job(build(12, "linux/amd64", "linux/386", load=True), buildx=8, name="smoke"),
                 job(build(30, "linux/riscv64"), name="nightly"))
    assert [(r.status, r.summary) for r in rows] == [
        (Status.OK, ".github/workflows/build.yml: job release: QEMU (line 5), buildx (line 7, driver "
                    "docker-container), builds linux/amd64, linux/arm64 (line 9)"),
        (Status.FAIL, '.github/workflows/build.yml:12: job smoke builds 2 platforms loaded into the classic image '
                      'store: buildx refuses it: "docker exporter does not currently support exporting manifest '
                      'lists"'),
        (Status.FAIL, ".github/workflows/build.yml:30: job nightly builds linux/riscv64 without a QEMU set-up step")]
    assert [r.data["job"] for r in rows] == ["release", "smoke", "nightly"]
    assert rows[1].data == {"file": WF, "job": "smoke", "kind": "github", "driver": "docker-container",
                            "platforms": ("linux/amd64", "linux/386"), "qemu": None, "buildx": 8}
