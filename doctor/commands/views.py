"""Subcommands that show information and run no check: list, explain, matrix, platform, inspect."""

from __future__ import annotations

import json
from argparse import Namespace

from mab_doctor.cli import UsageError, emit


def _json(data: dict) -> str:
    return json.dumps(data, indent=2) + "\n"


def cmd_list(args: Namespace, rest: list[str]) -> int:
    """Every check: name, category, title, fixable, source; plugin problems last."""
    from mab_doctor.core.registry import discover

    reg = discover(plugins=not args.no_plugins)
    rows = [{"name": c.name, "category": c.category, "title": c.title, "fixable": c.fixable,
             "per_target": c.per_target, "requires": list(c.requires), "source": c.source}
            for c in reg.checks]
    problems = [{"name": p.name, "source": p.source, "message": p.message} for p in reg.problems]
    if args.format == "json":
        emit(args, lambda _c: _json({"schema": "mab-doctor/list/v1", "checks": rows, "problems": problems}))
        return 1 if problems else 0

    def render(console):
        from rich.table import Table
        from rich.text import Text

        table = Table(box=None, header_style="bold")
        for col in ("name", "category", "title", "fix", "source"):
            table.add_column(col)
        for r in rows:
            table.add_row(Text(r["name"]), r["category"], Text(r["title"]), "yes" if r["fixable"] else "-",
                          Text(r["source"]))
        console.print(table)
        for p in problems:
            console.print(Text(f"ERROR {p['name']} ({p['source']}): {p['message']}", style="bold magenta"))
    emit(args, render)
    return 1 if problems else 0


def cmd_explain(args: Namespace, rest: list[str]) -> int:
    """Print a check's documentation (What it checks / Why it matters / How to fix)."""
    from mab_doctor.core.registry import discover

    if len(rest) != 1:
        raise UsageError("explain takes exactly one check name")
    reg = discover(plugins=not args.no_plugins)
    chk = reg.get(rest[0])
    if chk is None:
        raise UsageError(f"unknown check {rest[0]!r} (known: {', '.join(reg.names)})")
    info = {"name": chk.name, "title": chk.title, "category": chk.category, "requires": list(chk.requires),
            "per_target": chk.per_target, "fixable": chk.fixable, "source": chk.source, "doc": chk.doc}
    if args.format == "json":
        emit(args, lambda _c: _json(info))
        return 0
    head = f"{chk.name}: {chk.title}\ncategory {chk.category}; source {chk.source}"
    head += f"; requires {', '.join(chk.requires)}" if chk.requires else ""
    head += "; per target" if chk.per_target else ""
    emit(args, lambda _c: f"{head}\n\n{chk.doc or '(no documentation)'}\n")
    return 0


def cmd_matrix(args: Namespace, rest: list[str]) -> int:
    """Render the compatibility matrix and the known environments with their sources."""
    from mab_doctor.host import matrix

    data = matrix.load()
    if args.format == "json":
        emit(args, lambda _c: _json(data))
        return 0

    def render(console):
        from rich.text import Text

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
                console.print(Text(f"    known bad {bad['version']}: {bad['why']} ({bad['source']})"))
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
    emit(args, render)
    return 0


def cmd_platform(args: Namespace, rest: list[str]) -> int:
    """The host's platform in every vocabulary (SPEC section 6); reads files only."""
    from mab_doctor.core.context import Context
    from mab_doctor.host.hostinfo import host_facts, platform_vocabulary

    if rest:
        raise UsageError("platform takes no arguments (use inspect for files)")
    ctx = Context(root=args.root, timeout=args.timeout)
    vocab = platform_vocabulary(host_facts(ctx))
    if args.format == "json":
        emit(args, lambda _c: _json({"schema": "mab-doctor/platform/v1", **vocab}))
        return 0
    width = max(len(k) for k in vocab)
    emit(args, lambda _c: "".join(f"{k:<{width}}  {'-' if v is None else v}\n" for k, v in vocab.items()))
    return 0


def cmd_undo(args: Namespace, rest: list[str]) -> int:
    """Revert the last --fix from its journal."""
    from mab_doctor.commands.fix import run_undo

    if rest:
        raise UsageError("undo takes no arguments")
    return run_undo(args)


