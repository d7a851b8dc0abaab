"""Scoring a model on a labelled set: accuracy, per-class accuracy, confusion matrix; damaged test images
for robustness; two models compared; a cache of results per model file (NumPy only, no Qt).

    e = evaluate(net, ds.x_test, ds.y_test)              # Evaluation: .accuracy, .confusion (10, 10), ...
    e2 = evaluate(net, damage(ds.x_test, Damage(rotate=30)), ds.y_test)
    curve = rotation_curve(net, ds.x_test, ds.y_test)     # accuracy at -60..60 degrees
    c = compare(e, e_other)                               # .only_a: indices A gets right and B wrong
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as futures_wait
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .data import augment
from .engine import threads
from .engine.network import Network


@dataclass(frozen=True)
class Evaluation:
    labels: np.ndarray         # (N,) int64 true digits
    predicted: np.ndarray      # (N,) int64
    probabilities: np.ndarray  # (N, K) float32

    @property
    def n(self) -> int:
        return int(len(self.labels))

    @property
    def correct(self) -> int:
        return int(np.count_nonzero(self.predicted == self.labels))

    @property
    def accuracy(self) -> float:
        return self.correct / self.n if self.n else float("nan")

    @property
    def confusion(self) -> np.ndarray:
        """(K, K) int64 counts: row = true digit, column = predicted digit."""
        k = self.probabilities.shape[1]
        return np.bincount(self.labels * k + self.predicted, minlength=k * k).reshape(k, k)

    @property
    def per_class(self) -> np.ndarray:
        """(K,) accuracy per true digit (nan for a digit with no examples)."""
        c = self.confusion
        totals = c.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(totals > 0, np.diag(c) / np.maximum(totals, 1), np.nan)

    def top_confusions(self, k: int = 5) -> list[tuple[int, int, int]]:
        """[(true, predicted, count)] for the k most frequent mistakes."""
        c = self.confusion.copy()
        np.fill_diagonal(c, 0)
        order = np.argsort(c, axis=None)[::-1][:k]
        return [(int(i), int(j), int(c[i, j])) for i, j in zip(*np.unravel_index(order, c.shape)) if c[i, j] > 0]


def evaluate(net: Network, x: np.ndarray, y: np.ndarray, *, batch_size: int = 200, progress=None,
             should_stop=None, workers: int = 1) -> Evaluation | None:
    """Run ``net`` over x (N, 784) in batches; ``progress(done, total)`` after each batch. Returns None if
    ``should_stop()`` turned True (checked before each batch: a worker thread's cancel).

    The network runs as ``net.inference_copy()`` (batch norms folded into the layers before them; the
    same predictions up to float rounding). ``workers`` > 1 splits the batches between that many
    threads, each with its own copy of the network
    (layers keep per-call state); NumPy's matrix products and copies release the GIL, so with
    single-threaded BLAS (the window's setting) two workers use both cores of a 2-core machine. The
    callbacks are then still called on the calling thread, every 50 ms and at the end."""
    y = np.asarray(y, dtype=np.int64)
    probs = np.zeros((len(x), net.n_outputs), np.float32)
    starts = list(range(0, len(x), batch_size))
    workers = max(1, min(int(workers), len(starts)))
    net = net.inference_copy()          # batch norms folded away: ~18% faster for the shipped CNN
    if workers == 1:
        for i in starts:
            if should_stop is not None and should_stop():
                return None
            probs[i:i + batch_size] = net.predict_proba(x[i:i + batch_size])
            if progress is not None:
                progress(min(i + batch_size, len(x)), len(x))
    elif not _evaluate_in_threads(net, x, probs, starts, batch_size, workers, progress, should_stop):
        return None
    return Evaluation(y, probs.argmax(axis=1).astype(np.int64), probs)


def _evaluate_in_threads(net, x, probs, starts, batch_size, workers, progress, should_stop) -> bool:
    """Fill ``probs`` batch by batch in ``workers`` threads; False if stopped."""
    nets = [net] + [net.copy() for _ in range(workers - 1)]
    stop = threading.Event()
    lock = threading.Lock()
    done = [0]

    def work(k: int) -> None:
        with threads.sequential():       # the workers keep the cores busy: no split within a batch
            for i in starts[k::workers]:
                if stop.is_set():
                    return
                probs[i:i + batch_size] = nets[k].predict_proba(x[i:i + batch_size])
                with lock:
                    done[0] += min(batch_size, len(x) - i)

    with ThreadPoolExecutor(workers, thread_name_prefix="evaluate") as pool:
        futures = [pool.submit(work, k) for k in range(workers)]
        while futures_wait(futures, timeout=0.05).not_done:
            if should_stop is not None and should_stop():
                stop.set()
            if progress is not None and not stop.is_set():
                progress(done[0], len(x))
        for f in futures:
            f.result()                       # an error in a worker is raised here
    if stop.is_set() or (should_stop is not None and should_stop()):
        return False
    if progress is not None:
        progress(len(x), len(x))
    return True


def format_confusion(conf: np.ndarray) -> str:
    """The confusion matrix as a text table (rows: true digit, columns: predicted)."""
    k = conf.shape[0]
    width = max(4, len(str(int(conf.max()))) + 1)
    head = "true\\pred" + "".join(f"{j:>{width}}" for j in range(k))
    rows = [f"{i:>9}" + "".join(f"{int(v):>{width}}" for v in conf[i]) for i in range(k)]
    return "\n".join([head, *rows])


# ---- damaging the test images ----------------------------------------------------------------------
#
# How robust is a model? Damage the test digits in one controlled way and score it again. Each function
# takes x (N, 784) float32 in [0, 1] (or (N, 28, 28)) and returns a new array of the same shape, clipped to
# [0, 1]; at strength 0 it returns ``x`` itself, untouched (bit-identical). Random choices come from
# ``seed``, so the same call gives the same images. The geometry is data/augment.py's (one bilinear affine
# resampling, zeros outside; whole-pixel moves are exact), the same code that augments training batches.

DAMAGE_RANGES = {                  # what the window's sliders and the CLI accept
    "rotate": (-180.0, 180.0),     # degrees, counter-clockwise as displayed
    "noise": (0.0, 1.0),           # sigma of Gaussian noise on the 0..1 pixel scale
    "thickness": (-2.0, 2.0),      # > 0 thicker strokes (dilation), < 0 thinner (erosion); 1 = one full step
    "shift": (0.0, 14.0),          # pixels, each image right, left, up or down
}


def _as_images(x: np.ndarray) -> tuple[np.ndarray, tuple]:
    """(N, 784) or (N, 28, 28) -> ((N, 28, 28) view, original shape)."""
    x = np.asarray(x)
    side = int(round(np.sqrt(x[0].size))) if len(x) else 28
    return x.reshape(len(x), side, side), x.shape


def rotate_images(x: np.ndarray, degrees: float) -> np.ndarray:
    """Every image turned by ``degrees`` about its centre (counter-clockwise as displayed)."""
    if degrees == 0:
        return x
    images, shape = _as_images(x)
    out = augment.affine_transform(images, augment.pull_matrices(degrees))
    return np.clip(out, 0.0, 1.0, out=out).reshape(shape)


def shift_images(x: np.ndarray, pixels: float, *, seed: int = 0) -> np.ndarray:
    """Every image moved ``pixels`` right, left, up or down (the direction drawn per image from ``seed``);
    whole pixels move exactly, with zeros coming in."""
    if pixels == 0:
        return x
    images, shape = _as_images(x)
    direction = np.random.default_rng(seed).integers(0, 4, len(images))        # (N,) 0..3
    dx = np.choose(direction, [pixels, -pixels, 0.0, 0.0])
    dy = np.choose(direction, [0.0, 0.0, pixels, -pixels])
    out = augment.affine_transform(images, augment.pull_matrices(0.0, 1.0, dx, dy))
    return np.clip(out, 0.0, 1.0, out=out).reshape(shape)


def add_noise(x: np.ndarray, sigma: float, *, seed: int = 0) -> np.ndarray:
    """Gaussian noise of standard deviation ``sigma`` added to every pixel, clipped to [0, 1]."""
    if sigma == 0:
        return x
    if sigma < 0:
        raise ValueError(f"noise sigma must be >= 0, got {sigma}")
    x = np.asarray(x)
    noise = np.random.default_rng(seed).standard_normal(x.shape, dtype=np.float32)
    noise *= np.float32(sigma)
    noise += x
    return np.clip(noise, 0.0, 1.0, out=noise)


def change_strokes(x: np.ndarray, strength: float) -> np.ndarray:
    """Thicker (strength > 0: grey dilation, 3 x 3 maximum) or thinner (< 0: grey erosion, plus-shaped
    minimum) strokes. Each whole unit of |strength| is one full step; a fraction blends the last step
    with the image (augment.change_thickness)."""
    if strength == 0:
        return x
    images, shape = _as_images(x)
    sign, left = float(np.sign(strength)), abs(float(strength))
    while left > 0:
        step = min(left, 1.0)
        images = augment.change_thickness(images, sign * step)
        left -= step
    return np.clip(images, 0.0, 1.0, out=images).reshape(shape)


@dataclass(frozen=True)
class Damage:
    """One setting of the four damages; ``Damage()`` is none. Applied in the order thickness, rotation,
    shift, noise (pen first, then where the digit lands on the page, then the sensor)."""

    rotate: float = 0.0      # degrees
    noise: float = 0.0       # sigma
    thickness: float = 0.0   # steps of dilation (> 0) or erosion (< 0)
    shift: float = 0.0       # pixels
    seed: int = 0

    @property
    def is_none(self) -> bool:
        return self.rotate == 0 and self.noise == 0 and self.thickness == 0 and self.shift == 0

    def describe(self) -> str:
        """'rotated 30°, noise σ 0.2' or 'undamaged'."""
        parts = []
        if self.rotate:
            parts.append(f"rotated {self.rotate:g}°")
        if self.shift:
            parts.append(f"shifted {self.shift:g} px")
        if self.thickness:
            parts.append(f"strokes {'thicker' if self.thickness > 0 else 'thinner'} {abs(self.thickness):g}")
        if self.noise:
            parts.append(f"noise σ {self.noise:g}")
        return ", ".join(parts) or "undamaged"

    def validate(self) -> None:
        for name, (lo, hi) in DAMAGE_RANGES.items():
            v = getattr(self, name)
            if not (np.isfinite(v) and lo <= v <= hi):
                raise ValueError(f"{name} must be between {lo:g} and {hi:g}, got {v}")


def damage(x: np.ndarray, d: Damage) -> np.ndarray:
    """x (N, 784) float32 in [0, 1] -> damaged copy (or ``x`` itself for ``Damage()``)."""
    x = change_strokes(x, d.thickness)
    x = rotate_images(x, d.rotate)
    x = shift_images(x, d.shift, seed=d.seed)
    return add_noise(x, d.noise, seed=d.seed + 1)


@dataclass(frozen=True)
class RotationCurve:
    angles: np.ndarray       # (A,) degrees
    accuracy: np.ndarray     # (A,) fraction correct at each angle


def rotation_curve(net: Network, x: np.ndarray, y: np.ndarray, angles=tuple(range(-60, 61, 10)), *,
                   batch_size: int = 200, progress=None, should_stop=None, workers: int = 1) -> RotationCurve | None:
    """Accuracy on x (N, 784) rotated by each angle: ``evaluate`` once per angle (``workers`` as there).
    ``progress(done, total)`` counts images over all angles; returns None if ``should_stop()`` turned
    True (checked between batches)."""
    angles = np.asarray(angles, dtype=np.float64)
    acc = np.zeros(len(angles))
    total = len(angles) * len(x)
    for a, angle in enumerate(angles):
        report = None if progress is None else (lambda done, _n, a=a: progress(a * len(x) + done, total))
        e = evaluate(net, rotate_images(x, float(angle)), y, batch_size=batch_size, progress=report,
                     should_stop=should_stop, workers=workers)
        if e is None:
            return None
        acc[a] = e.accuracy
    return RotationCurve(angles, acc)


# ---- two models on one test set ----------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    accuracy_a: float
    accuracy_b: float
    only_a: np.ndarray       # (n,) int64 indices A gets right and B gets wrong
    only_b: np.ndarray       # (m,) int64 indices B gets right and A gets wrong
    both_wrong: int

    @property
    def n_disagree(self) -> int:
        return len(self.only_a) + len(self.only_b)


def compare(a: Evaluation, b: Evaluation) -> Comparison:
    """Two evaluations of the same test set (same labels, same order) side by side."""
    if a.n != b.n or not np.array_equal(a.labels, b.labels):
        raise ValueError("compare needs two evaluations of the same test set")
    right_a, right_b = a.predicted == a.labels, b.predicted == b.labels
    return Comparison(a.accuracy, b.accuracy, np.flatnonzero(right_a & ~right_b), np.flatnonzero(right_b & ~right_a),
                      int(np.count_nonzero(~right_a & ~right_b)))


def cell_indices(e: Evaluation, true: int, predicted: int) -> np.ndarray:
    """(n,) int64 indices of the test digits in one confusion-matrix cell (row ``true``, column ``predicted``)."""
    return np.flatnonzero((e.labels == true) & (e.predicted == predicted))


# ---- remembering results -------------------------------------------------------------------------------


def model_file_key(path: str | os.PathLike) -> tuple[str, int, int]:
    """(resolved path, size, mtime in ns): a saved-over model file gets a new key. OSError if missing."""
    p = Path(path).resolve()
    st = p.stat()
    return (str(p), st.st_size, st.st_mtime_ns)


class EvaluationCache:
    """The last ``size`` results, keyed by (model file key, test set key): switching views or models back
    and forth costs nothing, and a model file saved over gets evaluated again. Thread-safe.

        cache.get(path, test_key)        # Evaluation (the same object each time) or None
        cache.put(path, test_key, result)
    ``test_key`` is any hashable naming the test set, e.g. ``(folder, n, Damage(...))``.
    """

    def __init__(self, size: int = 16) -> None:
        self.size = size
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(path, test_key) -> tuple | None:
        try:
            return (model_file_key(path), test_key)
        except (OSError, TypeError):
            return None

    def get(self, path, test_key):
        k = self.key(path, test_key)
        with self._lock:
            if k is None or k not in self._items:
                return None
            self._items.move_to_end(k)
            return self._items[k]

    def put(self, path, test_key, result) -> None:
        k = self.key(path, test_key)
        if k is None:
            return
        with self._lock:
            self._items[k] = result
            self._items.move_to_end(k)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)
