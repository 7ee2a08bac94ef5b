"""The generic top-level names `doctor` and `checks` must resolve to this project."""

import mab_doctor.checks as checks
import mab_doctor as doctor
from helpers import PROJECT


def test_imported_packages_are_ours():
    assert PROJECT / "doctor" / "__init__.py" == __import__("pathlib").Path(doctor.__file__).resolve()
    assert PROJECT / "checks" / "__init__.py" == __import__("pathlib").Path(checks.__file__).resolve()


def test_builtin_tuple_holds_our_checks():
    from mab_doctor.core.check import Check

    names = [c.name for c in checks.BUILTIN]
    assert all(isinstance(c, Check) for c in checks.BUILTIN)
    assert {"host-platform", "kernel-version", "binfmt-kernel", "binfmt-mount", "host-resources"} <= set(names)
    assert len(names) == len(set(names))


def test_every_builtin_documents_what_why_how():
    from mab_doctor.core.check import DOC_SECTIONS

    for chk in checks.BUILTIN:
        for section in DOC_SECTIONS:
            assert f"{section}:" in chk.doc, f"{chk.name} lacks '{section}:'"
