"""buildx's folder read as buildx reads it: the current builder (use, --global, --default, contexts, DOCKER_HOST)
and the platforms each node was created with. The file contents are what buildx v0.13.1 wrote on this machine."""

import hashlib
import json

import pytest

from mab_doctor.engines.buildxstore import StoreUnreadable, read_store, store_dir

ROOT = "/root/.docker/buildx"
# `docker buildx create --name Alpha --driver docker-container --platform linux/arm64,linux/arm/v7`
ALPHA = ('{"Name":"Alpha","Driver":"docker-container","Nodes":[{"Name":"alpha0","Endpoint":"unix:///var/run/docker.sock",'
         '"Platforms":[{"architecture":"arm64","os":"linux"},{"architecture":"arm","os":"linux","variant":"v7"}],'
         '"DriverOpts":null,"Flags":["--allow-insecure-entitlement=network.host"],"Files":null}],"Dynamic":false}')
BETA = ('{"Name":"beta","Driver":"docker-container","Nodes":[{"Name":"beta0","Endpoint":"unix:///var/run/docker.sock",'
        '"Platforms":[{"architecture":"riscv64","os":"linux"}],"DriverOpts":null,"Flags":null,"Files":null}],'
        '"Dynamic":false}')
INSTANCES = {f"{ROOT}/instances/alpha": ALPHA, f"{ROOT}/instances/beta": BETA}


def current(key="unix:///var/run/docker.sock", name="", global_=False):
    return json.dumps({"Key": key, "Name": name, "Global": global_}, separators=(",", ":"))


def default_file(key, name, root=ROOT):
    return {f"{root}/defaults/{hashlib.sha256(key.encode()).hexdigest()[:20]}": name}


@pytest.fixture
def store(make_host):
    def read(files, env=None, builders=("Alpha", "beta", "default")):
        ctx = make_host(files, env={"HOME": "/root", **(env or {})})
        return read_store(ctx, list(builders))
    return read


def test_nothing_chosen_is_the_default_context_builder(store):
    assert store({f"{ROOT}/current": current()}).current == "default"
    assert store({}).current == "default"  # buildx never ran here


def test_use_remembers_the_builder_for_the_default_socket(store):
    got = store({**INSTANCES, f"{ROOT}/current": current(name="Alpha")})
    assert got.current == "Alpha"
    assert got.configured == {"Alpha": {"alpha0": ("linux/arm64", "linux/arm/v7")},
                              "beta": {"beta0": ("linux/riscv64",)}}


def test_a_choice_made_for_another_endpoint_does_not_count(store):
    files = {**INSTANCES, f"{ROOT}/current": current(key="other", name="beta")}
    assert store(files).current == "default"
    # ... unless `buildx use --default` remembered one for this endpoint
    assert store({**files, **default_file("unix:///var/run/docker.sock", "Alpha")}).current == "Alpha"


def test_global_wins_over_the_endpoint(store):
    files = {**INSTANCES, f"{ROOT}/current": current(key="other", name="alpha", global_=True)}
    assert store(files).current == "Alpha"  # the saved Name, as `buildx ls` prints it
    assert store(files, env={"DOCKER_CONTEXT": "ctx2"}).current == "Alpha"


def test_a_context_keys_by_its_name_and_docker_host_by_its_endpoint(store):
    files = {**INSTANCES, f"{ROOT}/current": current(key="other", name="beta")}
    assert store(files, env={"DOCKER_CONTEXT": "other"}).current == "beta"
    assert store({**files, "/root/.docker/config.json": '{"currentContext": "other"}'}).current == "beta"
    # DOCKER_HOST makes the context the default one, keyed by that endpoint
    assert store(files, env={"DOCKER_CONTEXT": "other", "DOCKER_HOST": "unix:///x.sock"}).current == "default"
    assert store({**INSTANCES, f"{ROOT}/current": current(key="unix:///x.sock", name="beta")},
                 env={"DOCKER_HOST": "unix:///x.sock"}).current == "beta"
    # no builder chosen in a context: the context's own builder, named after it
    assert store({f"{ROOT}/current": current(key="ctx2")}, env={"DOCKER_CONTEXT": "ctx2"}).current == "ctx2"


def test_a_removed_builder_falls_back_to_the_context(store):
    assert store({f"{ROOT}/current": current(name="gone")}).current == "default"
    # a name buildx would refuse (and a stray newline: Go's $ does not allow one) is no builder
    files = {**INSTANCES, f"{ROOT}/current": current(key="other", name="beta")}
    assert store({**files, **default_file("unix:///var/run/docker.sock", "Alpha\n")}).current == "default"


def test_buildx_config_and_docker_config_move_the_folder(make_host):
    ctx = make_host({}, env={"HOME": "/root", "DOCKER_CONFIG": "/cfg"})
    assert store_dir(ctx) == "/cfg/buildx"
    ctx = make_host({}, env={"HOME": "/root", "DOCKER_CONFIG": "/cfg", "BUILDX_CONFIG": "/bx/"})
    assert store_dir(ctx) == "/bx"
    ctx = make_host({"/bx/current": current(name="beta"), "/bx/instances/beta": BETA},
                    env={"HOME": "/root", "BUILDX_CONFIG": "/bx"})
    assert read_store(ctx, ["beta"]).current == "beta"


def test_old_string_platforms_and_odd_values(store):
    old = '{"Name":"old","Driver":"docker-container","Nodes":[{"Name":"old0","Platforms":["linux/arm64"," "]},' \
          '{"Name":"old1","Platforms":[{"os":"linux"}, 5, {"architecture":"s390x"}]},{"Platforms":["x"]}, 7]}'
    got = store({f"{ROOT}/instances/old": old}, builders=["old"])
    assert got.configured == {"old": {"old0": ("linux/arm64",), "old1": ("linux", "unknown")}}


def test_files_buildx_would_fail_on_are_said(store):
    with pytest.raises(StoreUnreadable, match=r"^/root/.docker/buildx/current is not JSON$"):
        store({f"{ROOT}/current": "{"})
    with pytest.raises(StoreUnreadable, match="instances/beta is not a builder"):
        store({f"{ROOT}/current": current(name="beta"), f"{ROOT}/instances/beta": "[1]"})


def test_each_file_is_read_once_per_reading(make_host):
    # the current builder's instance file is asked for twice (as the current one, and for its platforms)
    ctx = make_host({**INSTANCES, f"{ROOT}/current": current(name="Alpha")}, env={"HOME": "/root"})
    read = []
    real = ctx.read_text
    ctx.read_text = lambda path, limit=None: read.append(path) or real(path, limit)
    got = read_store(ctx, ["Alpha", "beta"])
    assert got.current == "Alpha" and got.configured["Alpha"] == {"alpha0": ("linux/arm64", "linux/arm/v7")}
    assert sorted(read) == [f"{ROOT}/current", f"{ROOT}/instances/alpha", f"{ROOT}/instances/beta"]
