"""Fix planning: the actions checks attach to results, and the plan --fix builds from them."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Iterable

from mab_doctor.emulation.binfmt import Entry, is_protected, is_qemu, listing, parse_register_line
from mab_doctor.core.model import ACTION_PHASES, Action, Fix, Outcome, Status
from mab_doctor.emulation.qemu import best_definition, install_command, stored_for

if TYPE_CHECKING:
    from mab_doctor.core.context import Context
    from mab_doctor.host.platforms import Platform


def register_fix(ctx: "Context", platform: "Platform", replace: Entry | None = None) -> Fix | None:
    """Register (or replace) a QEMU handler with F for one platform; None when no machine can."""
    if replace is not None and (is_protected(replace.name) or not is_qemu(replace)):
        return None  # never touch other software's handlers
    found = best_definition(ctx, platform)
    actions: list[Action] = []
    if found is None:
        install = install_command(ctx, platform)
        if install is None:
            return None
        actions.append(Action("install", install[-1], argv=install))
        name, line, origin = f"qemu-{platform.qemu}", "", "the installed package"
    else:
        line, origin = found
        name = parse_register_line(line).name
    clashing = next((e for e in listing(ctx).entries if e.name == name), None)
    for old in {e.name: e for e in (replace, clashing) if e is not None}.values():
        if is_protected(old.name) or not is_qemu(old):
            return None
        actions.append(Action("unregister", old.name))
    actions.append(Action("register", name, line))
    if line and not any("F" in s.entry.flags for s in stored_for(ctx, platform)):
        actions.append(_persist_action(parse_register_line(line)))  # planned only with --persist
    verb = "Replace" if replace is not None or clashing is not None else "Register"
    return Fix.of(f"{verb} {name} with the F flag for {platform.oci} (definition: {origin})", *actions)


def enable_entry_fix(entry: Entry) -> Fix | None:
    """Switch a disabled QEMU entry back on."""
    if is_protected(entry.name) or not is_qemu(entry):
        return None
    return Fix.of(f"Enable {entry.name}", Action("enable-entry", entry.name))


def _persist_action(entry: Entry) -> Action:
    flags = entry.flags if "F" in entry.flags else entry.flags + "F"
    line = dataclasses.replace(entry, enabled=True, flags=flags).register_string()
    return Action("persist", f"/etc/binfmt.d/{entry.name}.conf", line)


def persist_fix(entry: Entry) -> Fix | None:
    """Write /etc/binfmt.d/<name>.conf so systemd-binfmt registers the entry (with F) at boot."""
    if is_protected(entry.name) or not is_qemu(entry):
        return None
    return Fix.of(f"Persist {entry.name} in /etc/binfmt.d (with F)", _persist_action(entry))


def plan(outcomes: Iterable[Outcome], *, persist: bool = False) -> list[Action]:
    """Every action of every non-OK result's fix, deduplicated, in phase order (stable)."""
    seen: dict[tuple[str, str, str], Action] = {}
    for outcome in outcomes:
        fix = outcome.result.fix
        if outcome.status in (Status.OK, Status.SKIP) or fix is None:
            continue
        for action in fix.actions:
            if action.kind == "persist" and not persist:
                continue
            seen.setdefault((action.kind, action.subject, action.line), action)
    # A handler registered by this plan has no need of a deferred twin (install + resolve later).
    concrete = {a.subject for a in seen.values() if a.kind == "register" and a.line}
    actions = [a for a in seen.values() if not (a.kind == "register" and not a.line and a.subject in concrete)]
    return sorted(actions, key=lambda a: ACTION_PHASES.index(a.kind))
