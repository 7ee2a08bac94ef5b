"""`mab-doctor platform`: the host in every platform vocabulary; reads files only, starts nothing."""

from __future__ import annotations

from mab_doctor.commands.checking import make_context
from mab_doctor.commands.options import Options, UsageError
from mab_doctor.commands.output import as_json, emit


def main(opts: Options) -> int:
    """uname machine, Debian arch, OCI platform, Docker Hub prefix, GOARCH/GOARM, QEMU, float ABI, ..."""
    from mab_doctor.host.hostinfo import host_facts, platform_vocabulary

    if opts.args:
        raise UsageError("platform takes no arguments (use inspect for files)")
    vocab = platform_vocabulary(host_facts(make_context(opts, project=False)))
    if opts.format == "json":
        emit(opts, lambda _f: as_json({"schema": "mab-doctor/platform/v1", **vocab}))
        return 0
    width = max(len(k) for k in vocab)
    emit(opts, lambda _f: "".join(f"{k:<{width}}  {'-' if v is None else v}\n" for k, v in vocab.items()))
    return 0
