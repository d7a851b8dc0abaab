"""List the files and functions over the size limits of issue 14: a module in mnist_desktop/app over
450 lines, a function or method anywhere in mnist_desktop over 60 lines (decorators and docstring
included, as `ast` counts them).

    python scripts/check_sizes.py            # the whole package; exit status 1 if anything is over
    python scripts/check_sizes.py --all      # every module's line count and its longest function too

tests/test_sizes.py holds the package to the same limits with these functions.
"""

from __future__ import annotations

import argparse
import ast
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "mnist_desktop"
MAX_FILE_LINES = 450     # applies to app/ (the views grew; the engine's layer file may be long)
MAX_FUNCTION_LINES = 60  # applies to every function and method of the package


@dataclass(frozen=True)
class Function:
    path: str        # relative to the repository root, e.g. mnist_desktop/app/main_window.py
    name: str        # qualified: Class.method, outer.<locals>.inner
    line: int
    lines: int


def file_lines(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def functions(path: Path, root: Path = ROOT) -> list[Function]:
    """Every function and method in ``path`` with its length (first decorator to last line)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    rel = path.relative_to(root).as_posix()
    found = []

    def visit(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                start = min([child.lineno] + [d.lineno for d in child.decorator_list])
                found.append(Function(rel, prefix + child.name, child.lineno, child.end_lineno - start + 1))
                visit(child, f"{prefix}{child.name}.<locals>.")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            else:
                visit(child, prefix)

    visit(tree, "")
    return found


def modules(package: Path = PACKAGE) -> list[Path]:
    return sorted(p for p in package.rglob("*.py") if "__pycache__" not in p.parts)


def long_files(package: Path = PACKAGE, limit: int = MAX_FILE_LINES) -> dict[str, int]:
    """app/ modules over ``limit`` lines: relative path -> lines."""
    return {p.relative_to(ROOT).as_posix(): n for p in modules(package / "app") if (n := file_lines(p)) > limit}


def long_functions(package: Path = PACKAGE, limit: int = MAX_FUNCTION_LINES) -> list[Function]:
    """Functions and methods over ``limit`` lines anywhere in the package, longest first."""
    over = [f for p in modules(package) for f in functions(p) if f.lines > limit]
    return sorted(over, key=lambda f: -f.lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--all", action="store_true", help="every module's length and longest function")
    args = parser.parse_args(argv)
    if args.all:
        for p in modules():
            fs = functions(p)
            longest = max(fs, key=lambda f: f.lines, default=None)
            tail = f"  longest {longest.name} {longest.lines}" if longest else ""
            print(f"{file_lines(p):5d}  {p.relative_to(ROOT).as_posix()}{tail}")
        print()
    files, funcs = long_files(), long_functions()
    print(f"app/ modules over {MAX_FILE_LINES} lines: {len(files)}")
    for path, n in sorted(files.items(), key=lambda kv: -kv[1]):
        print(f"  {n:5d}  {path}")
    print(f"functions and methods over {MAX_FUNCTION_LINES} lines: {len(funcs)}")
    for f in funcs:
        print(f"  {f.lines:5d}  {f.path}:{f.line}  {f.name}")
    return 1 if files or funcs else 0


if __name__ == "__main__":
    sys.exit(main())
