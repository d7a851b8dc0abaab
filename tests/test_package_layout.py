"""README.md's "Package layout" section matches the code: it names every module of mnist_desktop/ (so a new
module gets its line) and no module or folder that does not exist (so a moved one is not left behind).

How the section is read: its code block is a tree; a line whose first word ends in "/" opens a folder for the
lines indented deeper below it (a `name.py` on the folder's own line is one of its modules). On other lines,
every `name.py` (not a path like `x/name.py`) is a module of the current folder, and `(+ a, b, c)` (which may
run over several lines) names a.py, b.py and c.py beside the line's first module.
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "mnist_desktop"
README = ROOT / "README.md"
MODULE = re.compile(r"(?<![\w/.])(\w+\.py)\b")     # launch.py, not scripts/make_icons.py


def layout_block(text: str) -> list[str]:
    """The lines of the first code block under '## Package layout'."""
    section = text.split("\n## Package layout\n", 1)[1].split("\n## ", 1)[0]
    return section.split("```", 2)[1].splitlines()[1:]


def named_paths(lines: list[str]) -> tuple[set[Path], set[Path]]:
    """-> (modules, folders) the tree names, as paths relative to the repository root."""
    modules, folders = set(), set()
    stack: list[tuple[int, Path]] = []     # (indent, folder) of the open folders
    group_folder = None                    # the folder of an open "(+ ..." group
    for line in lines:
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        text = line.strip()
        if group_folder is None:
            while stack and stack[-1][0] >= indent:
                stack.pop()
            folder = stack[-1][1] if stack else Path()
            first = text.split()[0]
            if re.fullmatch(r"[\w.]+/", first):
                path = folder / first.rstrip("/")
                folders.add(path)
                stack.append((indent, path))
                text = text[len(first):]
                modules |= {path / n for n in MODULE.findall(text)}
                continue
            here = folder
        else:
            here = group_folder
        if group_folder is not None or "(+" in text:
            inside, _, rest = text.partition(")") if group_folder is not None else text.split("(+", 1)[1].partition(")")
            before = "" if group_folder is not None else text.split("(+", 1)[0]
            modules |= {here / f"{n}.py" for n in re.findall(r"\b[a-z_]\w*\b", inside)}
            modules |= {here / n for n in MODULE.findall(before + " " + rest)}
            group_folder = None if _ else here
        else:
            modules |= {here / n for n in MODULE.findall(text)}
    return modules, folders


def package_modules() -> set[Path]:
    """Every module of mnist_desktop/ but the packages' __init__.py, relative to the repository root."""
    return {p.relative_to(ROOT) for p in PACKAGE.rglob("*.py")
            if p.name != "__init__.py" and "__pycache__" not in p.parts}


@pytest.fixture(scope="module")
def named():
    return named_paths(layout_block(README.read_text(encoding="utf-8")))


def test_the_readme_names_every_module(named):
    missing = sorted(str(p) for p in package_modules() - named[0])
    assert not missing, f"README.md's Package layout does not name {missing}: give each a line there"


def test_the_readme_names_no_module_or_folder_that_does_not_exist(named):
    modules, folders = named
    gone = sorted(str(p) for p in modules if not (ROOT / p).is_file())
    gone += sorted(f"{p}/" for p in folders if not (ROOT / p).is_dir())
    assert not gone, f"README.md's Package layout names {gone}, which do not exist"


def test_the_reader_of_the_tree_understands_folders_lists_and_groups():
    lines = ["pkg/",
             "  a.py, b.py   two modules",
             "  sub/         a folder; c.py is one of its modules",
             "    d.py (+ e, f,",
             "          g)            continued group",
             "    h.py",
             "  i.py         not sub/x.py",
             "top/         outside pkg"]
    modules, folders = named_paths(lines)
    assert folders == {Path("pkg"), Path("pkg/sub"), Path("top")}
    assert modules == {Path(p) for p in ("pkg/a.py", "pkg/b.py", "pkg/sub/c.py", "pkg/sub/d.py", "pkg/sub/e.py",
                                         "pkg/sub/f.py", "pkg/sub/g.py", "pkg/sub/h.py", "pkg/i.py")}
