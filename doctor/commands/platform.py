"""`mab-doctor platform`: the host in every platform vocabulary; reads files only, starts nothing."""

from __future__ import annotations

from mab_doctor.commands.checking import make_context
from mab_doctor.commands.options import Options, UsageError
from mab_doctor.commands.output import as_json, emit


def main(opts: Options) -> int:
    """uname machine, Debian arch, OCI platform, Docker Hub prefix, GOARCH/GOARM, QEMU, float ABI, ..."""
    from mab_doctor.host.hostinfo import host_facts, placement_map, platform_vocabulary

    if opts.args:
        raise UsageError("platform takes no arguments (use inspect for files)")
    ctx = make_context(opts, project=False)
    vocab = platform_vocabulary(host_facts(ctx))
    placed = placement_map(ctx)
    if opts.format == "json":
        targets = {name: {"placement": p.how, "why": p.why} for name, p in placed.items()}
        emit(opts, lambda _f: as_json({"schema": "mab-doctor/platform/v1", **vocab, "targets": targets}))
        return 0
    words = {"native": "runs natively", "emulated": "needs emulation", "impossible": "cannot run here"}
    rows = {**vocab, **{f"target {name}": f"{words[p.how]}: {p.why}" for name, p in placed.items()}}
    width = max(len(k) for k in rows)
    emit(opts, lambda _f: "".join(f"{k:<{width}}  {'-' if v is None else v}\n" for k, v in rows.items()))
    return 0
