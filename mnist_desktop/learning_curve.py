"""Learning curves: accuracy against the number of training images, for one or more presets.

    run = CurveRun(["linear", "cnn-seed"], [100, 1000, 10000], data)   # data: a loaded Dataset
    for point in run.points():        # one CurvePoint as each (preset, size) finishes, in order
        print(format_point(point))
    run.pause(); run.resume(); run.cancel()    # any thread; take effect between batches
    save_curve(run.result(), "curve.json"); result = load_curve("curve.json")

Every point trains a fresh network from the preset (same seed, same settings) with the engine's Trainer,
the loop ``mnist-desktop train`` and the Train view use, on a balanced slice of the training set: the first
size/10 images of each digit (``data.first_per_class``; when a digit has fewer, all of its images, so the
largest MNIST size is the whole 60,000). The test set is scored once, after the last epoch.

How long each size trains: every size sees the same number of training images (``images``, default
120,000 = two passes over the full training set), so small slices get many epochs and the full set two;
at least one epoch. The preset's learning-rate schedule runs over those epochs. That keeps the cost per
point about equal and gives small slices the chance to fit their data, which is what a learning curve asks.

No Qt here: the command line and the window share it (the window's plot and the PNG come from app/).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from mnist_desktop.data.datasets import Dataset, first_per_class
from mnist_desktop.engine.serialize import atomic_write
from mnist_desktop.engine.train import EpochRecord, PauseGate, Trainer, accuracy

DEFAULT_SIZES = (100, 300, 1000, 3000, 10000, 60000)
DEFAULT_PRESETS = ("linear", "nielsen-30", "mlp-128x2", "cnn-seed")
DEFAULT_IMAGES = 120_000
FORMAT = "mnist-desktop learning curve"
VERSION = 1


@dataclass(frozen=True)
class CurvePoint:
    preset: str
    size: int            # the size asked for
    train_images: int    # images actually trained on (balanced: size // 10 per digit, or all of a digit)
    epochs: int
    train_acc: float     # inference-mode accuracy on (up to 10,000 of) the training slice, after the last epoch
    test_acc: float      # on the whole test set
    seconds: float       # training and scoring this point


@dataclass
class CurveResult:
    presets: list[str]
    sizes: list[int]
    images: int                      # training images seen per point
    dataset: str = "mnist"
    test_images: int = 0
    seed: int = 0
    points: list[CurvePoint] = field(default_factory=list)
    wall_seconds: float = 0.0
    complete: bool = False           # every (preset, size) point finished

    def for_preset(self, preset: str) -> list[CurvePoint]:
        return sorted((p for p in self.points if p.preset == preset), key=lambda p: p.train_images)

    def to_dict(self) -> dict:
        return {"format": FORMAT, "version": VERSION, "presets": list(self.presets), "sizes": list(self.sizes),
                "images": self.images, "dataset": self.dataset, "test_images": self.test_images,
                "seed": self.seed, "wall_seconds": round(self.wall_seconds, 1), "complete": self.complete,
                "points": [asdict(p) for p in self.points]}


def parse_sizes(text: str) -> list[int]:
    """'100,300,1k,3k,10k,60k' -> [100, 300, 1000, 3000, 10000, 60000] (sorted, no repeats); ValueError
    with a reason otherwise. Each size needs at least 10 images (one per digit)."""
    sizes = []
    for part in text.replace(" ", "").split(","):
        if not part:
            continue
        mult = 1
        if part[-1] in "kK":
            part, mult = part[:-1], 1000
        try:
            value = float(part) * mult
        except ValueError:
            raise ValueError(f"sizes look like 100,300,1k,60k; cannot read {part!r}") from None
        if not math.isfinite(value) or value != int(value) or value < 10:
            raise ValueError(f"each size must be a whole number of at least 10 images (one per digit), got {part}{'k' if mult > 1 else ''}")
        sizes.append(int(value))
    if not sizes:
        raise ValueError("give at least one training-set size, e.g. 100,1k,10k")
    return sorted(set(sizes))


def parse_presets(text: str) -> list[str]:
    """'linear,cnn-seed' -> ['linear', 'cnn-seed']; ValueError naming an unknown preset."""
    from mnist_desktop.engine.presets import get_preset

    names = [p.strip() for p in text.split(",") if p.strip()]
    if not names:
        raise ValueError("give at least one preset, e.g. linear,cnn-seed")
    for name in names:
        get_preset(name)
    return list(dict.fromkeys(names))


def balanced_slice(y: np.ndarray, size: int) -> np.ndarray:
    """Indices of the first size // 10 images of each digit (all of a digit's images when it has fewer)."""
    return first_per_class(y, max(1, size // 10))


def epochs_for(n: int, batch_size: int, images: int) -> int:
    """Epochs over ``n`` images so that about ``images`` are seen (whole epochs, at least one)."""
    return max(1, round(images / n))


def settings_for(preset: str, n: int, images: int, seed: int = 0) -> tuple[dict, dict]:
    """(architecture, TrainConfig kwargs) for one point: the preset's settings (training.train_settings)
    with the epochs that make ``images`` training images, and ``seed``."""
    from types import SimpleNamespace

    from mnist_desktop.training import TRAIN_OPTIONS, train_settings

    options = SimpleNamespace(preset=preset, layers=None, activation=None, loss=None, dropout=None, augment=None,
                              **{k: None for k in TRAIN_OPTIONS})
    arch, training = train_settings(options)
    training["epochs"] = epochs_for(n, training.get("batch_size", 64), images)
    training["seed"] = seed
    return arch, training


class CurveRun(PauseGate):
    """One learning-curve run over ``presets`` x ``sizes`` on ``data`` (see the module docstring).
    ``data`` may also be a function returning the Dataset, called when ``points()`` starts (the window
    loads it on the run's thread). ``pause``/``resume``/``cancel`` (a PauseGate's, thread-safe) act on the
    point being trained too: each point's Trainer runs with this run as its gate. ``held``: paused and
    parked (between batches, scoring chunks or points)."""

    def __init__(self, presets, sizes, data, *, images: int = DEFAULT_IMAGES, seed: int = 0) -> None:
        if images < 1:
            raise ValueError(f"images per point must be >= 1, got {images}")
        self.presets, self.sizes = list(presets), sorted(set(int(s) for s in sizes))
        self.data, self.images, self.seed = data, int(images), int(seed)
        for preset in self.presets:   # bad names fail now, not after an hour of the ones before them
            settings_for(preset, 100, self.images, self.seed)
        super().__init__()
        self.cancelled = False
        self.current: tuple[str, int] | None = None   # the point being trained
        self._result = CurveResult(self.presets, self.sizes, self.images, seed=self.seed)
        if isinstance(data, Dataset):
            self._set_data(data)

    def _set_data(self, data: Dataset) -> None:
        self.data = data
        self._result.dataset, self._result.test_images = data.name, len(data.y_test)

    @property
    def total(self) -> int:
        return len(self.presets) * len(self.sizes)

    # ---- the run ---------------------------------------------------------------------------------

    def result(self) -> CurveResult:
        return self._result

    def points(self, progress=None) -> Iterator[CurvePoint]:
        """Train every (preset, size), presets in order, sizes smallest first; yield each point as it
        finishes. ``progress(preset, size, done, total)``, if given, is called after every epoch with the
        epochs done and to do for this point. Stops early (``cancelled``) when cancelled."""
        from mnist_desktop.training import build_run

        t_run = time.perf_counter()
        if not isinstance(self.data, Dataset):
            self._set_data(self.data())
        data = self.data
        for preset in self.presets:
            for size in self.sizes:
                if self.stop_requested():
                    self.cancelled = True
                    return
                keep = balanced_slice(data.y_train, size)
                x, y = data.x_train[keep], data.y_train[keep]
                net, config, augment = build_run(*settings_for(preset, len(y), self.images, self.seed))
                trainer = Trainer(net, (x, y), None, config, augment, gate=self)   # our pause/cancel act on it
                self.current = (preset, size)
                t0 = time.perf_counter()
                last: EpochRecord | None = None
                for record in trainer.run():
                    if isinstance(record, EpochRecord):
                        last = record
                        if progress is not None:
                            progress(preset, size, record.epoch, config.epochs)
                if trainer.cancelled or last is None:
                    self.cancelled = True
                    return
                test_acc = accuracy(net, data.x_test, data.y_test, 500, self.stop_requested)
                if test_acc is None:
                    self.cancelled = True
                    return
                point = CurvePoint(preset, size, len(y), config.epochs, float(last.train_acc), float(test_acc),
                                   round(time.perf_counter() - t0, 3))
                self._result.points.append(point)
                self._result.wall_seconds = time.perf_counter() - t_run
                yield point
        self.current = None
        self._result.complete = True
        self._result.wall_seconds = time.perf_counter() - t_run


def format_point(p: CurvePoint) -> str:
    """'cnn-seed     1,000 images  (120 epochs)  train 100.00%  test  93.41%   41.2s'."""
    return (f"{p.preset:<11} {p.train_images:>6,} images ({p.epochs:>4} epochs)  train {p.train_acc * 100:6.2f}%  "
            f"test {p.test_acc * 100:6.2f}%  {p.seconds:7.1f}s")


def format_table(result: CurveResult) -> str:
    """Test accuracy (%), one row per preset, one column per size."""
    sizes = result.sizes
    head = f"{'test accuracy':<13}" + "".join(f"{s:>9,}" for s in sizes)
    rows = [head]
    for preset in result.presets:
        by_size = {p.size: p for p in result.points if p.preset == preset}
        rows.append(f"{preset:<13}" + "".join(f"{by_size[s].test_acc * 100:8.2f}%" if s in by_size else f"{'-':>9}"
                                              for s in sizes))
    return "\n".join(rows)


# ---- files -----------------------------------------------------------------------------------------


def save_curve(result: CurveResult, path) -> None:
    """Write ``result`` as JSON, atomically."""
    text = json.dumps(result.to_dict(), indent=1) + "\n"
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))


