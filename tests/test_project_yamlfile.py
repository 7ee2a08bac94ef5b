"""YAML loading that keeps line and column of every key and item, refuses bombs, and never raises."""

from __future__ import annotations

import time

from mab_doctor.project.model import Problem, Where
from mab_doctor.project.yamlfile import YamlList, YamlMap, load_yaml, position, text_line, where

DOC = """\
x-defaults: &defaults
  restart: always
services:
  web:
    <<: *defaults
    image: nginx
    ports: ["80:80", "443:443"]
  run: |
    first
    second
"""


def test_plain_data_with_positions():
    data, problem = load_yaml(DOC, "c.yml")
    assert problem is None
    assert data == {"x-defaults": {"restart": "always"},
                    "services": {"web": {"image": "nginx", "ports": ["80:80", "443:443"], "restart": "always"},
                                 "run": "first\nsecond\n"}}
    assert isinstance(data, YamlMap) and isinstance(data["services"]["web"]["ports"], YamlList)
    assert position(data, "services") == (3, 1)
    assert position(data["services"], "web") == (4, 3)
    assert position(data["services"]["web"], "image") == (6, 5)
    assert position(data["services"]["web"]["ports"], 1) == (7, 22)
    # A merged key is placed where the anchor wrote it.
    assert position(data["services"]["web"], "restart") == (2, 3)
    assert where("c.yml", data["services"], "web") == Where("c.yml", 4, 3)
    assert where("c.yml", data["services"]["web"]) == Where("c.yml", 5, 5)


def test_line_inside_a_literal_block_and_a_plain_value():
    data, _ = load_yaml(DOC, "c.yml")
    assert text_line(data["services"], "run", 0) == 9
    assert text_line(data["services"], "run", 1) == 10
    assert text_line(data["services"]["web"], "image", 0) == 6


def test_unknown_position_is_zero():
    assert position({"a": 1}, "a") == (0, 0)
    data, _ = load_yaml("[a, b]", "f")
    assert position(data, 7) == (1, 1)


def test_yaml_1_1_reads_on_as_true_and_keeps_local_tags():
    data, problem = load_yaml("on: push\njob:\n  script: !reference [.setup, script]\n", "g.yml")
    assert problem is None
    assert data[True] == "push"
    assert data["job"]["script"] == [".setup", "script"] and data["job"]["script"].tag == "!reference"


def test_empty_text_is_no_data_and_no_problem():
    assert load_yaml("", "f") == (None, None)
    assert load_yaml("# only a comment\n", "f") == (None, None)


def test_syntax_errors_name_line_and_column():
    assert load_yaml("a: b: c\n", "f.yml") == (None, Problem(Where("f.yml", 1, 5),
                                                             "YAML error: mapping values are not allowed here"))
    _, problem = load_yaml("ok: 1\nlist:\n\t- a\n", "f.yml")
    assert problem.where == Where("f.yml", 3, 1) and "'\\t'" in problem.message
    _, problem = load_yaml('a: "open\n', "f.yml")
    assert problem.where.line == 2 and "quoted scalar" in problem.message


def test_a_second_document_is_refused():
    _, problem = load_yaml("a: 1\n---\nb: 2\n", "f.yml")
    assert problem.where == Where("f.yml", 2, 1)
    assert "single document" in problem.message


def test_control_character_and_bad_keys_and_values():
    _, problem = load_yaml("a: 1\nb: \x07\n", "f.yml")
    assert problem == Problem(Where("f.yml", 2, 4), "YAML error: character U+0007 is not allowed in YAML")
    _, problem = load_yaml("? [a, b]\n: 1\n", "f.yml")
    assert problem.where == Where("f.yml", 1, 3) and "not a scalar" in problem.message
    _, problem = load_yaml("when: 2024-13-01\n", "f.yml")
    assert problem.where == Where("f.yml", 1, 7) and "timestamp" in problem.message
    _, problem = load_yaml("<<: [1]\n", "f.yml")
    assert problem.where.line == 1 and "mapping to merge" in problem.message


def _bomb(levels: int) -> str:
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def test_an_alias_bomb_is_refused_fast():
    started = time.monotonic()
    data, problem = load_yaml(_bomb(10), "bomb.yml")
    assert time.monotonic() - started < 1.0
    assert data is None
    assert problem.where.file == "bomb.yml" and problem.where.line == 6  # 9**6 nodes: the first over the bound
    assert problem.message == "YAML refused: more than 100000 nodes once aliases are expanded"


def test_a_small_alias_fan_out_is_fine():
    data, problem = load_yaml(_bomb(3), "ok.yml")
    assert problem is None and len(data["a2"]) == 9 and data["a2"][0][0] == ["lol"] * 9


def test_too_many_aliases_and_recursion_and_depth_are_refused():
    many = "x: &x 1\ny: [" + ", ".join(["*x"] * 6000) + "]\n"
    _, problem = load_yaml(many, "f.yml")
    assert problem.message == "YAML refused: more than 5000 aliases" and problem.where.line == 2
    _, problem = load_yaml("a: &a [1, *a]\n", "f.yml")
    assert problem == Problem(Where("f.yml", 1, 4),
                              "YAML refused: an alias refers to a node that contains it (recursive data)")
    _, problem = load_yaml("[" * 3000 + "]" * 3000, "f.yml")
    assert problem == Problem(Where("f.yml", 1, 101), "YAML refused: nested deeper than 100 levels")
