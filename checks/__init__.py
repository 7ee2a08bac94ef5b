"""mab-doctor's built-in checks; BUILTIN is the explicit registry tuple, in report order."""

from checks.binfmt_exec import binfmt_exec
from checks.binfmt_handlers import binfmt_handlers
from checks.binfmt_kernel import binfmt_kernel
from checks.binfmt_mount import binfmt_mount
from checks.binfmt_persist import binfmt_persist
from checks.buildx import buildx
from checks.buildx_builder import buildx_builder
from checks.docker_cli import docker_cli
from checks.docker_daemon import docker_daemon
from checks.docker_experimental import docker_experimental
from checks.emulation_self import emulation_self
from checks.float_abi import float_abi
from checks.host_platform import host_platform
from checks.host_resources import host_resources
from checks.image_cache import image_cache
from checks.kernel_version import kernel_version
from checks.podman import podman

BUILTIN = (
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
    image_cache,
    podman,
)
