"""mab-doctor's built-in checks; BUILTIN is the explicit registry tuple, in report order."""

from mab_doctor.checks.base_images import base_images
from mab_doctor.checks.binfmt_exec import binfmt_exec
from mab_doctor.checks.binfmt_handlers import binfmt_handlers
from mab_doctor.checks.binfmt_kernel import binfmt_kernel
from mab_doctor.checks.binfmt_mount import binfmt_mount
from mab_doctor.checks.binfmt_persist import binfmt_persist
from mab_doctor.checks.buildx import buildx
from mab_doctor.checks.build_path import build_path
from mab_doctor.checks.build_probe import build_probe
from mab_doctor.checks.buildx_builder import buildx_builder
from mab_doctor.checks.ci_setup import ci_setup
from mab_doctor.checks.docker_cli import docker_cli
from mab_doctor.checks.docker_daemon import docker_daemon
from mab_doctor.checks.docker_experimental import docker_experimental
from mab_doctor.checks.emulation_self import emulation_self
from mab_doctor.checks.float_abi import float_abi
from mab_doctor.checks.host_platform import host_platform
from mab_doctor.checks.host_resources import host_resources
from mab_doctor.checks.image_cache import image_cache
from mab_doctor.checks.kernel_version import kernel_version
from mab_doctor.checks.podman import podman
from mab_doctor.checks.project_files import project_files

BUILTIN = (
    project_files,
    host_platform,
    emulation_self,
    float_abi,
    host_resources,
    kernel_version,
    binfmt_kernel,
    binfmt_mount,
    binfmt_handlers,
    binfmt_exec,
    binfmt_persist,
    docker_cli,
    docker_daemon,
    docker_experimental,
    buildx,
    buildx_builder,
    build_path,
    image_cache,
    base_images,
    podman,
    ci_setup,
    build_probe,
)