class CurveFileError(ValueError):
    """A learning-curve file that cannot be read; the message says why, in one line."""


def curve_from_dict(d) -> CurveResult:
    """The inverse of ``CurveResult.to_dict``; CurveFileError for anything that does not fit."""
    if not isinstance(d, dict) or d.get("format") != FORMAT:
        raise CurveFileError("not a learning-curve file (no \"format\": \"mnist-desktop learning curve\")")
    if d.get("version") != VERSION:
        raise CurveFileError(f"learning-curve file version {d.get('version')!r} is not supported (expected {VERSION})")
    try:
        presets = [str(p) for p in d["presets"]]
        sizes = [int(s) for s in d["sizes"]]
        points = []
        for p in d["points"]:
            point = CurvePoint(str(p["preset"]), int(p["size"]), int(p["train_images"]), int(p["epochs"]),
                               float(p["train_acc"]), float(p["test_acc"]), float(p["seconds"]))
            if not (0 <= point.train_acc <= 1 and 0 <= point.test_acc <= 1) or point.train_images < 1:
                raise CurveFileError(f"a point of {point.preset} at {point.size} images has impossible values")
            if point.preset not in presets:
                raise CurveFileError(f"a point names preset {point.preset!r}, which the file does not list")
            points.append(point)
        return CurveResult(presets, sizes, int(d["images"]), str(d.get("dataset", "mnist")),
                           int(d.get("test_images", 0)), int(d.get("seed", 0)), points,
                           float(d.get("wall_seconds", 0.0)), bool(d.get("complete", False)))
    except CurveFileError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise CurveFileError(f"learning-curve file is missing or has a bad field: {exc}") from None


def load_curve(path) -> CurveResult:
    """Read a file written by ``save_curve``; CurveFileError (one line) when it cannot be read."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CurveFileError(f"cannot read {path}: {exc}") from None
    try:
        d = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CurveFileError(f"{path} is not JSON: {exc}") from None
    try:
        return curve_from_dict(d)
    except CurveFileError as exc:
        raise CurveFileError(f"{path}: {exc}") from None
