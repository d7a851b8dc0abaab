"""Background work for the views: one runner, one way to start, follow, cancel and end it.

A ``JobRunner`` (a QObject living on the UI thread, one per view) runs each job's ``work(job)`` on a
worker thread. The work reports progress with ``job.report(...)`` and checks ``job.cancelled`` between
batches; its return value becomes ``job.result``, an exception it raises becomes ``job.error`` (the
exception object itself, its traceback logged). Everything reaches the UI thread queued, as signals:

    runner = JobRunner(self)
    runner.progressed.connect(self._on_job_progressed)   # (job, values): the tuple given to job.report
    runner.finished.connect(self._on_job_finished)       # (job): job.result, or job.error (an exception)
    runner.busy_changed.connect(...)                     # True: a job started while idle; False: none left

    job = runner.start("main", lambda job: evaluate(net, x, progress=job.report, should_stop=job.is_cancelled),
                       path=model_path)                  # keyword arguments land in job.info
    runner.cancel("main"); runner.cancel_all()           # a new model: every running job is stale
    runner.shutdown(timeout=10)                          # closing: cancel and wait, bounded

A view whose work is all background jobs derives from ``JobView``: it owns ``self.jobs``, refreshes when
shown and ends its jobs when closed.

Jobs are identified by ``kind``; one job of a kind is *current* at a time. Starting a job cancels the
current one of its kind. Only current jobs deliver: a cancelled job (or one replaced, or cancelled by
``cancel_all``) keeps running until its next cancel point, but its progress and result are dropped, so a
view never shows results for a model it no longer holds. Handle errors by type::

    def _on_job_finished(self, job):
        if isinstance(job.error, DatasetError): ...
        elif job.error is not None: ...
        else: use(job.result)

Threads are daemon ``threading.Thread``s: a job that ignores its cancel flag cannot keep the app from
quitting; ``shutdown`` waits for them at most ``timeout`` seconds in all.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from typing import Any, Callable

from PySide6.QtCore import QCoreApplication, QEventLoop, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QWidget

log = logging.getLogger(__name__)

Work = Callable[["Job"], Any]


class Job:
    """One piece of background work. Made by ``JobRunner.start``.

    kind: what it is ("main", "damage", "maximize", ...; one current job per kind).
    info: what it is about (the keyword arguments given to ``start``: a model path, a damage, ...).
    result: what ``work`` returned (once finished without error). error: the exception it raised, or
    None; ``error_traceback`` is its formatted traceback.
    """

    def __init__(self, kind: str, work: Work, info: dict, emit_progress: Callable) -> None:
        self.kind = kind
        self.work = work
        self.info = info
        self.result: Any = None
        self.error: BaseException | None = None
        self.error_traceback = ""
        self.started = 0.0                       # time.perf_counter() when the thread started
        self.seconds = 0.0                       # how long the work ran
        self._cancel = threading.Event()
        self._on_cancel: list[Callable[[], None]] = []
        self._lock = threading.Lock()
        self._emit_progress = emit_progress
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        state = "cancelled" if self.cancelled else "running" if self.running else "done"
        return f"<Job {self.kind} {state}>"

    # ---- inside the work (worker thread) --------------------------------------------------------------

    def report(self, *values) -> None:
        """Send ``values`` to the UI thread (``JobRunner.progressed``); dropped once cancelled."""
        if not self._cancel.is_set():
            self._emit_progress(self, values)

    def is_cancelled(self) -> bool:
        """True once cancelled: pass ``job.is_cancelled`` as a ``should_stop`` callback."""
        return self._cancel.is_set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    # ---- from anywhere ----------------------------------------------------------------------------------

    def cancel(self) -> None:
        """Ask the work to stop at its next cancel point. Use ``JobRunner.cancel`` from a view: it also
        stops the job delivering and updates ``busy``."""
        with self._lock:
            if self._cancel.is_set():
                return
            self._cancel.set()
            callbacks = list(self._on_cancel)
        for callback in callbacks:
            callback()

    def on_cancel(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` when the job is cancelled (at once if it is already): for work with a stop
        of its own, e.g. ``job.on_cancel(trainer.cancel)``. Runs on the thread that cancels."""
        with self._lock:
            if not self._cancel.is_set():
                self._on_cancel.append(callback)
                return
        callback()

    @property
    def running(self) -> bool:
        """Its thread is still alive (a cancelled job runs on until its next cancel point)."""
        return self._thread is not None and self._thread.is_alive()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread to end (at most ``timeout`` seconds); True if it has ended."""
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.running

    def _run(self) -> None:
        """The worker thread: run the work, keep its result or exception; never raises."""
        self.started = time.perf_counter()
        try:
            self.result = self.work(self)
        except Exception as exc:  # handed to the view as an object; never raised in a thread
            self.error = exc
            self.error_traceback = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            if not self._cancel.is_set():
                log.warning("background job %r failed: %s: %s\n%s", self.kind, type(exc).__name__, exc,
                            self.error_traceback.rstrip())
        self.seconds = time.perf_counter() - self.started


class JobRunner(QObject):
    """Runs jobs on worker threads and delivers what the current ones produce on the UI thread.

    Signals:
        progressed(Job, tuple): a current job called ``job.report(*values)``.
        finished(Job): a current job ended (``job.result`` or ``job.error``); it is no longer current.
        busy_changed(bool): True when a job starts with none current, False when the last one ends or
            is cancelled.
    """

    progressed = Signal(object, object)
    finished = Signal(object)
    busy_changed = Signal(bool)

    _job_progressed = Signal(object, object)   # from worker threads; queued to the runner's thread
    _job_ended = Signal(object)

    def __init__(self, parent: QObject | None = None, name: str = "job") -> None:
        super().__init__(parent)
        self.name = name
        self._current: dict[str, Job] = {}
        self._live: set[Job] = set()             # threads not known to have ended, current or not
        self._job_progressed.connect(self._on_job_progressed, Qt.QueuedConnection)
        self._job_ended.connect(self._on_job_ended, Qt.QueuedConnection)
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)

    # ---- state -------------------------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        """Some job is current (started, not yet delivered, not cancelled)."""
        return bool(self._current)

    @property
    def threads(self) -> int:
        """Job threads whose end has not been handled yet, current or cancelled (0: nothing of this
        runner's can deliver anything any more)."""
        return len(self._live)

    def current(self, kind: str) -> Job | None:
        """The current job of ``kind``, or None."""
        return self._current.get(kind)

    def jobs(self) -> list[Job]:
        return list(self._current.values())

    def is_current(self, job: Job) -> bool:
        return self._current.get(job.kind) is job

    # ---- control -----------------------------------------------------------------------------------------

    def start(self, kind: str, work: Work, **info) -> Job:
        """Run ``work(job)`` on a new thread as the current job of ``kind`` (cancelling the previous one)."""
        old = self._current.pop(kind, None)
        if old is not None:
            old.cancel()
        was_busy = bool(self._current) or old is not None
        job = Job(kind, work, info, self._emit_progress)
        job._thread = threading.Thread(target=self._thread_main, args=(job,), name=f"{self.name}-{kind}",
                                       daemon=True)
        self._current[kind] = job
        self._live.add(job)
        job._thread.start()
        if not was_busy:
            self.busy_changed.emit(True)
        return job

    def cancel(self, kind: str) -> Job | None:
        """Cancel the current job of ``kind`` (if any): it stops at its next cancel point and delivers
        nothing more. Returns it."""
        job = self._current.pop(kind, None)
        if job is not None:
            job.cancel()
            if not self._current:
                self.busy_changed.emit(False)
        return job

    def cancel_all(self) -> None:
        """Cancel every current job (a new model or data set: whatever they still deliver is stale)."""
        jobs, self._current = list(self._current.values()), {}
        for job in jobs:
            job.cancel()
        if jobs:
            self.busy_changed.emit(False)

    def shutdown(self, timeout: float = 10.0) -> bool:
        """Cancel everything and wait for the threads, at most ``timeout`` seconds in all; True if they
        all ended. Called on close and on application quit."""
        self.cancel_all()
        deadline = time.monotonic() + timeout
        for job in list(self._live):
            job.join(max(0.0, deadline - time.monotonic()))
        self._live = {job for job in self._live if job.running}
        if self._live:
            log.warning("%d %s thread(s) still running %.0f s after shutdown", len(self._live), self.name, timeout)
        return not self._live

    def wait_idle(self, timeout: float) -> bool:
        """Run the event loop until no job is current (results delivered), at most ``timeout`` seconds;
        True if idle. For ``--screenshot`` and scripts: views and tests wait on signals instead."""
        deadline = time.monotonic() + timeout
        while self.busy:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            loop = QEventLoop()
            quit_when_idle = lambda busy: None if busy else loop.quit()   # noqa: E731
            self.busy_changed.connect(quit_when_idle)
            QTimer.singleShot(int(left * 1000) + 1, loop.quit)
            loop.exec()
            self.busy_changed.disconnect(quit_when_idle)
        return True

    # ---- delivery ----------------------------------------------------------------------------------------

    def _thread_main(self, job: Job) -> None:
        job._run()
        self._emit(self._job_ended, job)

    def _emit_progress(self, job: Job, values: tuple) -> None:
        self._emit(self._job_progressed, job, values)

    @staticmethod
    def _emit(signal, *args) -> None:
        try:
            signal.emit(*args)
        except RuntimeError:  # the runner is gone (application closing): nobody is listening
            pass

    def _on_job_progressed(self, job: Job, values: tuple) -> None:
        if self.is_current(job) and not job.cancelled:
            self.progressed.emit(job, values)

    def _on_job_ended(self, job: Job) -> None:
        self._live.discard(job)
        if not self.is_current(job):
            return                                   # cancelled or replaced: stale
        del self._current[job.kind]
        job.join(1.0)                                # its thread is on its last line: finished means ended
        if not self._current:
            self.busy_changed.emit(False)
        self.finished.emit(job)


class JobView(QWidget):
    """A view that does its work in the background, only while shown: ``self.jobs`` is its JobRunner,
    ``refresh()`` (the subclass's) runs when the view is shown, closing it ends the jobs (bounded).

    Signals: busy_changed(bool), the runner's. Subclasses implement ``refresh`` and may define
    ``_on_job_progressed(job, values)`` and ``_on_job_finished(job)``, connected here.
    """

    busy_changed = Signal(bool)

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.jobs = JobRunner(self, name=name)
        self.jobs.busy_changed.connect(self.busy_changed)
        for signal, slot in ((self.jobs.progressed, "_on_job_progressed"), (self.jobs.finished, "_on_job_finished")):
            if hasattr(self, slot):
                signal.connect(getattr(self, slot))

    @property
    def busy(self) -> bool:
        """Some job is running (and will deliver)."""
        return self.jobs.busy

    def refresh(self) -> None:
        raise NotImplementedError

    def shutdown(self, timeout: float = 10.0) -> None:
        """Cancel the running jobs and wait (at most ``timeout`` seconds) for their threads (closing, quit)."""
        self.jobs.shutdown(timeout)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.refresh()

    def closeEvent(self, event) -> None:
        self.shutdown()
        super().closeEvent(event)
