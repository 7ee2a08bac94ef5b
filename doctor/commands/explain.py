"""`mab-doctor explain NAME`: what a check verifies, why it matters and how to fix it."""

from __future__ import annotations

from mab_doctor.commands.checking import registry
from mab_doctor.commands.options import Options, UsageError, shown
from mab_doctor.commands.output import as_json, emit


def main(opts: Options) -> int:
    """Print one check's documentation; an unknown name is a usage error."""
    if len(opts.args) != 1:
        raise UsageError("explain takes exactly one check name (`mab-doctor list` shows them)")
    reg = registry(opts)
    chk = reg.get(opts.args[0])
    if chk is None:
        raise UsageError(f"unknown check '{shown(opts.args[0])}' (known: {', '.join(reg.names)})")
    info = {"name": chk.name, "title": chk.title, "category": chk.category, "requires": list(chk.requires),
            "per_target": chk.per_target, "fixable": chk.fixable, "source": chk.source, "doc": chk.doc}
    if opts.format == "json":
        emit(opts, lambda _f: as_json(info))
        return 0
    head = f"{chk.name}: {chk.title}\ncategory {chk.category}; source {chk.source}"
    head += f"; requires {', '.join(chk.requires)}" if chk.requires else ""
    head += "; per target" if chk.per_target else ""
    emit(opts, lambda _f: f"{head}\n\n{chk.doc or '(no documentation)'}\n")
    return 0
