"""The one direction of imports, checked: engine <- data, preprocess, explain, evaluation, training, ...
<- cli, app. Nothing outside mnist_desktop/app imports Qt (PySide6, shiboken6) or pyqtgraph, each module
checked on its own in a fresh interpreter, so the command line works on a machine without a display."""

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "mnist_desktop"
QT = {"PySide6", "shiboken6", "pyqtgraph"}
LEAVES = {"mnist_desktop.fileio"}          # standard-library helpers anything may use (atomic writes)


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


ALL_MODULES = sorted(module_name(p) for p in PACKAGE.rglob("*.py"))
# __main__ runs the command line when imported; the CLI cases below cover it
OUTSIDE_APP = [m for m in ALL_MODULES if not m.startswith("mnist_desktop.app") and m != "mnist_desktop.__main__"]


CLI_ARGS = [["train", "--help"], ["evaluate", "--help"], ["download", "--help"], ["predict", "--help"],
            ["imagine", "--help"], ["--version"]]


def _check(code: str) -> str:
    """A program: ``code``, then one line 'QT:<the Qt packages loaded, comma-separated>'."""
    return f"{code}\nimport sys\nprint('QT:' + ','.join(sorted({{m.split('.')[0] for m in sys.modules}} & {set(QT)!r})))"


def _entry_point(argv: list[str]) -> str:
    """`python -m mnist_desktop ARGV` run in the interpreter; --help and --version end in SystemExit(0)."""
    return (f"import sys, runpy; sys.argv = ['mnist-desktop', *{argv!r}]\n"
            "try:\n    runpy.run_module('mnist_desktop', run_name='__main__')\n"
            "except SystemExit as exc:\n    assert exc.code in (0, None), exc.code\n")


@pytest.fixture(scope="module")
def qt_loaded():
    """Every program below in its own fresh interpreter (this checkout first on the path), all started at
    once: key -> the set of Qt packages it loaded (or the error it ended with)."""
    programs = {m: _check(f"import {m}") for m in OUTSIDE_APP}
    programs |= {" ".join(a): _check(_entry_point(a)) for a in CLI_ARGS}
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    running = {k: subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True, cwd=ROOT, env=env) for k, code in programs.items()}
    results = {}
    for key, proc in running.items():
        out, err = proc.communicate(timeout=300)
        line = next((l for l in out.splitlines() if l.startswith("QT:")), None)
        results[key] = set(filter(None, line[3:].split(","))) if proc.returncode == 0 and line is not None \
            else f"exit {proc.returncode}: {err[-1500:]}"
    return results


def test_every_module_outside_app_is_checked():
    assert len(OUTSIDE_APP) >= 20
    for name in ("mnist_desktop.evaluation", "mnist_desktop.training", "mnist_desktop.engine.train",
                 "mnist_desktop.data.datasets", "mnist_desktop.cli", "mnist_desktop.shipped"):
        assert name in OUTSIDE_APP


@pytest.mark.parametrize("module", OUTSIDE_APP)
def test_importing_a_module_outside_app_loads_no_qt(module, qt_loaded):
    assert qt_loaded[module] == set(), f"importing {module} loads Qt: {qt_loaded[module]}"


@pytest.mark.parametrize("argv", CLI_ARGS, ids=" ".join)
def test_the_command_line_without_a_window_loads_no_qt(argv, qt_loaded):
    """`python -m mnist_desktop ...` (the entry point itself) for the commands that open no window."""
    assert qt_loaded[" ".join(argv)] == set()


def imports_of(path: Path) -> set[str]:
    """The mnist_desktop modules a file imports anywhere in it (function-level imports too)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("mnist_desktop")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("mnist_desktop"):
                found.add(target)
                found |= {f"{target}.{a.name}" for a in node.names if (PACKAGE.parent / f"{target}.{a.name}".replace(".", "/")).with_suffix(".py").exists()}
    return found


def layer(module: str) -> str:
    if module.startswith("mnist_desktop.engine"):
        return "engine"
    if module.startswith("mnist_desktop.app"):
        return "app"
    if module in ("mnist_desktop.cli", "mnist_desktop.__main__"):
        return "cli"
    return "core"      # data, preprocess, explain, evaluation, training, drawing, heatmap, shipped, ...


ALLOWED = {"engine": {"engine"}, "core": {"engine", "core"}, "app": {"engine", "core", "app"},
           "cli": {"engine", "core", "app", "cli"}}


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_go_one_way(path):
    """engine imports only engine; data, preprocess, explain, ... import engine and each other; app imports
    those; nothing but the command line (which opens the window) imports the command line."""
    me = layer(module_name(path))
    wrong = sorted(m for m in imports_of(path) - LEAVES - {"mnist_desktop"} if layer(m) not in ALLOWED[me])
    assert not wrong, f"{path.relative_to(ROOT)} ({me}) imports {wrong}"
