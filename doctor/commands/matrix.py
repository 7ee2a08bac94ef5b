"""`mab-doctor matrix`: the compatibility matrix and the known environments, with their sources."""

from __future__ import annotations

from mab_doctor.commands.options import Options, UsageError
from mab_doctor.commands.output import as_json, emit, rich_text


def main(opts: Options) -> int:
    """Print every requirement (bounds, why, detection, remedy, known-bad versions) and environment."""
    from mab_doctor.host import matrix

    if opts.args:
        raise UsageError("matrix takes no arguments")
    data = matrix.load()
    if opts.format == "json":
        emit(opts, lambda _f: as_json(data))
        return 0
    emit(opts, lambda to_file: rich_text(opts, lambda console: _draw(console, data), to_file))
    return 0


def _draw(console, data: dict) -> None:
    from rich.text import Text

    from mab_doctor.host.matrix import range_label

    console.print(Text("REQUIREMENTS", style="bold underline"))
    for r in data["requirements"]:
        bounds = [f"minimum {r['minimum']}" if r.get("minimum") else "",
                  f"needed before {r['maximum_exclusive']}" if r.get("maximum_exclusive") else ""]
        head = Text(r["id"], style="bold").append(f" — {r['component']}")
        head.append(f": {', '.join(b for b in bounds if b)}" if any(bounds) else "")
        head.append(f"  [checks: {', '.join(r['checks'])}]" + ("" if r.get("verified") else " (unverified)"))
        console.print(head)
        for label, key in (("why", "why"), ("detect", "detection"), ("remedy", "remediation")):
            console.print(Text(f"    {label}: {r[key]}"))
        for bad in r.get("known_bad", []):
            console.print(Text(f"    known bad {range_label(bad)}: {bad['why']} ({bad['source']})"))
        console.print(Text(f"    source: {'; '.join(r['sources'])}", style="dim"))
    console.print(Text("\nKNOWN ENVIRONMENTS", style="bold underline"))
    for e in data["known_environments"]:
        facts = ", ".join(f"{k.replace('_', '-')} {e.get(k) or '?'}" for k in
                          ("kernel", "binfmt_support", "qemu_user_static", "docker", "podman", "buildah"))
        console.print(Text(e["name"], style="bold").append(f": {facts}"))
        for problem in e.get("problems", []):
            console.print(Text(f"    problem: {problem}"))
        if e.get("unverified"):
            console.print(Text(f"    unverified: {', '.join(e['unverified'])}", style="dim"))
        console.print(Text(f"    source: {'; '.join(e.get('sources', []))}", style="dim"))
