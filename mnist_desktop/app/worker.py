"""Work that runs off the UI thread for the Train view: a training run and a dataset download.

Each worker is a QObject moved to a QThread (the Qt docs' worker-object pattern); ``start_worker`` wires
it up. Signals carry plain data (dataclasses, NumPy arrays, strings), never widgets, and reach the UI
thread queued. Stopping is cooperative: ``stop()`` is thread-safe and takes effect between batches (the
Trainer's cancel), between scoring chunks, or between download chunks.

    worker = TrainWorker(TrainJob(...))            # owns job.net from now on
    thread = start_worker(worker)                  # thread.started -> worker.run
    worker.batches_done.connect(view._on_worker_batches_done)   # BatchProgress, at most ~20 per second
    worker.epoch_done.connect(view._on_worker_epoch_done)       # EpochRecord
    worker.finished.connect(view._on_worker_finished)           # TrainOutcome, always, once, last
    worker.pause(); worker.resume(); worker.stop()

The training loop is ``engine.train.Trainer``, the same one ``mnist-desktop train`` drives.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QCoreApplication, QObject, Qt, QThread, Signal, Slot

from mnist_desktop.data import DatasetError, DownloadCancelled, DownloadError, download, load_dataset
from mnist_desktop.engine.network import Network
from mnist_desktop.engine.train import AugmentFn, BatchRecord, EpochRecord, TrainConfig, Trainer, TrainingDiverged

REPORT_INTERVAL_S = 0.05   # batch reports at most this often: the UI thread is never flooded
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

    net: the network to keep, or None when there is nothing worth keeping (no epoch completed, or a
    failure). It holds the weights after the last completed epoch (``history[-1]``): after a Stop the
    part-epoch is dropped, after divergence the Trainer has put the last good weights back.
    restored_epoch: the epoch whose weights ``net`` holds (0: none). message: for people.
    """

    status: str
    net: Network | None
    history: tuple[EpochRecord, ...]
    config: TrainConfig
    data: DataInfo | None
    message: str
    restored_epoch: int
    wall_seconds: float


class _Worker(QObject):
    """Runs ``_run`` on the thread it was moved to, then moves itself back to the main thread, so that the
    Python reference the view keeps deletes it there, after the thread has ended."""

    @Slot()
    def run(self) -> None:
        try:
            self._run()
        finally:
            app = QCoreApplication.instance()
            if app is not None:
                self.moveToThread(app.thread())

    def _run(self) -> None:
        raise NotImplementedError


# ---- the training worker ------------------------------------------------------------------------------------


class TrainWorker(_Worker):
    """Loads the data and runs a Trainer over it on its own thread, reporting through signals."""

    data_loaded = Signal(object)    # DataInfo
    batches_done = Signal(object)   # BatchProgress
    epoch_done = Signal(object)     # EpochRecord
    finished = Signal(object)       # TrainOutcome

    def __init__(self, job: TrainJob) -> None:
        super().__init__()
        self.job = job
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._paused_since: float | None = None
        self._paused_total = 0.0
        self._trainer: Trainer | None = None

    # ---- control (any thread) ------------------------------------------------------------------------

    def stop(self) -> None:
        with self._lock:
            self._stop.set()
            if self._trainer is not None:
                self._trainer.cancel()

    def pause(self) -> None:
        with self._lock:
            if self._paused_since is None:
                self._paused_since = time.perf_counter()
            if self._trainer is not None:
                self._trainer.pause()

    def resume(self) -> None:
        with self._lock:
            if self._paused_since is not None:
                self._paused_total += time.perf_counter() - self._paused_since
                self._paused_since = None
            if self._trainer is not None:
                self._trainer.resume()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    @property
    def paused(self) -> bool:
        with self._lock:
            return self._paused_since is not None

    @property
    def held(self) -> bool:
        """Paused and parked between batches: no batch trains and no report is sent until resume."""
        with self._lock:
            return self._trainer is not None and self._trainer.held

    def _paused_seconds(self) -> float:
        with self._lock:
            extra = time.perf_counter() - self._paused_since if self._paused_since is not None else 0.0
            return self._paused_total + extra

    # ---- the run (worker thread) -------------------------------------------------------------------------

    def _run(self) -> None:
        """Never raises: every ending is reported through ``finished``."""
        job, t0 = self.job, time.perf_counter()
        history: list[EpochRecord] = []
        data_info = None
        try:
            if self._stop.is_set():
                self._finish("stopped", None, history, None, "Stopped before training started.", 0, t0)
                return
            try:
                data = load_dataset(job.dataset, job.data_dir, limit_per_class=job.limit_per_class)
            except (DatasetError, ValueError, OSError) as exc:
                self._finish("failed", None, history, None, f"Could not load the data: {exc}", 0, t0)
                return
            data_info = DataInfo(data.name, str(data.source), data.test_name, len(data.x_train), len(data.x_test))
            self.data_loaded.emit(data_info)
            trainer = Trainer(job.net, (data.x_train, data.y_train), (data.x_test, data.y_test), job.config,
                              job.augment)
            with self._lock:
                self._trainer = trainer
                if self._stop.is_set():
                    trainer.cancel()
                if self._paused_since is not None:
                    trainer.pause()
            try:
                self._train(trainer, history)
            except TrainingDiverged as exc:
                kept = (f"The weights after epoch {exc.restored_epoch} were restored: save them or use them "
                        f"in the Draw view." if exc.restored_epoch else "No epoch had finished, so there are no "
                        f"trained weights to keep.")
                text = (f"Training diverged, so it was stopped: the learning rate ({job.config.lr:g}) is "
                        f"probably too high; try one ten times smaller. {exc} {kept}")
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
                else:
                    self._finish("stopped", None, history, data_info,
                                 "Stopped before the first epoch finished: there is no trained network to keep.", 0, t0)
                return
            last = history[-1]
            self._finish("finished", job.net, history, data_info,
                         f"Finished {last.epoch} epochs: {data_info.test_name} accuracy {last.test_acc * 100:.2f}%.",
                         last.epoch, t0)
        except Exception as exc:  # reported in the view, never raised in a thread
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
        run_t0 = time.perf_counter()
        for record in trainer.run():
            if isinstance(record, EpochRecord):
                history.append(record)
                self._good = trainer.net.snapshot()   # what a Stop in the next epoch falls back to
                self.epoch_done.emit(record)
                continue
            if batches is None:
                batches = record.batches
                total = batches * cfg.epochs
            n += 1
            ema = EMA_DECAY * ema + (1 - EMA_DECAY) * record.loss
            steps.append(record.epoch - 1 + record.batch / record.batches)
            losses.append(record.loss)
            smoothed.append(ema / (1 - EMA_DECAY ** n))
            now = time.perf_counter()
            if now - last_report >= REPORT_INTERVAL_S or record.batch == record.batches:
                last_report = now
                done = (record.epoch - 1) * batches + record.batch
                elapsed = now - run_t0 - self._paused_seconds()
                eta = elapsed / done * (total - done) if done else float("nan")
                self.batches_done.emit(BatchProgress(np.array(steps), np.array(losses, np.float64),
                                                     np.array(smoothed), record, done / total,
                                                     record.images_per_s, eta))
                steps, losses, smoothed = [], [], []

    def _finish(self, status, net, history, data_info, message, restored_epoch, t0) -> None:
        self.finished.emit(TrainOutcome(status, net, tuple(history), self.job.config, data_info, message,
                                        restored_epoch, time.perf_counter() - t0))


