"""Everything about a method lives with the method: its registry entry carries the facts other modules ask
(search space, warm-up configs, collapse hints, the co-occurrence window a config implies, the target similarity
it fits), and no module outside ``behemb_core/methods/`` names a registered method in its code."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from behemb_core.errors import ConfigError
from behemb_core.methods.registry import DEFAULT_METHOD, METHODS, get_method, parse_config

REPO = Path(__file__).resolve().parents[1]
PRODUCT = [*sorted((REPO / "behemb_core").rglob("*.py")), *sorted((REPO / "app_support").glob("*.py")),
           *sorted((REPO / "pages").glob("*.py")), REPO / "app.py"]


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the string nodes that are docstrings (documentation may name a method; code may not)."""
    out: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                out.add(id(first.value))
    return out


def method_names_in_code(path: Path, names: set[str]) -> list[str]:
    """``line: text`` of every string literal (f-string parts included, docstrings not) in ``path`` that names
    one of ``names``."""
    import re

    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    docs = _docstrings(tree)
    # A name that is also an English word ("graph", "fusion") counts only as the whole literal (a key, a
    # default); a coined name ("cooc_softmax", "item2vec") counts anywhere in the text, e.g. in a help string.
    coined = sorted(n for n in names if not n.isalpha())
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, coined)) + r")\b") if coined else None
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            if node.value.strip() in names or (pattern is not None and pattern.search(node.value)):
                found.append(f"{path.relative_to(REPO)}:{node.lineno}: {node.value[:80]!r}")
    return found


def test_no_module_outside_methods_names_a_method() -> None:
    names = set(METHODS)
    outside = [p for p in PRODUCT if "methods" not in p.relative_to(REPO).parts]
    assert len(outside) > 50
    found = [hit for path in outside for hit in method_names_in_code(path, names)]
    assert not found, "method names outside behemb_core/methods/ (ask the registry entry instead):\n" + "\n".join(found)


def test_the_scan_finds_a_method_name() -> None:
    """The scan is not blind: a literal naming a method is found, a docstring naming one is not."""
    path = REPO / "tests" / "_probe_method_names.py"
    lines = ['"""Docs may say cooc_softmax."""', 'DEFAULT = "cooc_softmax"', 'MSG = f"use {1} ppmi_svd"',
             'OK = "a malformed graph"', 'KEY = "graph"']
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    try:
        hits = method_names_in_code(path, set(METHODS))
    finally:
        path.unlink()
    assert sorted(int(h.split(":")[1]) for h in hits) == [2, 3, 5]


def test_default_method_is_registered() -> None:
    assert DEFAULT_METHOD in METHODS


@pytest.mark.parametrize("name", sorted(METHODS))
def test_every_tunable_entry_is_searchable_from_its_defaults(name: str) -> None:
    """Every stage parameter is a config field and every stage's first candidate is the default value."""
    spec = METHODS[name]
    default = spec.parse_config({})
    for stage in spec.search_space:
        for param, values in stage.grid:
            assert param in spec.config_class.model_fields, (name, param)
            assert values[0] == getattr(default, param), (name, stage.name, param)
            for value in values:
                spec.parse_config({param: value})  # every candidate is a valid value
        if stage.scored_by == "target":
            assert spec.target is not None


@pytest.mark.parametrize("name", sorted(METHODS))
def test_warm_up_configs_parse(name: str) -> None:
    spec = METHODS[name]
    for values in spec.warm_up:
        spec.parse_config({"dim": 8, **values})
    assert spec.warm_up or not spec.learns_from_sessions, f"{name} learns from sessions but warms up nothing"


def test_fusion_base_method_choices_come_from_the_registry() -> None:
    fusion = get_method("fusion")
    behavior = [n for n, s in METHODS.items() if s.learns_from_sessions]
    assert fusion.field_choices() == {"base_method": behavior}
    for name in behavior:
        assert parse_config("fusion", {"base_method": name}).base_method == name  # type: ignore[attr-defined]


@pytest.mark.parametrize("values, words", [
    ({"base_method": "nope"}, "'nope' is not a behavior method"),
    ({"base_method": "fusion"}, "'fusion' is not a behavior method"),
    ({"base_method": "item2vec", "base_config": {"windoww": 3}}, "base_config: item2vec: invalid config: windoww"),
    ({"base_method": "cooc_softmax", "base_config": {"tau": -1}}, "base_config: cooc_softmax: invalid config: tau"),
])
def test_a_bad_fusion_base_fails_when_the_config_is_parsed(values: dict, words: str) -> None:
    with pytest.raises(ConfigError, match=words.replace("(", r"\(")):
        parse_config("fusion", values)


def test_window_implied_by_a_config() -> None:
    assert get_method("ppmi_svd").window_of(parse_config("ppmi_svd", {"window": 0})) == 0
    assert get_method("graph").window_of(parse_config("graph", {"window": 3, "cooc_window": 0})) == 0
    fusion = parse_config("fusion", {"base_method": "ppmi_svd", "base_config": {"window": 0}})
    assert get_method("fusion").window_of(fusion) == 0
    assert get_method("fusion").window_of(parse_config("fusion", {"base_method": "item2vec"})) == 5


def test_collapse_hints_come_from_the_entry() -> None:
    from behemb_core.diagnostics import GENERIC_HINTS, _hints

    for name, spec in METHODS.items():
        assert _hints(name)[: len(spec.collapse_hints)] == list(spec.collapse_hints)
        assert _hints(name)[len(spec.collapse_hints):] == list(GENERIC_HINTS)
    assert _hints("not_a_method") == list(GENERIC_HINTS)


def test_the_cli_refuses_a_bad_fusion_base_before_reading_data(tmp_path: Path, capsys) -> None:
    from behemb_core.cli import main

    code = main(["train", "--input", str(tmp_path / "absent.jsonl"), "--method", "fusion", "--store",
                 str(tmp_path / "store"), "--set", "base_method=graphh"])
    err = capsys.readouterr().err
    assert code != 0 and "base_method='graphh' is not a behavior method" in err
    assert "absent.jsonl" not in err  # refused before the input was opened
