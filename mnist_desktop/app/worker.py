"""The Train view's background work, run as jobs of a ``JobRunner`` (app/jobs.py): a training run and a
dataset download. No Qt here: the runner owns the thread and delivers what the work reports.

    worker = TrainWorker(TrainJob(...))            # owns job.net from now on
    runner.start("train", worker.run)              # worker.run(job) on the runner's thread
    # runner.progressed(job, (kind, payload)), kind one of:
    #   "data"     DataInfo, once, before the first batch
    #   "batches"  BatchProgress, at most 2 per second, with every batch's loss since the last one
    #   "epoch"    EpochRecord
    #   "weights"  live_weights.WeightSnapshot (with TrainJob.weights_every): at the start, every few hundred
    #              batches and after each epoch, computed on a copy of the network in this thread
    # runner.finished(job): job.result is the TrainOutcome (always, once, last; run never raises)
    worker.pause(); worker.resume(); worker.stop() # any thread; cancelling the job stops it too

    runner.start("download", DownloadWorker("mnist").run)   # reports ("progress", DownloadProgress);
    # job.result: the folder, or None if stopped; job.error: a DownloadError (or another exception)

Stopping is cooperative: ``stop()`` is thread-safe and takes effect between batches (the Trainer's cancel),
between scoring chunks, or between download chunks. A stopped run still delivers its outcome (the network
after the last finished epoch); a cancelled job (the window closing) delivers nothing.
The training loop is ``engine.train.Trainer``, the same one ``mnist-desktop train`` drives.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass

from typing import Protocol

import numpy as np

from mnist_desktop.data import DatasetError, DownloadCancelled, download, load_dataset
from mnist_desktop.engine.network import Network
from mnist_desktop.engine.train import (AugmentFn, BatchRecord, EpochRecord, PauseGate, TrainConfig, Trainer,
                                        TrainingDiverged)

log = logging.getLogger(__name__)

REPORT_INTERVAL_S = 0.05   # download progress at most this often: the UI thread is never flooded
# Batch reports (loss chart, progress bars, ETA) at most this often. Each one costs the UI thread CPU time
# (~3.5 ms: handlers and repaints; the chart itself is redrawn at most once a second) while the trainer
# wants both cores: at 20 a second the window trained at 0.71-0.92x the command line's speed on the 2-core
# machine, at 4 a second (and ~8 ms each) 0.90-0.97x; at 2 a second, which still reads as live, 0.95-0.99x
# (benchmarks/ui_responsiveness.py, slices taking turns, 2026-12-04).
BATCH_REPORT_INTERVAL_S = 0.5
EMA_DECAY = 0.95           # loss smoothing per batch (about a 20-batch window), bias-corrected


# ---- what goes in and what comes out ---------------------------------------------------------------------


@dataclass(eq=False)
class TrainJob:
    """One run: the data to load and how to train. ``net`` belongs to the worker once it is handed over."""

    net: Network
    config: TrainConfig
    augment: AugmentFn | None = None
    dataset: str = "mnist"              # "mnist" | "fashion"
    data_dir: str | None = None         # a folder chosen by the user, searched first (find_dataset)
    limit_per_class: int | None = None  # train on the first N images of each class
    weights_every: int = 0              # live weights: a snapshot every N batches (0: none) ...
    weights_min_seconds: float = 0.5    # ... and at most this often (after an epoch too; the last always)


@dataclass(frozen=True)
class DataInfo:
    """The data a run trains on (sent once, before the first batch)."""

    name: str           # "mnist" | "fashion"
    folder: str
    test_name: str      # "test"
    train_images: int
    test_images: int


@dataclass(frozen=True)
class BatchProgress:
    """The batches trained since the previous report.

    steps: (k,) float, where each batch ends in epochs (epoch 1 ends at 1.0); losses: (k,) training loss
    per batch; smoothed: (k,) its bias-corrected exponential moving average. ``last`` is the newest
    BatchRecord; run_fraction in [0, 1]; images_per_s over this epoch's batches so far; eta_s: seconds
    left at the run's pace so far (scoring included, pauses excluded).
    """

    steps: np.ndarray
    losses: np.ndarray
    smoothed: np.ndarray
    last: BatchRecord
    run_fraction: float
    images_per_s: float
    eta_s: float


@dataclass(frozen=True, eq=False)
class TrainOutcome:
    """How a run ended. status: "finished", "stopped", "diverged" or "failed".

    net: the network to keep, or None when there is nothing worth keeping (no batch trained, or a
    failure). It holds the weights after the last completed epoch (``history[-1]``): after a Stop the
    part-epoch is dropped, after divergence the Trainer has put the last good weights back.
    restored_epoch: the epoch whose weights ``net`` holds (0: none finished; after a Stop in epoch 1 ``net``
    holds the weights of the batches trained so far, not scored). message: for people.
    """

    status: str
    net: Network | None
    history: tuple[EpochRecord, ...]
    config: TrainConfig
    data: DataInfo | None
    message: str
    restored_epoch: int
    wall_seconds: float


class Reporter(Protocol):
    """What the work needs of its job (``jobs.Job``): report(kind, payload); on_cancel(callback)."""

    def report(self, *values) -> None: ...

    def on_cancel(self, callback) -> None: ...


def divergence_message(exc: TrainingDiverged, lr: float) -> str:
    """One message, each thing said once: what exploded (from the Trainer's message, without its own
    "diverged" / learning-rate advice), the learning rate to try, and what was kept."""
    what = str(exc).split(". The network has")[0].strip().rstrip(".")
    what = re.sub(r"^training diverged: ", "", what)
    what = re.sub(r" \(learning rate [^)]*\)", "", what)
    kept = (f"The weights after epoch {exc.restored_epoch} were restored: save them or use them in the Draw view."
            if exc.restored_epoch else "No epoch had finished, so there are no trained weights to keep.")
    return (f"Training diverged, so it was stopped: {what}. The learning rate ({lr:g}) is probably too high; "
            f"try {lr / 10:g}. {kept}")


# ---- the training worker ------------------------------------------------------------------------------------


class TrainWorker:
    """Loads the data and runs a Trainer over it: ``run(job)`` is a job's work (see the module docstring)."""

    def __init__(self, job: TrainJob) -> None:
        self.job = job
        self._lock = threading.Lock()   # the paused-time bookkeeping
        self._gate = PauseGate()        # the Trainer's once it exists: stop / pause / resume act on it at once
        self._paused_since: float | None = None
        self._paused_total = 0.0
        self._batches_trained = 0

    # ---- control (any thread) ------------------------------------------------------------------------

    def stop(self) -> None:
        self._gate.cancel()

    def pause(self) -> None:
        with self._lock:
            if self._paused_since is None:
                self._paused_since = time.perf_counter()
        self._gate.pause()

    def resume(self) -> None:
        with self._lock:
            if self._paused_since is not None:
                self._paused_total += time.perf_counter() - self._paused_since
                self._paused_since = None
        self._gate.resume()

    @property
    def stopping(self) -> bool:
        return self._gate.cancel_requested

    @property
    def paused(self) -> bool:
        with self._lock:
            return self._paused_since is not None

    @property
    def held(self) -> bool:
        """Paused and parked between batches: no batch trains and no report is sent until resume."""
        return self._gate.held

    def _paused_seconds(self) -> float:
        with self._lock:
            extra = time.perf_counter() - self._paused_since if self._paused_since is not None else 0.0
            return self._paused_total + extra

    # ---- the run (worker thread) -------------------------------------------------------------------------

    def run(self, reporter: Reporter) -> TrainOutcome:
        """The run, on the job's thread: reports through ``reporter.report(kind, payload)``; returns how it
        ended. Never raises: every ending is a TrainOutcome. Cancelling the job stops the run."""
        self._reporter = reporter
        reporter.on_cancel(self.stop)
        self._outcome: TrainOutcome | None = None
        self._run()
        return self._outcome

    def _run(self) -> None:
        job, t0 = self.job, time.perf_counter()
        history: list[EpochRecord] = []
        data_info = None
        try:
            if self._gate.cancel_requested:
                self._finish("stopped", None, history, None, "Stopped before training started.", 0, t0)
                return
            try:
                data = load_dataset(job.dataset, job.data_dir, limit_per_class=job.limit_per_class)
            except (DatasetError, ValueError, OSError) as exc:
                self._finish("failed", None, history, None, f"Could not load the data: {exc}", 0, t0)
                return
            data_info = DataInfo(data.name, str(data.source), data.test_name, len(data.x_train), len(data.x_test))
            self._reporter.report("data", data_info)
            trainer = Trainer(job.net, (data.x_train, data.y_train), (data.x_test, data.y_test), job.config,
                              job.augment, gate=self._gate)
            try:
                self._train(trainer, history)
            except TrainingDiverged as exc:
                text = divergence_message(exc, job.config.lr)
                self._finish("diverged", job.net if exc.restored_epoch else None, history, data_info, text,
                             exc.restored_epoch, t0)
                return
            if trainer.cancelled:
                if history:
                    job.net.set_arrays(self._good)
                    last = history[-1]
                    text = (f"Stopped. The network is kept as it was after epoch {last.epoch} "
                            f"({data_info.test_name} accuracy {last.test_acc * 100:.2f}%); the part of the next "
                            f"epoch that ran is dropped.")
                    self._finish("stopped", job.net, history, data_info, text, last.epoch, t0)
                elif self._batches_trained:     # the weights trained so far, like any stopped run
                    text = (f"Stopped during epoch 1, after {self._batches_trained:,} batches: the network is kept "
                            f"as trained so far (not scored, no epoch finished); save it or use it in the Draw view.")
                    self._finish("stopped", job.net, history, data_info, text, 0, t0)
                else:
                    self._finish("stopped", None, history, data_info,
                                 "Stopped before the first batch: there is no trained network to keep.", 0, t0)
                return
            last = history[-1]
            self._finish("finished", job.net, history, data_info,
                         f"Finished {last.epoch} epochs: {data_info.test_name} accuracy {last.test_acc * 100:.2f}%.",
                         last.epoch, t0)
        except Exception as exc:  # reported in the view, never raised in a thread; the traceback to the log
            log.warning("training failed", exc_info=True)
            self._finish("failed", None, history, data_info, f"Training failed: {type(exc).__name__}: {exc}", 0, t0)

    def _train(self, trainer: Trainer, history: list[EpochRecord]) -> None:
        """Drive ``trainer.run()``: epochs into ``history`` and ``epoch_done``, batches collected into
        BatchProgress reports; ``self._good`` follows the weights after the last completed epoch."""
        cfg = trainer.config
        batches = total = None
        steps: list[float] = []
        losses: list[float] = []
        smoothed: list[float] = []
        ema, n, last_report = 0.0, 0, 0.0
        self._good = trainer.net.snapshot()
        self._batches_trained = 0                     # a Stop in epoch 1 keeps these
        run_t0 = time.perf_counter()
        schedule = self._weights(trainer, 0.0, 0, None)
        for record in trainer.run():
            if isinstance(record, EpochRecord):
                history.append(record)
                self._good = trainer.net.snapshot()   # what a Stop in the next epoch falls back to
                self._reporter.report("epoch", record)
                done = record.epoch * batches
                if schedule is not None and (record.epoch == cfg.epochs or schedule.due(done, epoch_end=True)):
                    self._weights(trainer, float(record.epoch), done, schedule, force=True)
                continue
            if batches is None:
                batches = record.batches
                total = batches * cfg.epochs
            n += 1
            self._batches_trained = n
            ema = EMA_DECAY * ema + (1 - EMA_DECAY) * record.loss
            steps.append(record.epoch - 1 + record.batch / record.batches)
            losses.append(record.loss)
            smoothed.append(ema / (1 - EMA_DECAY ** n))
            if schedule is not None and schedule.due(n):
                self._weights(trainer, steps[-1], n, schedule)
            now = time.perf_counter()
            if now - last_report >= BATCH_REPORT_INTERVAL_S or record.batch == record.batches:
                last_report = now
                done = (record.epoch - 1) * batches + record.batch
                elapsed = now - run_t0 - self._paused_seconds()
                eta = elapsed / done * (total - done) if done else float("nan")
                self._reporter.report("batches", BatchProgress(np.array(steps), np.array(losses, np.float64),
                                                               np.array(smoothed), record, done / total,
                                                               record.images_per_s, eta))
                steps, losses, smoothed = [], [], []

    def _weights(self, trainer: Trainer, position: float, batches: int, schedule, force: bool = False):
        """Report a live_weights.WeightSnapshot (computed on a copy of the network); returns the schedule
        (made on the first call; None when the job wants no live weights)."""
        if not self.job.weights_every:
            return None
        from mnist_desktop.live_weights import SnapshotSchedule, take_snapshot

        if schedule is None:
            schedule = SnapshotSchedule(self.job.weights_every, self.job.weights_min_seconds)
        elif force:
            schedule.mark(batches)
        self._reporter.report("weights", take_snapshot(trainer.net, position, batches))
        return schedule

    def _finish(self, status, net, history, data_info, message, restored_epoch, t0) -> None:
        self._outcome = TrainOutcome(status, net, tuple(history), self.job.config, data_info, message,
                                     restored_epoch, time.perf_counter() - t0)


