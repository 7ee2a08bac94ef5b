"""The door to host files: FIFOs and devices refused, sizes bounded, --root trees never escaped."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from elfbuild import build_elf
from helpers import DEBIAN_AARCH64, MP, PROJECT, entry_text, with_binfmt, write_tree
from mab_doctor.core.context import Context
from mab_doctor.core.hostfs import DEFAULT_LIMIT, MAX_SYMLINK_HOPS, TOO_MANY_LINKS, HostFS

RUN_TIMEOUT = 20  # a run that hangs on a FIFO would otherwise never end


def healthy_tree() -> dict:
    """A Debian 12 amd64 tree with binfmt_misc mounted, one arm64 handler and its binfmt.d file."""
    base = {"/proc/sys/kernel/arch": "x86_64\n", "/proc/sys/kernel/osrelease": "6.1.0\n",
            "/proc/cpuinfo": "processor\t: 0\nprocessor\t: 1\n", "/proc/filesystems": "nodev\tbinfmt_misc\n",
            "/proc/meminfo": "MemTotal: 8000000 kB\nMemAvailable: 4000000 kB\n",
            "/etc/os-release": 'ID=debian\nVERSION_ID="12"\nPRETTY_NAME="Debian GNU/Linux 12"\n',
            "/etc/debian_version": "12.5\n", "/usr/bin/sh": build_elf("x86_64"), "/bin": "-> usr/bin",
            "/var/lib/dpkg/status": "Package: dpkg\nStatus: install ok installed\nArchitecture: amd64\n",
            "/etc/docker/daemon.json": "{}\n", "/cfg/config.json": "{}\n",
            "/usr/lib/binfmt.d/qemu-aarch64.conf": DEBIAN_AARCH64 + "\n"}
    return with_binfmt(base, {"qemu-aarch64": entry_text(DEBIAN_AARCH64)})


def run_doctor(root: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """`python -m mab_doctor --root ROOT --format json -v ARGS` in a subprocess that cannot hang the tests."""
    clean = {k: v for k, v in os.environ.items() if k not in ("CI", "GITHUB_ACTIONS", "GITLAB_CI")}
    clean.update({"DOCKER_CONFIG": "/cfg", "PATH": "/usr/bin:/bin", **(env or {})})
    return subprocess.run([sys.executable, "-m", "mab_doctor", "--root", str(root), "--format", "json", "-v",
                           *args], capture_output=True, text=True, timeout=RUN_TIMEOUT, env=clean, cwd=PROJECT)


def finished_report(proc: subprocess.CompletedProcess) -> dict:
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(proc.stdout)


def replace_with_fifo(root: Path, absolute: str) -> None:
    path = root / absolute.lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_symlink() or path.exists():
        path.unlink()
    os.mkfifo(path)


# Each host file a check reads; the second value: a row names the FIFO (else the run must only finish).
FIFO_PATHS = {
    "binfmt entry": (f"{MP}/qemu-aarch64", True), "binfmt status": (f"{MP}/status", True),
    "interpreter": ("/usr/bin/qemu-aarch64-static", False), "cpuinfo": ("/proc/cpuinfo", True),
    "filesystems": ("/proc/filesystems", True), "shell": ("/usr/bin/sh", True),
    "os-release": ("/etc/os-release", True), "debian_version": ("/etc/debian_version", True),
    "dpkg status": ("/var/lib/dpkg/status", True), "daemon.json": ("/etc/docker/daemon.json", True),
    "binfmt.d file": ("/usr/lib/binfmt.d/qemu-aarch64.conf", False),
    "docker config.json": ("/cfg/config.json", False), "meminfo": ("/proc/meminfo", True),
}


@pytest.mark.parametrize("label", sorted(FIFO_PATHS))
def test_a_fifo_where_a_file_belongs_ends_the_run_with_an_honest_row(tmp_path, label):
    path, named = FIFO_PATHS[label]
    root = write_tree(tmp_path / "tree", healthy_tree())
    replace_with_fifo(root, path)
    report = finished_report(run_doctor(root))
    if named:
        shown = json.dumps(report["results"])
        assert f"{path}: a FIFO, not a regular file: not read" in shown


def test_reads_refuse_fifos_at_once(tmp_path):
    root = write_tree(tmp_path, {"/etc/hostname": "x"})
    replace_with_fifo(root, "/etc/os-release")
    ctx = Context(root=root)
    assert ctx.try_read("/etc/os-release") == (None, "/etc/os-release: a FIFO, not a regular file: not read")
    assert ctx.read_bytes("/etc/os-release") is None and ctx.open_regular("/etc/os-release")[0] is None
    assert ctx.lookup("/etc/os-release").kind == "FIFO" and not ctx.is_executable("/etc/os-release")
    assert any("FIFO" in note for note in ctx.distro().notes)


def test_the_live_root_refuses_device_nodes_and_directories():
    ctx = Context(root="/")
    assert ctx.try_read("/dev/null") == (None, "/dev/null: a character device, not a regular file: not read")
    assert ctx.try_read("/") == (None, "/: a directory, not a regular file: not read")
    assert ctx.read_bytes("/proc/self/stat", 64)  # a regular /proc file is still read


@pytest.mark.skipif(os.geteuid() != 0, reason="creating a device node needs root")
def test_a_device_node_in_a_tree_is_refused(tmp_path):
    root = write_tree(tmp_path, {"/etc/hostname": "x", "/etc/os-release": "-> ../dev/null"})
    (root / "dev").mkdir()
    os.mknod(root / "dev/null", 0o666 | 0o020000, os.makedev(1, 3))
    ctx = Context(root=root)
    assert ctx.try_read("/etc/os-release")[1] == "/etc/os-release: a character device, not a regular file: not read"


def test_a_tree_linking_dev_null_reads_the_trees_path_not_the_device(tmp_path):
    root = write_tree(tmp_path, {"/etc/os-release": "-> /dev/null"})
    assert Context(root=root).try_read("/etc/os-release") == (None, "/etc/os-release: not found")


def outside_marker(tmp_path: Path) -> tuple[Path, str]:
    """A file OUTSIDE the tree with content that appears nowhere else."""
    secret = f"MARKER-{uuid.uuid4().hex}"
    marker = tmp_path / "outside" / "secret"
    marker.parent.mkdir()
    marker.write_text(f"ID={secret}\nprocessor: {secret}\nMemTotal: 1 kB\n{{\"data-root\": \"/{secret}\"}}\n")
    return marker, secret


def escaping_tree(tmp_path: Path, marker: Path) -> Path:
    dots = "../" * 12
    relative = os.path.relpath(marker, "/")
    files = {k: v for k, v in healthy_tree().items() if not k.startswith(("/cfg/", "/usr/lib/binfmt.d/"))}
    files.update({
        "/etc/os-release": f"-> {marker}",                      # absolute: must restart at the root
        "/etc/debian_version": f"-> {dots}{relative}",          # '..' must stop at the root
        "/proc/cpuinfo": f"-> /proc/../../../{dots}{relative}",
        "/proc/meminfo": f"-> {marker}",
        "/var/lib/dpkg/status": f"-> {dots}{relative}",
        "/etc/docker/daemon.json": f"-> {marker}",
        "/cfg": f"-> {marker.parent}",                          # a directory link leading outside
        "/usr/lib/binfmt.d": f"-> {marker.parent}",
    })
    return write_tree(tmp_path / "tree", files)


def test_symlinks_never_lead_out_of_the_tree(tmp_path):
    marker, secret = outside_marker(tmp_path)
    root = escaping_tree(tmp_path, marker)
    ctx = Context(root=root, env={"DOCKER_CONFIG": "/cfg", "PATH": "/usr/bin"})
    for path in ("/etc/os-release", "/etc/debian_version", "/proc/cpuinfo", "/var/lib/dpkg/status",
                 "/cfg/secret", "/usr/lib/binfmt.d/secret"):
        text, why = ctx.try_read(path)
        assert text is None and why.endswith("not found"), (path, text)
    assert ctx.listdir("/cfg") == [] and not ctx.exists("/cfg/secret")
    assert ctx.resolve("/etc/os-release") == root / str(marker).lstrip("/")
    assert secret not in repr(ctx.distro())


def test_a_run_over_an_escaping_tree_never_shows_the_outside_file(tmp_path):
    marker, secret = outside_marker(tmp_path)
    proc = run_doctor(escaping_tree(tmp_path, marker))
    finished_report(proc)
    assert secret not in proc.stdout and secret not in proc.stderr


def test_self_links_to_the_live_host_are_loops_not_the_hosts_values(tmp_path):
    root = write_tree(tmp_path, {"/proc": "-> /proc", "/usr": "-> /usr", "/bin": "-> usr/bin",
                                 "/etc/os-release": "ID=debian\nVERSION_ID=12\n"})
    ctx = Context(root=root, env={"PATH": "/usr/bin:/bin"})
    assert ctx.try_read("/proc/cpuinfo") == (None, f"/proc/cpuinfo: {TOO_MANY_LINKS}")
    assert ctx.uname.release == "unknown" and ctx.which("python3") is None and ctx.which("sh") is None
    report = finished_report(run_doctor(root))
    assert report["host"]["kernel_release"] == "unknown"
    resources = next(r for r in report["results"] if r["name"] == "host-resources")
    assert resources["status"] == "skip" and resources["data"]["cpus"] is None
    assert resources["data"]["memory_total_gib"] is None


def chain(root: Path, hops: int) -> None:
    """/l0 -> /l1 -> ... -> /l<hops-1> -> /target: ``hops`` links to follow."""
    (root / "target").write_text("end")
    for i in range(hops):
        (root / f"l{i}").symlink_to(f"/l{i + 1}" if i + 1 < hops else "/target")


def test_link_chains_end_at_the_kernels_limit_and_loops_are_error_values(tmp_path):
    chain(tmp_path, MAX_SYMLINK_HOPS)
    fs = HostFS(tmp_path)
    assert fs.read("/l0").data == b"end"
    (tmp_path / "l0").unlink()
    (tmp_path / "l0").symlink_to("/extra")
    (tmp_path / "extra").symlink_to("/l1")  # now 41 links from /l0
    far = fs.lookup("/l0")
    assert far.kind == "error" and far.reason == f"/l0: {TOO_MANY_LINKS}" and far.exists
    (tmp_path / "a").symlink_to("b")
    (tmp_path / "b").symlink_to("/a")
    assert fs.read("/a").reason == f"/a: {TOO_MANY_LINKS}"
    assert Context(root=tmp_path).listdir("/a") == []


def test_a_link_swapped_in_after_the_lookup_is_not_followed(tmp_path):
    marker, secret = outside_marker(tmp_path)
    root = write_tree(tmp_path / "tree", {"/etc/os-release": "ID=debian\n"})
    fs = HostFS(root)
    found = fs.lookup("/etc/os-release")
    (root / "etc/os-release").unlink()
    (root / "etc/os-release").symlink_to(marker)
    with pytest.raises(OSError):
        fs.open_fd(found, os.O_RDONLY)
    os.rename(root / "etc", root / "etc.real")
    (root / "etc").symlink_to(marker.parent)  # a directory on the way swapped too
    with pytest.raises(OSError):
        fs.open_fd(found, os.O_RDONLY)


def test_sizes_are_bounded(tmp_path):
    big = b"x" * (DEFAULT_LIMIT + 10)
    root = write_tree(tmp_path, {"/var/big": big, "/var/small": b"12345"})
    fs, ctx = HostFS(root), Context(root=root)
    got = fs.read("/var/big")
    assert got.truncated and len(got.data) == DEFAULT_LIMIT and "only the first 4 MiB read" in got.reason
    assert fs.read("/var/big", whole=True).data is None
    assert ctx.try_read("/var/big") == (None, "/var/big: larger than 4 MiB: not read")
    assert ctx.read_bytes("/var/big", 100) == b"x" * 100
    assert ctx.try_read("/var/small", 4) == (None, "/var/small: larger than 4 bytes: not read")
    assert ctx.try_read("/var/small", 5) == ("12345", None)


@pytest.mark.parametrize("content", [b"\xff\xfe\x00ID=x\n", b"ID=caf\xe9\n", b'ID="unbalanced\n'])
def test_undecodable_or_broken_os_release_is_a_note_not_a_traceback(tmp_path, content):
    files = healthy_tree()
    files.update({"/etc/os-release": content, "/etc/debian_version": b"\x80\x81\n"})
    root = write_tree(tmp_path / "tree", files)
    dist = Context(root=root).distro()
    assert dist.id() == "" and dist.version() == "" and dist.name(pretty=True) == ""
    assert any(n.startswith(("/etc/os-release: ", "os-release could not be parsed")) for n in dist.notes)
    assert "/etc/debian_version: not ASCII text (byte 0x80 at offset 0): not read" in dist.notes
    report = finished_report(run_doctor(root, "host-platform"))
    details = report["results"][0]["details"]
    assert any("/etc/os-release" in d or "os-release could not be parsed" in d for d in details)


def test_disk_space_is_measured_inside_the_tree(tmp_path):
    root = write_tree(tmp_path / "tree", {"/var/lib/docker": "-> /", "/etc/hostname": "x"})
    space, why = Context(root=root).disk_space("/var/lib/docker")
    assert why is None and space.measured_at == "/" and space.free > 0
    assert os.path.realpath(root).startswith(space.mount_point)
    assert Context(root=root).disk_space("/nope") == (None, "/nope: not found")


def test_dangling_links_exist_but_resolve_to_nothing(tmp_path):
    root = write_tree(tmp_path, {"/usr/bin/gone": "-> /nowhere", "/usr/bin/tool": b"#!", "/bin": "-> usr/bin"})
    (root / "usr/bin/tool").chmod(0o755)
    ctx = Context(root=root, env={"PATH": "/bin:/usr/bin"})
    assert ctx.exists("/usr/bin/gone") and ctx.lookup("/usr/bin/gone").kind == "dangling symlink"
    assert ctx.which_all("tool") == ["/bin/tool"] and ctx.which("gone") is None


def test_psutil_reads_a_private_copy_of_the_trees_proc(tmp_path):
    marker, secret = outside_marker(tmp_path)
    root = write_tree(tmp_path / "tree", {"/proc/meminfo": "MemTotal: 2048 kB\nMemFree: 1024 kB\n"
                                                           "MemAvailable: 1024 kB\n", "/proc/cpuinfo": f"-> {marker}"})
    with Context(root=root).psutil_procfs() as psutil:
        assert psutil.virtual_memory().total == 2048 * 1024
        procfs = Path(psutil.PROCFS_PATH)
        assert not procfs.is_relative_to(root) and not (procfs / "cpuinfo").exists()
    assert psutil.PROCFS_PATH == "/proc" and not procfs.exists()
