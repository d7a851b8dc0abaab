"""The user's collection of labelled digits: drawing files in one folder (no Qt here).

    coll = Collection(app_data_dir() / "my-digits")
    path = coll.add(drawing, 7)            # <folder>/20261203-071512-042_7.json, with "label": 7 inside
    coll.items()                           # [Item(path, label), ...] oldest first
    undo = coll.remove([path])             # -> Removed (the files' bytes); coll.restore(undo) puts them back
    added, errors = coll.import_files(paths)   # labelled drawings from elsewhere, copied in
    coll.export(folder)                    # copies every file out (names keep the label: 0042_7.json)

Each file is an ordinary drawing (``drawing.py``'s format) plus an integer ``"label"``; its name ends in
``_<digit>.json`` too, so ``mnist-desktop adapt <folder>`` reads the collection as it is. Writes are atomic.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from dataclasses import dataclass
from pathlib import Path

from mnist_desktop.drawing import Drawing, drawing_from_json
from mnist_desktop.engine.serialize import atomic_write
from mnist_desktop.personalize import drawing_files, drawing_label, labelled_drawing_json

FOLDER_NAME = "my-digits"
ADAPTED_FOLDER_NAME = "adapted-models"
WANTED_PER_DIGIT = 3      # examples per digit the prompt asks for (the k measured in benchmarks/personalize.py)


@dataclass(frozen=True)
class Item:
    path: Path
    label: int


@dataclass(frozen=True)
class Removed:
    """What ``remove`` took away, for ``restore`` (undo)."""

    files: tuple[tuple[Path, bytes], ...]


class Collection:
    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)

    def ensure(self) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        return self.folder

    def items(self) -> list[Item]:
        """Every labelled drawing in the folder, oldest name first; unlabelled or unreadable files are
        skipped (``problems`` lists them)."""
        return self._scan()[0]

    def problems(self) -> list[str]:
        return self._scan()[1]

    def _scan(self) -> tuple[list[Item], list[str]]:
        if not self.folder.is_dir():
            return [], []
        items, problems = [], []
        for path in drawing_files([self.folder]):
            try:
                items.append(Item(path, drawing_label(path)))
            except ValueError as exc:
                problems.append(str(exc))
        return items, problems

    def counts(self) -> list[int]:
        """Examples per digit, 0-9."""
        c = [0] * 10
        for item in self.items():
            c[item.label] += 1
        return c

    def still_needed(self, wanted: int = WANTED_PER_DIGIT) -> dict[int, int]:
        """digit -> how many more examples it needs to reach ``wanted`` (digits that have enough omitted)."""
        return {d: wanted - n for d, n in enumerate(self.counts()) if n < wanted}

    def prompt(self, wanted: int = WANTED_PER_DIGIT) -> str:
        """One sentence (rich text) for My digits: what to collect next, or that it is ready to adapt."""
        total, needed = sum(self.counts()), self.still_needed(wanted)
        if total == 0:
            return ("No digits yet. Draw a digit in the Draw view and press <b>It's a…</b> (or a key 0-9) to "
                    f"collect it; {wanted} of each digit is a good start.")
        if needed:
            parts = ", ".join(f"{n} more {d}{'s' if n != 1 else ''}" for d, n in needed.items())
            return f"{total} digits collected. Still needed for a good adaptation: {parts}."
        return (f"{total} digits collected, at least {wanted} of every digit: "
                "ready to adapt. More examples of the digits it gets wrong help most.")

    def _new_path(self, label: int) -> Path:
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")[:-3]
        path = self.folder / f"{stamp}_{label}.json"
        n = 1
        while path.exists():
            path = self.folder / f"{stamp}-{n}_{label}.json"
            n += 1
        return path

    def add(self, drawing: Drawing, label: int) -> Path:
        """Save ``drawing`` labelled ``label`` as a new file; returns its path."""
        text = labelled_drawing_json(drawing, label) + "\n"
        self.ensure()
        path = self._new_path(int(label))
        atomic_write(path, lambda f: f.write(text.encode("utf-8")))
        return path

    def remove(self, paths) -> Removed:
        """Delete the files (kept in memory for ``restore``)."""
        taken = []
        for p in paths:
            p = Path(p)
            try:
                data = p.read_bytes()
                p.unlink()
            except FileNotFoundError:
                continue
            taken.append((p, data))
        return Removed(tuple(taken))

    def restore(self, removed: Removed) -> int:
        """Put removed files back (undo); returns how many."""
        self.ensure()
        for path, data in removed.files:
            atomic_write(path, lambda f, d=data: f.write(d))
        return len(removed.files)

    def import_files(self, paths) -> tuple[list[Path], list[str]]:
        """Copy labelled drawings (files or folders of them) into the collection. Each must be a valid
        drawing with a label (its "label" key or the digit after the last underscore of its name). Returns
        (the new paths, one-line problems for the files left out)."""
        added, problems = [], []
        try:
            files = drawing_files(paths)
        except ValueError as exc:
            return [], [str(exc)]
        for src in files:
            try:
                raw = src.read_bytes()
                obj = json.loads(raw)
                label = drawing_label(src, obj if isinstance(obj, dict) else {})
                drawing = drawing_from_json(raw, source=str(src))
            except (OSError, ValueError) as exc:
                problems.append(str(exc) if str(exc).startswith(str(src)) else f"{src}: {exc}")
                continue
            added.append(self.add(drawing, label))
        return added, problems

    def export(self, folder: str | os.PathLike) -> int:
        """Copy every file of the collection into ``folder`` (created if needed); returns how many."""
        dest = Path(folder)
        dest.mkdir(parents=True, exist_ok=True)
        n = 0
        for item in self.items():
            target = dest / item.path.name
            data = item.path.read_bytes()
            atomic_write(target, lambda f, d=data: f.write(d))
            n += 1
        return n

    def clear(self) -> Removed:
        return self.remove([item.path for item in self.items()])