def cmd_inspect(args: Namespace, rest: list[str]) -> int:
    """Which platform files, trees and local images are for (SPEC section 6).

    Exit 1 when no input could be inspected at all, or when --platform was given explicitly and an
    input (or any file of a tree or image) is for another platform; otherwise 0."""
    from mab_doctor.core.context import Context
    from mab_doctor.inspection.inspect import inspect_all

    if not rest:
        raise UsageError("inspect takes one or more files, directories or local image references")
    ctx = Context(root=args.root, timeout=args.timeout)
    targets = args.targets if args.platform is not None else None
    doc, code = inspect_all(ctx, rest, args.deep, targets)
    if args.format == "json":
        emit(args, lambda _c: _json(doc))
    else:
        emit(args, lambda _c: "\n".join(_inspect_text(item) for item in doc["items"]))
    return code


_SHOWN_PATHS = 10


def _inspect_text(item: dict) -> str:
    """One item as an aligned text block."""
    rows: list[tuple[str, str]] = []
    kind = item["kind"]
    if kind == "unreadable":
        rows.append(("error", item["error"]))
    if kind == "elf":
        rows += [("platform", item["oci_platform"] or "unknown"), ("Debian arch", item["debian_arch"] or "-"),
                 ("ELF", f"{item['elf_class']}-bit {item['endianness']}-endian {item['machine']} ({item['e_type']})")]
        if item["machine"] == "EM_ARM":
            rows.append(("ARM", f"arch {item['arm_arch'] or 'unknown'}, float ABI {item['float_abi'] or 'unknown'}"))
        rows.append(("linking", "static" if item["static"] else f"dynamic, loader {item['interpreter']}"))
        runs = item["runs_here"] + (f" (via {item['handler']})" if item.get("handler") else "")
        rows.append(("runs here", runs))
    if kind == "image":
        rows += [("engine", item["engine"]), ("platform", item["oci_platform"] or "unknown"),
                 ("Debian arch", item.get("debian_arch") or "-")]
        if item.get("deep_error"):
            rows.append(("filesystem", f"not analysed: {item['deep_error']}"))
    lines = [item["input"] + (f"  [{kind}]" if kind != "elf" else "  [ELF]")]
    if "platforms" in item:
        rows.append(("ELF files", str(item["elf_files"])))
        for oci, paths in item["platforms"].items():
            rows.append((oci, f"{len(paths)} file{'s' if len(paths) != 1 else ''}"))
            rows += [("", f"  {p}") for p in paths[:_SHOWN_PATHS]]
            if len(paths) > _SHOWN_PATHS:
                rows.append(("", f"  ... and {len(paths) - _SHOWN_PATHS} more"))
    width = max([len(k) for k, _ in rows] + [8])
    lines += [f"  {k:<{width}}  {v}".rstrip() for k, v in rows]
    lines += _inspect_warnings(item)
    return "\n".join(lines) + "\n"


def _inspect_warnings(item: dict) -> list[str]:
    out = []
    groups = item.get("platforms") or {}
    if item.get("mixed"):
        if item.get("platform_mismatch") is not None:
            odd = item["platform_mismatch"]
        else:  # a plain tree: the platforms other than the one most files are for (all of them on a tie)
            most = max(len(paths) for paths in groups.values())
            main = [p for p in groups if len(groups[p]) == most]
            odd = [p for p in groups if p not in main] if len(main) == 1 else list(groups)
        named = "; ".join(f"{p}: {', '.join(groups[p][:_SHOWN_PATHS])}" for p in odd)
        out.append(f"  MIXED ARCHITECTURES: {', '.join(groups)}" + (f" -- {named}" if named else ""))
    if item.get("platform_mismatch"):
        out.append(f"  TREE DIFFERS FROM DECLARED {item['oci_platform']}: {', '.join(item['platform_mismatch'])}")
    for bad in item.get("unreadable", []):
        out.append(f"  unreadable: {bad['path']}: {bad['error']}")
    if item.get("skipped"):
        out.append(f"  skipped (over 512 MiB): {', '.join(item['skipped'])}")
    if item.get("not_requested"):
        out.append(f"  NOT A REQUESTED PLATFORM: {', '.join(item['not_requested'])}")
    return out


COMMANDS = {"list": cmd_list, "explain": cmd_explain, "matrix": cmd_matrix, "platform": cmd_platform,
            "inspect": cmd_inspect, "undo": cmd_undo}


def run_subcommand(name: str, rest: list[str], args: Namespace) -> int:
    """Dispatch a subcommand by name."""
    if len(args.sinks) > 1 or args.format not in ("text", "json"):
        raise UsageError(f"{name} prints one report, as text or json")
    return COMMANDS[name](args, rest)
