"""`mab-doctor inspect`: which platform ELF files, directory trees and local images are really for."""

from __future__ import annotations

from mab_doctor.commands.checking import make_context
from mab_doctor.commands.options import Options, UsageError
from mab_doctor.commands.output import as_json, emit


def main(opts: Options) -> int:
    """Exit 1 when no input could be inspected at all, or when --platform was given and an input (or
    any file of a tree or image) is for another platform; otherwise 0."""
    from mab_doctor.inspection.inspect import inspect_all

    if not opts.args:
        raise UsageError("inspect takes one or more files, directories or local image references")
    targets = opts.targets if opts.platform_spec is not None else None
    doc, code = inspect_all(make_context(opts, targets or (), project=False), list(opts.args), opts.deep, targets)
    if opts.format == "json":
        emit(opts, lambda _f: as_json(doc))
    else:
        emit(opts, lambda _f: "\n".join(_inspect_text(item) for item in doc["items"]))
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
