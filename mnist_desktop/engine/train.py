"""The training loop, shared by the command line and the window.

    trainer = Trainer(net, (x_train, y_train), (x_test, y_test), TrainConfig(epochs=10))
    for record in trainer.run():          # BatchRecord after every batch, EpochRecord after every epoch
        ...

``cancel()``, ``pause()`` and ``resume()`` may be called from another thread; they take effect between
batches (and between chunks of the end-of-epoch scoring): a Trainer is a ``PauseGate``, and a loop that
runs several trainers in turn (learning_curve.CurveRun) shares its own gate with each (``Trainer(gate=)``).
With an augmenter, the next batch is augmented in a background thread while the network trains on the
current one (``prefetch=True``, the default): the engine trains with one BLAS thread, so augmentation runs on
the other core instead of in between the steps. The draws from the trainer's generator happen in the same
order either way (one batch at a time, the epoch's shuffle before its first batch), so a seeded run gives
the same weights with and without it.
A NaN, infinite or exploded loss stops training with ``TrainingDiverged``, after putting back the weights of
the last completed epoch (or the initial ones), so a diverged run never leaves a broken network behind.
"""

from __future__ import annotations

import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Callable, Iterator

import numpy as np

from .network import Network
from .optim import OPTIMIZERS, SCHEDULES, make_optimizer, scheduled_lr

# (images (N, 784) float32 in [0, 1], rng) -> augmented images of the same shape; an augmenter whose
# ``uses_labels`` attribute is true is called as (images, rng, labels) (style synthesis needs the digit)
AugmentFn = Callable[[np.ndarray, np.random.Generator], np.ndarray]


@dataclass
class TrainConfig:
    epochs: int = 10
    batch_size: int = 64
    optimizer: str = "adam"        # sgd | momentum | adam
    lr: float = 1e-3
    momentum: float = 0.9          # for optimizer="momentum"
    l2: float = 0.0                # weight decay on weights (not biases)
    schedule: str = "constant"     # constant | step | cosine
    step_every: int = 0            # step schedule: epochs between drops (0: a third of the run)
    step_gamma: float = 0.1        # step schedule: factor per drop
    seed: int = 0                  # shuffling, dropout, augmentation
    augment: list[str] = field(default_factory=list)  # names, applied by the caller's augment function
    train_eval_size: int = 10_000  # training images scored in inference mode each epoch (0: all)

    def validate(self) -> None:
        if self.epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {self.epochs}")
        if self.batch_size < 1:
            raise ValueError(f"batch size must be >= 1, got {self.batch_size}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"learning rate must be a positive number, got {self.lr}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r} (expected one of {', '.join(OPTIMIZERS)})")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {self.schedule!r} (expected one of {', '.join(SCHEDULES)})")
        if not (self.l2 >= 0 and math.isfinite(self.l2)):
            raise ValueError(f"L2 must be >= 0, got {self.l2}")
        if not (0 <= self.momentum < 1):   # 1 or more never settles, a negative one is not momentum
            raise ValueError(f"momentum must be at least 0 and below 1, got {self.momentum}")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class BatchRecord:
    epoch: int          # 1-based
    batch: int          # 1-based within the epoch
    batches: int        # batches per epoch
    loss: float
    accuracy: float     # on this (augmented, dropped-out) batch
    lr: float
    seconds: float      # since the epoch started
    images_per_s: float


@dataclass(frozen=True)
class EpochRecord:
    epoch: int
    epochs: int
    loss: float         # mean training loss over the epoch's batches
    train_acc: float    # inference-mode accuracy on (a fixed sample of) the training set
    test_acc: float     # inference-mode accuracy on the test set (nan if there is none)
    lr: float
    seconds: float      # training time of this epoch, evaluation excluded
    eval_seconds: float
    images_per_s: float


# Images scored per step of the end-of-epoch evaluation: cancel and pause are checked between steps. A CNN
# scores ~4,000 images/s on one core, so a whole pass (10,000 test + 10,000 training images) would keep a
# Stop waiting ~5 s; a chunk of 500 keeps it near 0.1 s.
SCORE_CHUNK = 500

