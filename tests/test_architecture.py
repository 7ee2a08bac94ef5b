"""The house: layers import only downward, no import cycles, small modules, one line saying what each is for."""

from __future__ import annotations

import ast
from pathlib import Path

from helpers import PROJECT

# Lowest first: a module may import from its own layer and the layers before it, never after.
LAYERS = ("core", "host", "emulation", "engines", "inspection", "project", "fix", "checks", "report", "commands", "cli")
ROOT_MODULES = {"mab_doctor": "core", "mab_doctor.api": "core", "mab_doctor.__main__": "cli"}


def _modules() -> dict[str, Path]:
    found = {}
    for folder, package in ((PROJECT / "doctor", "mab_doctor"), (PROJECT / "checks", "mab_doctor.checks")):
        for path in folder.rglob("*.py"):
            parts = path.relative_to(folder).with_suffix("").parts
            name = ".".join((package, *parts))
            found[name.removesuffix(".__init__")] = path
    return found


MODULES = _modules()


def layer_of(module: str) -> str:
    if module in ROOT_MODULES:
        return ROOT_MODULES[module]
    part = module.split(".")[1]
    return "cli" if part == "cli" else part


def imports_of(path: Path, module: str) -> set[str]:
    """Every mab_doctor module this file imports, at any depth (lazy imports inside functions too)."""
    tree = ast.parse(path.read_text(), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found |= {f"{base}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Dict):  # a registry of modules loaded by name is an import all the same
            found |= {v.value for v in node.values if isinstance(v, ast.Constant) and v.value in MODULES}
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "import_module" and node.args \
                and isinstance(node.args[0], ast.JoinedStr):
            found.add("mab_doctor.commands")  # the command table loads its own modules by name
    return {m for m in found if m in MODULES and m != module}


GRAPH = {m: imports_of(p, m) for m, p in MODULES.items()}


def test_modules_loaded_by_name_are_seen():
    assert "mab_doctor.report.text" in GRAPH["mab_doctor.report.formats"]


def test_every_command_names_known_option_groups_and_an_existing_module():
    from mab_doctor.commands import COMMANDS, RUN
    from mab_doctor.commands.arguments import GROUPS

    for command in (RUN, *COMMANDS):
        assert set(command.groups) <= set(GROUPS), command.name
        if command.name != "help":  # help is answered by the parser itself
            assert f"mab_doctor.commands.{command.module}" in MODULES, command.name


def test_every_module_is_in_a_layer():
    assert {layer_of(m) for m in MODULES} <= set(LAYERS)


def test_no_module_imports_from_a_layer_above_it():
    upward = [f"{m} ({layer_of(m)}) imports {dep} ({layer_of(dep)})" for m, deps in GRAPH.items()
              for dep in deps if LAYERS.index(layer_of(dep)) > LAYERS.index(layer_of(m))]
    assert not upward, "\n".join(upward)


def test_no_import_cycles():
    # A package importing its own submodules (commands/__init__ loading a command) is not a cycle
    # through code: leave parent -> child edges out, then look for any cycle by depth-first search.
    graph = {m: {d for d in deps if not d.startswith(m + ".")} for m, deps in GRAPH.items()}
    state: dict[str, int] = {}
    cycles: list[str] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                cycles.append(" -> ".join(path[path.index(dep):] + [dep]) if dep in path else f"{node} -> {dep}")
            elif dep not in state:
                visit(dep, path + [dep])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert not cycles, "\n".join(cycles)


def test_small_modules_each_saying_what_it_is_for():
    too_big, undocumented = [], []
    for module, path in MODULES.items():
        lines = len(path.read_text().splitlines())
        limit = 150 if layer_of(module) == "checks" and not path.name.startswith("__") else 300
        if lines > limit:
            too_big.append(f"{path.relative_to(PROJECT)}: {lines} lines (limit {limit})")
        doc = ast.get_docstring(ast.parse(path.read_text()))
        if not doc or not doc.strip().splitlines()[0].strip():
            undocumented.append(str(path.relative_to(PROJECT)))
    assert not too_big, "\n".join(too_big)
    assert not undocumented, "modules without a one-line docstring: " + ", ".join(undocumented)


def test_the_repository_explains_itself_without_outside_documents():
    # Earlier versions pointed at planning documents that are not in the repository.
    import re

    words = re.compile(r"\bSPEC\b|matrix\.md|research/|peers\.md|user-pains|style-anchors")
    texts = [PROJECT / "README.md", *(PROJECT / "docs").glob("*.md"), *MODULES.values(),
             *(PROJECT / "doctor" / "data").glob("*.json")]
    hits = [f"{p.relative_to(PROJECT)}: {m.group(0)}" for p in texts if p.exists()
            for m in words.finditer(p.read_text())]
    assert not hits, "\n".join(hits)


def test_every_check_has_its_own_test_module():
    missing = [p.stem for p in (PROJECT / "checks").glob("*.py")
               if p.stem != "__init__" and not (PROJECT / "tests" / "checks" / f"test_{p.stem}.py").exists()]
    assert not missing, f"checks without tests/checks/test_<name>.py: {missing}"
