"""Pictures of a network's weights while it trains: the first layer (MLP hidden units as 28x28 tiles, CNN
filters) and the ten back-projected digits, taken every few hundred batches and kept (a capped number per
run) so the run can be replayed afterwards.

    schedule = SnapshotSchedule(every=300, min_seconds=0.5)
    if schedule.due(batches_done):                      # in the training thread, between batches
        snap = take_snapshot(net, epoch_position=2.4, batches=batches_done)   # works on a copy
    log = SnapshotLog(cap=40); log.add(snap)            # thins itself to at most ``cap``
    weights_png = snapshot_rgb(snap)                    # (weights grid, digits strip) uint8 RGB

The maths is explain.first_layer and explain.backproject_batch (what the Imagine view shows), the
pictures heatmap.weights_rgb / diverging_rgb: no second implementation. No Qt here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from mnist_desktop import explain, heatmap
from mnist_desktop.engine.network import Network

DEFAULT_EVERY = 300          # batches between snapshots
DEFAULT_MIN_SECONDS = 0.5    # ... and at least this long, so fast networks are not slowed by pictures
DEFAULT_CAP = 40             # snapshots kept per run
TILE_LIMIT = 32              # first-layer units / filters pictured (the Imagine view shows up to 64)


@dataclass(frozen=True, eq=False)
class WeightSnapshot:
    """The weights as pictures at one moment of a run.

    position: where in the run, in epochs (2.5 = half way through epoch 3; 0 = before training).
    batches: batches trained so far. kind: "dense" or "conv2d" (None when the first layer is not a
    picture). tiles: (K, h, w) float16 signed first-layer weights (K <= TILE_LIMIT), or None.
    total: units or filters in that layer. digits: (10, 28, 28) float16 back-projections, max |v| = 1.
    """

    position: float
    batches: int
    kind: str | None
    tiles: np.ndarray | None
    total: int
    digits: np.ndarray

    @property
    def nbytes(self) -> int:
        return self.digits.nbytes + (self.tiles.nbytes if self.tiles is not None else 0)

    def label(self) -> str:
        """'epoch 2.50 (batch 1,876)' or 'start'."""
        return "start (initial weights)" if self.batches == 0 else f"epoch {self.position:.2f} (batch {self.batches:,})"


def take_snapshot(net: Network, position: float, batches: int, limit: int = TILE_LIMIT) -> WeightSnapshot:
    """The pictures of ``net``'s weights, computed on a copy (``net`` is not touched: the caller may
    go on training it at once, even on another thread once this returns)."""
    copy = net.copy()
    first = explain.first_layer(copy, limit)
    digits = explain.backproject_batch(copy, np.arange(copy.n_outputs)).astype(np.float16)
    if first is None:
        return WeightSnapshot(float(position), int(batches), None, None, 0, digits)
    return WeightSnapshot(float(position), int(batches), first.kind, first.tiles.astype(np.float16), first.total, digits)


class SnapshotSchedule:
    """When to take the next snapshot: every ``every`` batches, but not sooner than ``min_seconds``
    after the previous one (the clock is injectable for tests)."""

    def __init__(self, every: int = DEFAULT_EVERY, min_seconds: float = DEFAULT_MIN_SECONDS, clock=time.perf_counter) -> None:
        if every < 1:
            raise ValueError(f"snapshot interval must be >= 1 batch, got {every}")
        self.every, self.min_seconds, self.clock = int(every), float(min_seconds), clock
        self._last_batches, self._last_time = 0, clock()

    def due(self, batches: int, epoch_end: bool = False) -> bool:
        """A snapshot is due after ``batches`` batches in all; at the end of an epoch the batch count
        does not matter, only the time (fast epochs are not pictured one by one)."""
        if not epoch_end and batches - self._last_batches < self.every:
            return False
        now = self.clock()
        if now - self._last_time < self.min_seconds:
            return False
        self._last_batches, self._last_time = batches, now
        return True

    def mark(self, batches: int) -> None:
        """A snapshot was taken anyway (the run's last epoch ended): count the interval from here."""
        self._last_batches, self._last_time = batches, self.clock()


class SnapshotLog:
    """The snapshots of one run, at most ``cap``: when full, every second one after the first is
    dropped (so the kept ones stay spread over the whole run, the first and the newest always kept)."""

    def __init__(self, cap: int = DEFAULT_CAP) -> None:
        if cap < 2:
            raise ValueError(f"snapshot cap must be >= 2, got {cap}")
        self.cap = int(cap)
        self.items: list[WeightSnapshot] = []

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> WeightSnapshot:
        return self.items[i]

    def clear(self) -> None:
        self.items = []

    def add(self, snap: WeightSnapshot) -> None:
        self.items.append(snap)
        if len(self.items) > self.cap:
            last = self.items[-1]
            kept = self.items[:-1:2]          # the first, the third, ...
            self.items = kept + [last]

    @property
    def nbytes(self) -> int:
        return sum(s.nbytes for s in self.items)


def weights_rgb(snap: WeightSnapshot, cell: int | None = None) -> np.ndarray | None:
    """The first layer as one (H, W, 3) uint8 grid (heatmap.weights_rgb), or None."""
    if snap.tiles is None:
        return None
    return heatmap.weights_rgb(snap.tiles.astype(np.float32), cell)


def digits_rgb(snap: WeightSnapshot, cols: int = 5, pad: int = 2) -> np.ndarray:
    """The ten back-projections as one (H, W, 3) uint8 grid, 0..9 in reading order, ``cols`` per row,
    blue-white-red on the scale the Imagine view uses (max |v| = 1)."""
    rgb = [heatmap.diverging_rgb(d.astype(np.float32), vmax=1.0) for d in snap.digits]
    return heatmap.tile(rgb, cols, pad, heatmap.TILE_FILL)
