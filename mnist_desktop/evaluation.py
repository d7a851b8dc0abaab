"""Scoring a model on a labelled set: accuracy, per-class accuracy, confusion matrix (NumPy only)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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


def evaluate(net: Network, x: np.ndarray, y: np.ndarray, *, batch_size: int = 1000, progress=None) -> Evaluation:
    """Run ``net`` over x (N, 784) in batches; ``progress(done, total)`` after each batch."""
    y = np.asarray(y, dtype=np.int64)
    probs = np.zeros((len(x), net.n_outputs), np.float32)
    for i in range(0, len(x), batch_size):
        probs[i:i + batch_size] = net.predict_proba(x[i:i + batch_size], batch_size)
        if progress is not None:
            progress(min(i + batch_size, len(x)), len(x))
    return Evaluation(y, probs.argmax(axis=1).astype(np.int64), probs)


def format_confusion(conf: np.ndarray) -> str:
    """The confusion matrix as a text table (rows: true digit, columns: predicted)."""
    k = conf.shape[0]
    width = max(4, len(str(int(conf.max()))) + 1)
    head = "true\\pred" + "".join(f"{j:>{width}}" for j in range(k))
    rows = [f"{i:>9}" + "".join(f"{int(v):>{width}}" for v in conf[i]) for i in range(k)]
    return "\n".join([head, *rows])