# A loss this many times the first batch's is divergence even while it is still finite: a ReLU network
# trained with a learning rate of 10 or 100 kills its units and sits at an absurd, finite loss.
DIVERGENCE_FACTOR = 1e4
WEIGHT_LIMIT = 1e6         # no trained network has a weight this large; a run with lr 1e30 does
COLLAPSE_MARGIN = 1.5      # training accuracy at or below 1.5 x chance after it was 3 x chance: collapsed


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the network holds the last good weights again."""

    def __init__(self, message: str, epoch: int, batch: int, restored_epoch: int) -> None:
        super().__init__(message)
        self.epoch, self.batch, self.restored_epoch = epoch, batch, restored_epoch


def accuracy(net: Network, x: np.ndarray, y: np.ndarray, batch_size: int = 1000,
             should_stop: Callable[[], bool] | None = None) -> float | None:
    """Inference-mode accuracy on (x (N, 784), y (N,)), ``batch_size`` images at a time; nan for no images.
    ``should_stop()`` is asked before each batch: None if it said yes (a cancel takes effect within one
    batch, not after a whole pass)."""
    if len(x) == 0:
        return float("nan")
    correct = 0
    for i in range(0, len(x), batch_size):
        if should_stop is not None and should_stop():
            return None
        correct += int(np.count_nonzero(net.predict(x[i:i + batch_size], batch_size) == y[i:i + batch_size]))
    return correct / len(x)


class PauseGate:
    """Cancel, pause and resume for a loop on another thread (all thread-safe). The loop asks
    ``stop_requested()`` at each pause point: while paused it waits there (``held``), and once cancelled
    the answer is True. ``PauseGate(shared=other)`` is the same gate as ``other`` (one state, so one
    gate serves several loops in turn)."""

    def __init__(self, shared: PauseGate | None = None) -> None:
        if shared is not None:
            self._cancel, self._running, self._held = shared._cancel, shared._running, shared._held
            return
        self._cancel = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self._held = threading.Event()   # set while the loop waits at a pause point

    def cancel(self) -> None:
        self._cancel.set()
        self._running.set()  # wake a paused loop so it can stop

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def cancel_requested(self) -> bool:
        return self._cancel.is_set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    @property
    def held(self) -> bool:
        """The loop is waiting at a pause point (between batches or scoring chunks): nothing trains."""
        return self._held.is_set()

    def stop_requested(self) -> bool:
        """The loop's pause point: waits while paused; True once cancelled."""
        if not self._running.is_set():
            self._held.set()
            while not self._running.wait(0.1):
                pass
            self._held.clear()
        return self._cancel.is_set()