# ---- the download worker ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DownloadProgress:
    file_name: str
    done: int           # bytes of this file so far
    total: int | None   # bytes of this file, when known


class DownloadWorker:
    """``datasets.download`` (the one ``mnist-desktop download`` uses) as a job's work: ``run(job)``
    reports ("progress", DownloadProgress) at most ~20 times a second and returns the folder, or None
    when stopped; a failure is raised (DownloadError, or whatever went wrong) and reaches the view as
    ``job.error``."""

    def __init__(self, dataset: str, dest: str | None = None) -> None:
        self.dataset, self.dest = dataset, dest
        self._cancel = threading.Event()
        self._last = 0.0
        self._reporter: Reporter | None = None

    def stop(self) -> None:
        self._cancel.set()

    def run(self, reporter: Reporter) -> str | None:
        self._reporter = reporter
        reporter.on_cancel(self.stop)
        try:
            folder = download(self.dataset, self.dest, progress=self._progress, cancel=self._cancel.is_set)
        except DownloadCancelled:
            return None
        return str(folder)

    def _progress(self, name: str, done: int, total: int | None) -> None:
        now = time.perf_counter()
        if now - self._last >= REPORT_INTERVAL_S or (total is not None and done >= total):
            self._last = now
            self._reporter.report("progress", DownloadProgress(name, done, total))
