"""The quick reading of os-release gives exactly what the `distro` library gives, or leaves it to the library."""

from __future__ import annotations

from pathlib import Path

import distro
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import write_tree
from mab_doctor.core.hostfs import HostFS
from mab_doctor.core.hostlibs import OS_ID_RENAMES, DistroInfo, read_distro

HOSTS = Path(__file__).resolve().parent / "hosts"
TREES = sorted(p.name for p in HOSTS.iterdir() if p.is_dir())


def answers(info: DistroInfo) -> tuple:
    return (info.id(), info.version(), info.name(), info.name(pretty=True), info.like(), info.codename(), info.notes)


@pytest.fixture
def library_calls(monkeypatch) -> list:
    """Every time the distro library is asked (the quick path must not ask it)."""
    calls = []
    real = distro.LinuxDistribution
    monkeypatch.setattr(distro, "LinuxDistribution", lambda *a, **kw: calls.append(kw) or real(*a, **kw))
    return calls


@pytest.mark.parametrize("tree", TREES)
def test_every_fixture_host_is_read_quickly_and_as_the_library_reads_it(tree, library_calls):
    quick = read_distro(HostFS(HOSTS / tree))
    assert library_calls == []
    assert answers(quick) == answers(read_distro(HostFS(HOSTS / tree), library=True))
    assert len(library_calls) == 1


def test_the_fixture_hosts_are_the_expected_distributions():
    wheezy = read_distro(HostFS(HOSTS / "raspbian-wheezy-pi1"))
    bionic = read_distro(HostFS(HOSTS / "ubuntu-18.04-kernel-4.4-no-binfmt"))
    assert answers(wheezy) == ("raspbian", "7", "Raspbian GNU/Linux", "Raspbian GNU/Linux 7 (wheezy)", "debian",
                               "wheezy", ())  # the codename comes from VERSION="7 (wheezy)"
    assert answers(bionic) == ("ubuntu", "18.04", "Ubuntu", "Ubuntu 18.04.6 LTS", "debian", "bionic", ())


def test_the_renamed_ids_are_the_library_s():
    assert OS_ID_RENAMES == distro.distro.NORMALIZED_OS_ID


def test_the_codename_in_version_is_taken_like_the_library_does(tmp_path, library_calls):
    root = write_tree(tmp_path, {"/etc/os-release": 'NAME="Oracle Linux Server"\nID="ol"\nVERSION="8.9, Ootpa"\r\n'
                                                    'VERSION_ID="8.9"\nPRETTY_NAME="Oracle Linux Server 8.9"\n'})
    info = read_distro(HostFS(root))
    assert (info.id(), info.version(), info.codename(), library_calls) == ("oracle", "8.9", "Ootpa", [])


# Without VERSION_ID or a codename in os-release, `distro` takes them from a release file in /etc (debian_version
# is not one of those); an unbalanced quote makes it give up.
@pytest.mark.parametrize("text, expected", [
    ('ID=debian\nNAME="Debian"\nPRETTY_NAME="Debian 12"\nVERSION_CODENAME=bookworm\n',
     ("debian", "39", "Debian", "Debian 12", "", "bookworm", ())),
    ('ID=debian\nVERSION_ID=12\nNAME="Debian"\nPRETTY_NAME="Debian 12"\n',
     ("debian", "12", "Debian", "Debian 12", "", "Thirty Nine", ())),
    ('ID=debian\nVERSION_ID="12\nNAME=x\n',
     ("", "", "", "", "", "", ("os-release could not be parsed (No closing quotation): distribution unknown",)))])
def test_what_os_release_does_not_settle_is_left_to_the_library(tmp_path, library_calls, text, expected):
    root = write_tree(tmp_path, {"/etc/os-release": text, "/etc/debian_version": "12.5\n",
                                 "/etc/redhat-release": "Fedora release 39 (Thirty Nine)\n"})
    assert answers(read_distro(HostFS(root))) == expected
    assert len(library_calls) == 1


KEYS = ["ID", "ID_LIKE", "NAME", "PRETTY_NAME", "VERSION", "VERSION_ID", "VERSION_CODENAME", "UBUNTU_CODENAME", "id"]
VALUES = ["debian", "Debian GNU/Linux", "12 (bookworm)", "7, Wheezy", "22.04.4 LTS (Jammy Jellyfish)", "opensuse-leap",
          "Open SUSE", "OL", "12", "bookworm", "é", "", "x y", "(", ","]
QUOTES = ['"'] * 12 + ["", "'", "\\"]


@st.composite
def os_release(draw) -> str:
    """Mostly complete files (every key the quick reading needs), with odd quoting, comments, case and
    line ends, some keys dropped or repeated."""
    def line(key: str) -> str:
        value, quote = draw(st.sampled_from(VALUES)), draw(st.sampled_from(QUOTES))
        return draw(st.sampled_from([f"{key}={quote}{value}{quote}"] * 12 + [f"# {key}={value}", f"{key} = {value}"]))
    lines = [line(key) for key in KEYS if draw(st.integers(0, 19)) < 19]
    lines += [line(draw(st.sampled_from(KEYS))) for _ in range(draw(st.integers(0, 3)))]
    return draw(st.sampled_from(["\n", "\r\n", "\r"])).join(draw(st.permutations(lines)))


@settings(max_examples=200, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(os_release(), st.sampled_from(["/etc/os-release", "/usr/lib/os-release", "both"]), st.booleans())
def test_any_os_release_reads_as_the_library_reads_it(tmp_path_factory, text, where, release_file):
    files = {"/etc/debian_version": "bookworm/sid\n"}
    if where == "both":  # /etc's wins: the other one differs in every answer
        files["/usr/lib/os-release"] = ('ID=fedora\nVERSION_ID=39\nNAME=Fedora\nPRETTY_NAME="Fedora 39"\n'
                                        'VERSION_CODENAME=""\n')
    files["/etc/os-release" if where == "both" else where] = text
    if release_file:
        files["/etc/centos-release"] = "CentOS Linux release 7.9.2009 (Core)\n"
    root = write_tree(tmp_path_factory.mktemp("osr"), files)
    assert answers(read_distro(HostFS(root))) == answers(read_distro(HostFS(root), library=True))


def test_the_library_is_not_even_imported_when_os_release_settles_it(tmp_path):
    import subprocess
    import sys

    root = write_tree(tmp_path, {"/etc/os-release": (HOSTS / "armel-nas/etc/os-release").read_text()})
    code = ("import sys; from pathlib import Path; from mab_doctor.core.hostfs import HostFS; "
            "from mab_doctor.core.hostlibs import read_distro; "
            f"print(read_distro(HostFS(Path({str(root)!r}))).id(), 'distro' in sys.modules, 'logging' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["debian", "False", "False"]
