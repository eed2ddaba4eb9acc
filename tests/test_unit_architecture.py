"""The folder tree is the architecture (docs/architecture.md): these tests keep it so.

Layers, lowest first: core and data ← disks ← engine ← backups ← ops ← net ← ui. A module may
import its own layer and the ones below, never one above: the engine knows nothing of the
menu, a backup format nothing of the deployment."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from oscar.core import settings
from oscar.core.errors import Exit
from tests.conftest import ROOT

pytestmark = pytest.mark.unit
PACKAGE = ROOT / "oscar"
LONGEST_FUNCTION = 60  # lines: a function fits on a screen
LAYERS = {"core": 0, "data": 0, "disks": 1, "engine": 2, "backups": 3, "ops": 4, "net": 5, "ui": 6}



def modules() -> list[tuple[str, Path]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found.append((name, path))
    return found


def layer(module: str) -> int:
    parts = module.split(".")
    if len(parts) < 2:
        return LAYERS["ui"] if module == "oscar.__main__" else 0
    if parts[1] == "__main__":
        return LAYERS["ui"]
    return LAYERS.get(parts[1], 0)  # oscar.__version__ and the like: the package itself


def imported(path: Path) -> list[tuple[int, str]]:
    """Every oscar module a file imports, wherever in the file (functions too)."""
    names = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "oscar":
                names += [(node.lineno, f"oscar.{a.name}") for a in node.names]
            elif node.module.startswith("oscar."):
                names.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            names += [(node.lineno, a.name) for a in node.names if a.name.startswith("oscar")]
        elif isinstance(node, ast.ImportFrom) and node.level:
            names.append((node.lineno, "relative"))
    return names


def test_every_folder_is_a_known_layer() -> None:
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert folders == set(LAYERS)


def test_the_top_level_stays_small() -> None:
    entries = [p.name for p in PACKAGE.iterdir() if p.name != "__pycache__"]
    assert len(entries) <= 10, sorted(entries)


def test_no_module_imports_a_higher_layer() -> None:
    wrong = []
    for name, path in modules():
        for line, target in imported(path):
            assert target != "relative", f"{path}:{line}: absolute imports only"
            if layer(target) > layer(name):
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    assert not wrong, "\n".join(wrong)


def test_the_layer_check_catches_an_upward_import(tmp_path: Path) -> None:
    engine = tmp_path / "bad.py"
    engine.write_text("def f():\n    from oscar.ops.restore import restorer\n")
    assert [layer(t) for _l, t in imported(engine)] == [LAYERS["ops"]]
    assert layer("oscar.engine.bad") < LAYERS["ops"]


def test_urwid_lives_only_in_the_menu() -> None:
    users = []
    for name, path in modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                    [node.module or ""]
                if any(n.split(".")[0] == "urwid" for n in names):
                    users.append(name)
    assert users and all(u.startswith("oscar.ui.tui") for u in users), users


def test_oscar_variables_are_read_only_through_settings() -> None:
    """Every OSCAR_* variable is defined in core/settings.py and read when used."""
    readers = []
    for _name, path in modules():
        if path == PACKAGE / "core/settings.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and \
                    re.fullmatch(r"OSCAR_[A-Z_]+", node.value):
                readers.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.value}")
    assert not readers, "\n".join(readers)


def test_exit_codes_are_defined_in_errors_only() -> None:
    others = []
    for _name, path in modules():
        if path == PACKAGE / "core/errors.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == "exit_code" for t in node.targets):
                others.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not others, others


def test_settings_and_exit_codes_are_documented() -> None:
    doc = (ROOT / "docs/architecture.md").read_text()
    missing = [s.name for s in settings.ALL if f"`{s.name}`" not in doc]
    missing += [f"exit {code.value}" for code in Exit if f"| {code.value} |" not in doc]
    assert not missing, missing


def test_no_function_is_longer_than_a_screen() -> None:
    long = []
    for _name, path in modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > LONGEST_FUNCTION:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}: {length}")
    assert not long, "\n".join(long)