class Trainer(PauseGate):
    def __init__(self, net: Network, train: tuple[np.ndarray, np.ndarray],
                 test: tuple[np.ndarray, np.ndarray] | None = None,
                 config: TrainConfig | None = None, augment: AugmentFn | None = None, *,
                 prefetch: bool = True, gate: PauseGate | None = None) -> None:
        self.net = net
        self.prefetch = prefetch   # augment batch b + 1 in a background thread while batch b trains
        self.config = config or TrainConfig()
        self.config.validate()
        self.x_train, self.y_train = train
        if len(self.x_train) != len(self.y_train) or len(self.x_train) == 0:
            raise ValueError(f"training set needs matching, non-empty images and labels "
                             f"({len(self.x_train)} images, {len(self.y_train)} labels)")
        self.test = test
        self.augment = augment
        self.rng = np.random.default_rng(self.config.seed)
        self.optimizer = make_optimizer(self.config.optimizer, net.param_slots(), self.config.lr,
                                        self.config.l2, self.config.momentum)
        self.history: list[EpochRecord] = []
        super().__init__(shared=gate)      # cancel / pause / resume, shared with ``gate`` if given
        self.cancelled = False

    # ---- the loop -------------------------------------------------------------------------

    def train_step(self, xb: np.ndarray, yb: np.ndarray) -> tuple[float, int]:
        """One mini-batch: forward, backward, update. Returns (loss, correct count)."""
        loss, out = self.net.loss_and_grads(xb, yb)
        if not math.isfinite(loss):   # the weights stay as they were: no step
            return loss, 0
        self.optimizer.step()
        return loss, int(np.count_nonzero(out.argmax(axis=1) == yb))

    def _augmented(self, xb: np.ndarray, yb: np.ndarray) -> np.ndarray:
        if getattr(self.augment, "uses_labels", False):
            return self.augment(xb, self.rng, yb)
        return self.augment(xb, self.rng)

    def run(self) -> Iterator[BatchRecord | EpochRecord]:
        pool = None
        if self.augment is not None and self.prefetch:
            pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="augment")
        try:
            yield from self._run(pool)
        finally:                     # finished, cancelled, diverged or the generator closed: no thread left
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)

    def _run(self, pool: ThreadPoolExecutor | None) -> Iterator[BatchRecord | EpochRecord]:
        cfg, net = self.config, self.net
        n = len(self.x_train)
        bs = cfg.batch_size
        batches = math.ceil(n / bs)
        good = net.snapshot()
        good_epoch = 0
        first_loss = None
        # a fixed sample of the training set, scored in inference mode like the test set
        m = n if cfg.train_eval_size <= 0 else min(n, cfg.train_eval_size)
        eval_idx = np.random.default_rng(cfg.seed + 1).choice(n, m, replace=False) if m < n else slice(None)
        for epoch in range(1, cfg.epochs + 1):
            t0 = time.perf_counter()
            order = self.rng.permutation(n)
            x_epoch, y_epoch = self.x_train[order], self.y_train[order]  # one shuffle copy: batches are views
            loss_sum, seen = 0.0, 0
            lr = cfg.lr
            # the next batch's augmentation, under way in the pool; only that thread draws from self.rng
            # until the epoch's last batch is taken, so the draws keep the order of a plain loop
            pending = pool.submit(self._augmented, x_epoch[:bs], y_epoch[:bs]) if pool is not None else None
            for b in range(batches):
                if self.stop_requested():
                    self.cancelled = True
                    return
                lr = scheduled_lr(cfg.lr, cfg.schedule, epoch - 1 + b / batches, epochs=cfg.epochs,
                                  step_every=cfg.step_every, gamma=cfg.step_gamma)
                self.optimizer.lr = lr
                xb, yb = x_epoch[b * bs:(b + 1) * bs], y_epoch[b * bs:(b + 1) * bs]
                if pending is not None:
                    xb = pending.result()
                    nxt = slice((b + 1) * bs, (b + 2) * bs)
                    pending = pool.submit(self._augmented, x_epoch[nxt], y_epoch[nxt]) if b + 1 < batches else None
                elif self.augment is not None:
                    xb = self._augmented(xb, yb)
                loss, correct = self.train_step(xb, yb)
                if first_loss is None:
                    first_loss = loss
                if not math.isfinite(loss) or loss > max(DIVERGENCE_FACTOR * first_loss, 100.0):
                    net.set_arrays(good)
                    where = f"epoch {epoch}, batch {b + 1}/{batches}"
                    what = f"became {loss}" if not math.isfinite(loss) else f"exploded from {first_loss:.3g} to {loss:.3g}"
                    kept = f"the weights after epoch {good_epoch}" if good_epoch else "the initial weights"
                    raise TrainingDiverged(
                        f"training diverged: the loss {what} at {where} (learning rate {lr:g}). "
                        f"The network has {kept} again; try a smaller learning rate.",
                        epoch, b + 1, good_epoch)
                loss_sum += loss * len(yb)
                seen += len(yb)
                dt = time.perf_counter() - t0
                yield BatchRecord(epoch, b + 1, batches, loss, correct / len(yb), lr, dt, seen / dt if dt > 0 else 0.0)
            train_seconds = time.perf_counter() - t0
            if not all(np.isfinite(v).all() for v in net.arrays().values()):
                net.set_arrays(good)
                raise TrainingDiverged(
                    f"training diverged: the weights overflowed during epoch {epoch} (learning rate {lr:g}). "
                    f"The network has the weights after epoch {good_epoch} again; try a smaller learning rate.",
                    epoch, batches, good_epoch)
            biggest = max((float(np.abs(v).max()) for v in net.arrays().values() if v.size), default=0.0)
            if biggest > WEIGHT_LIMIT:
                net.set_arrays(good)
                kept = f"the weights after epoch {good_epoch}" if good_epoch else "the initial weights"
                raise TrainingDiverged(
                    f"training diverged: the weights exploded to {biggest:.3g} during epoch {epoch} (learning rate "
                    f"{lr:g}). The network has {kept} again; try a smaller learning rate.",
                    epoch, batches, good_epoch)
            t1 = time.perf_counter()
            stop = self.stop_requested
            train_acc = accuracy(net, self.x_train[eval_idx], self.y_train[eval_idx], SCORE_CHUNK, stop)
            test_acc = accuracy(net, *self.test, SCORE_CHUNK, stop) if self.test is not None else float("nan")
            if train_acc is None or test_acc is None:
                self.cancelled = True
                return
            chance = 1.0 / max(2, net.n_outputs)
            best = max((r.train_acc for r in self.history), default=0.0)
            if best >= 3 * chance and train_acc <= COLLAPSE_MARGIN * chance:
                net.set_arrays(good)
                raise TrainingDiverged(
                    f"training diverged: the training accuracy fell from {best:.1%} to {train_acc:.1%} (chance) in "
                    f"epoch {epoch} (learning rate {lr:g}). The network has the weights after epoch {good_epoch} "
                    f"again; try a smaller learning rate.", epoch, batches, good_epoch)
            record = EpochRecord(epoch, cfg.epochs, loss_sum / max(seen, 1), train_acc, test_acc, lr,
                                 train_seconds, time.perf_counter() - t1, seen / train_seconds if train_seconds > 0 else 0.0)
            self.history.append(record)
            good, good_epoch = net.snapshot(), epoch
            yield record
