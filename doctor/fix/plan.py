"""Fix planning: the fixes checks attach to results, and the plan --fix builds from them."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Callable, Iterable

from mab_doctor.core.model import Action, Fix, Outcome, Status
from mab_doctor.core.record import record
from mab_doctor.emulation.binfmt import Entry, is_protected, is_qemu, listing, parse_register_line
from mab_doctor.emulation.qemu import best_definition, install_command, stored_for
from mab_doctor.fix import actions as make
from mab_doctor.fix.actions import KINDS, kind_of
from mab_doctor.fix.kinds import Resolver
from mab_doctor.host import platforms

if TYPE_CHECKING:
    from mab_doctor.core.context import Context
    from mab_doctor.host.platforms import Platform


ADD_C_FLAG = "--add-c-flag"


@record
class OptInFix(Fix):
    """A fix whose steps are planned only when the user gives the --fix option ``opt_in``: one with a
    cost the user must choose (its JSON form stays a plain Fix's)."""

    opt_in: str = ""


def _ours(entry: Entry) -> bool:
    # Fixes touch QEMU handlers only, never other software's (protected names, other emulators).
    return not is_protected(entry.name) and is_qemu(entry)


def register_fix(ctx: "Context", platform: "Platform", replace: Entry | None = None) -> Fix | None:
    """Register (or replace) a QEMU handler with F for one platform; None when no machine can."""
    if replace is not None and not _ours(replace):
        return None  # never touch other software's handlers
    found = best_definition(ctx, platform)
    actions: list[Action] = []
    if found is None:
        install = install_command(ctx, platform)
        if install is None:
            return None
        actions.append(make.install(install))
        name, line, origin = f"qemu-{platform.qemu}", "", "the installed package"
    else:
        line, origin = found
        name = parse_register_line(line).name
    clashing = next((e for e in listing(ctx).entries if e.name == name), None)
    for old in {e.name: e for e in (replace, clashing) if e is not None}.values():
        if not _ours(old):
            return None
        actions.append(make.unregister(old.name))
    actions.append(make.register(name, line))
    if line and not any("F" in s.entry.flags for s in stored_for(ctx, platform)):
        actions.append(_persist_action(parse_register_line(line)))  # planned only with --persist
    verb = "Replace" if replace is not None or clashing is not None else "Register"
    return Fix.of(f"{verb} {name} with the F flag for {platform.oci} (definition: {origin})", *actions)


def enable_entry_fix(entry: Entry) -> Fix | None:
    """Switch a disabled QEMU entry back on."""
    if not _ours(entry):
        return None
    return Fix.of(f"Enable {entry.name}", make.enable_entry(entry.name))


def _persist_action(entry: Entry) -> Action:
    flags = entry.flags if "F" in entry.flags else entry.flags + "F"
    line = dataclasses.replace(entry, enabled=True, flags=flags).register_string()
    return make.persist(f"/etc/binfmt.d/{entry.name}.conf", line)


def persist_fix(entry: Entry) -> Fix | None:
    """Write /etc/binfmt.d/<name>.conf so systemd-binfmt registers the entry (with F) at boot."""
    if not _ours(entry):
        return None
    return Fix.of(f"Persist {entry.name} in /etc/binfmt.d (with F)", _persist_action(entry))


def c_flag_fix(entry: Entry) -> Fix | None:
    """Re-register a QEMU entry with the C flag added and every other field as it is; planned only with
    --add-c-flag (QEMU then runs with the credentials of the setuid programs it emulates)."""
    if not _ours(entry) or "C" in entry.flags:
        return None
    # The kernel order P O C F, as the entry file prints it; C implies O in the kernel, so O is written too.
    flags = "".join(f for f in "POCF" if f in entry.flags + "OC")
    line = dataclasses.replace(entry, flags=flags).register_string()
    actions = (make.unregister(entry.name), make.register(entry.name, line))
    return OptInFix(f"Replace {entry.name} with the C flag added (flags {flags}); only with {ADD_C_FLAG}",
                    needs_root=True, actions=actions, opt_in=ADD_C_FLAG)


@record
class Plan:
    """What --fix would do for a set of results, and what it leaves alone."""

    actions: tuple[Action, ...]     # deduplicated, in apply order
    held_back: tuple[Action, ...]   # actions left out because the option they need was not given
    unfixable: tuple[str, ...]      # "check" or "check [target]" of problems no action can fix
    held_for: tuple[str, ...] = ()  # the option each held-back action needs (--persist, --add-c-flag)

    @property
    def needs_root(self) -> bool:
        """Whether applying the actions needs root."""
        return any(a.needs_root for a in self.actions)


def _label(outcome: Outcome) -> str:
    target = outcome.result.target
    return outcome.check.name + (f" [{target}]" if target else "")


def _key(action: Action) -> tuple[str, str, str]:
    return action.kind, action.subject, action.line


def _dedupe(actions: Iterable[Action]) -> tuple[Action, ...]:
    seen: dict[tuple[str, str, str], Action] = {}
    for action in actions:
        seen.setdefault(_key(action), action)
    unique = list(seen.values())
    kept = [a for a in unique if not kind_of(a).redundant(a, unique)]
    return tuple(sorted(kept, key=lambda a: kind_of(a).phase))  # sorted() is stable


def _needs(fix: Fix, action: Action) -> str:
    # The option a step waits for: its kind's (persist files), else its fix's (the C flag).
    return kind_of(action).opt_in or getattr(fix, "opt_in", "")


def make_plan(outcomes: Iterable[Outcome], *, persist: bool, add_c_flag: bool = False) -> Plan:
    """Every action of every problem's fix, deduplicated and in phase order; actions that make changes
    survive a reboot only with ``persist``, and those that add the C flag only with ``add_c_flag``
    (the rest are held back); problems (WARN, FAIL, ERROR) with no applicable fix listed as unfixable."""
    given = {"--persist"} if persist else set()
    given |= {ADD_C_FLAG} if add_c_flag else set()
    wanted: list[Action] = []
    held: list[Action] = []
    needs: dict[tuple[str, str, str], str] = {}  # what each held-back action waits for
    unfixable: list[str] = []
    for outcome in outcomes:
        if outcome.status in (Status.OK, Status.SKIP):
            continue
        fix = outcome.result.fix
        if fix is None or not fix.actions or any(a.kind not in KINDS for a in fix.actions):
            unfixable.append(_label(outcome))  # commands for a person only, or steps this version cannot take
            continue
        for action in fix.actions:
            need = _needs(fix, action)
            if need and need not in given:
                held.append(action)
                needs.setdefault(_key(action), need)
            else:
                wanted.append(action)
    kept = _dedupe(wanted)
    held_back = _dedupe(a for a in held if a not in kept)  # another problem's fix takes it anyway
    return Plan(kept, held_back, tuple(dict.fromkeys(unfixable)), tuple(needs[_key(a)] for a in held_back))


def resolver(context: Callable[[], "Context"]) -> Resolver:
    """Resolve a register step deferred until its package is installed: the definition is looked up
    then, in a fresh context (``context()``), since the package has just added it."""
    def resolve(name: str) -> str | None:
        platform = next((p for p in platforms.PLATFORMS if f"qemu-{p.qemu}" == name), None)
        found = best_definition(context(), platform) if platform else None
        return found[0] if found else None
    return resolve
