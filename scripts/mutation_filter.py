"""Mark cosmic-ray mutants that cannot change behaviour as skipped, and print a module's honest score.

  python scripts/mutation_filter.py skip SESSION.sqlite   # before `cosmic-ray exec`
  python scripts/mutation_filter.py score SESSION.sqlite  # after it: "<run> <killed> <skipped>"

Skipped are only mutants inside type annotations of modules that start with
`from __future__ import annotations`: there an annotation is kept as a string and never evaluated, so
`int | None` turned into `int + None` runs exactly like the original. Every other mutant is run and
counted; cosmic-ray's own report counts skipped mutants as killed, which is why the score is ours.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

from cosmic_ray.work_db import use_db
from cosmic_ray.work_item import TestOutcome, WorkerOutcome, WorkResult


def annotation_spans(source: str) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """(start, end) positions, line 1-based and column 0-based, of every annotation never evaluated."""
    tree = ast.parse(source)
    lazy = any(isinstance(node, ast.ImportFrom) and node.module == "__future__"
               and any(alias.name == "annotations" for alias in node.names) for node in tree.body)
    if not lazy:
        return []
    spans = []
    for node in ast.walk(tree):
        found = []
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            arguments = node.args
            every = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs,
                     arguments.vararg, arguments.kwarg]
            found = [a.annotation for a in every if a is not None and a.annotation is not None]
            found.append(node.returns)
        elif isinstance(node, ast.AnnAssign):
            found = [node.annotation]
        for annotation in found:
            if annotation is not None:
                # ast columns are UTF-8 byte offsets; cosmic-ray's are characters. Our sources keep
                # annotations on ASCII lines, so the two agree.
                spans.append(((annotation.lineno, annotation.col_offset),
                              (annotation.end_lineno, annotation.end_col_offset)))
    return spans


def _inside(mutation, spans) -> bool:
    return any(start <= tuple(mutation.start_pos) and tuple(mutation.end_pos) <= end for start, end in spans)


def skip(session: str) -> None:
    sources: dict[Path, list] = {}
    skipped = []
    with use_db(session) as db:
        for item in db.pending_work_items:
            for mutation in item.mutations:
                path = Path(mutation.module_path)
                if path not in sources:
                    sources[path] = annotation_spans(path.read_text(encoding="utf-8"))
                if _inside(mutation, sources[path]):
                    skipped.append(item.job_id)
        if skipped:
            db.set_multiple_results(skipped, WorkResult(output="inside an annotation that is never evaluated",
                                                        worker_outcome=WorkerOutcome.SKIPPED))


def score(session: str) -> None:
    run = killed = skipped = 0
    with use_db(session) as db:
        for _, result in db.results:
            if result.worker_outcome == WorkerOutcome.SKIPPED:
                skipped += 1
                continue
            run += 1
            killed += result.test_outcome != TestOutcome.SURVIVED
    print(run, killed, skipped)


if __name__ == "__main__":
    {"skip": skip, "score": score}[sys.argv[1]](sys.argv[2])