# ---- the download worker ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DownloadProgress:
    file_name: str
    done: int           # bytes of this file so far
    total: int | None   # bytes of this file, when known


class DownloadWorker(_Worker):
    """``datasets.download`` (the one ``mnist-desktop download`` uses) on its own thread."""

    progress = Signal(object)   # DownloadProgress, at most ~20 per second
    finished = Signal(object, object)   # folder (str) or None, message (str) or None; None, None: cancelled

    def __init__(self, dataset: str, dest: str | None = None) -> None:
        super().__init__()
        self.dataset, self.dest = dataset, dest
        self._cancel = threading.Event()
        self._last = 0.0

    def stop(self) -> None:
        self._cancel.set()

    def _run(self) -> None:
        try:
            folder = download(self.dataset, self.dest, progress=self._progress, cancel=self._cancel.is_set)
        except DownloadCancelled:
            self.finished.emit(None, None)
        except DownloadError as exc:
            self.finished.emit(None, str(exc))
        except Exception as exc:  # never raised in a thread
            self.finished.emit(None, f"{type(exc).__name__}: {exc}")
        else:
            self.finished.emit(str(folder), None)

    def _progress(self, name: str, done: int, total: int | None) -> None:
        now = time.perf_counter()
        if now - self._last >= REPORT_INTERVAL_S or (total is not None and done >= total):
            self._last = now
            self.progress.emit(DownloadProgress(name, done, total))


# ---- threads ------------------------------------------------------------------------------------------------------

_orphans: list[QThread] = []   # threads that outlived a bounded wait: kept alive rather than destroyed running


def start_worker(worker: QObject) -> QThread:
    """Move ``worker`` to a new QThread and start ``worker.run`` there. The thread quits when the worker
    emits ``finished``. Returns the thread: keep references to it and to the worker until it has ended."""
    thread = QThread()
    thread.setObjectName(type(worker).__name__)
    worker.moveToThread(thread)
    thread.started.connect(worker.run)
    worker.finished.connect(thread.quit, Qt.DirectConnection)   # from the worker thread; quit is thread-safe
    thread.start()
    return thread


def stop_thread(thread: QThread | None, worker, timeout_s: float) -> bool:
    """Ask ``worker`` to stop and wait up to ``timeout_s`` for ``thread`` to end; True if it ended.
    A thread still running afterwards is kept referenced (destroying a running QThread aborts)."""
    if thread is None:
        return True
    if worker is not None:
        try:
            worker.stop()
        except RuntimeError:   # already deleted: its run had ended
            pass
    thread.quit()   # ends the thread's event loop once run() has returned
    ended = thread.wait(max(0, int(timeout_s * 1000)))
    if not ended:
        _orphans.append(thread)
    return ended
