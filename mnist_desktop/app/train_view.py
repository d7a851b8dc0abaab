"""The Train view: pick the data, a network and its settings, train it with live plots, keep the result.

    view = TrainView(state, settings=settings)     # the form is remembered in ``settings``
    view.start()                                   # False (and a message in the view) if the form is unusable
    view.pause(); view.resume(); view.stop()
    view.save_model("mine.npz")                    # atomic, the same spec as `mnist-desktop train`
    view.use_in_draw()                             # state.set_model(...), then show_view_requested("draw")
    view.shutdown()                                # cancel and wait (bounded): closing the window

Left: the data panel (``data_panel``), the form (``train_form``) and Start / Pause / Stop. Right: the epoch
and run progress with images/s and ETA, the plots (``train_plots``), the log of epoch lines
(``training.format_epoch``, as the command line prints them), Save model… and Use in Draw view. Beside
the plots, the live weights (``live_weights_panel``: snapshots the worker takes with ``weights_every``).
A second tab, "Learning curve", is ``learning_curve_panel`` (several presets on growing training sets).

Work and threads: the run (loading the data, then ``engine.train.Trainer``, the command line's loop) is
``worker.TrainWorker``, a job of the view's ``JobRunner`` (app/jobs.py); it owns the network it trains and
hands it back at the end. Batch reports arrive at most twice a second, each with every batch's loss
since the previous one.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (QBoxLayout, QFileDialog, QFrame, QHBoxLayout, QLabel, QPlainTextEdit, QPushButton, QScrollArea,
                               QSplitter, QTabWidget, QVBoxLayout, QWidget)

from mnist_desktop.app.data_panel import DatasetPanel
from mnist_desktop.app.jobs import Job, JobRunner
from mnist_desktop.app.learning_curve_panel import LearningCurvePanel
from mnist_desktop.app.reflow import Reflow, scrolling_page
from mnist_desktop.app.live_weights_panel import LiveWeightsPanel
from mnist_desktop.app.state import K_DATA_DIR, K_LAST_DIR, MODEL_FILTER, AppState, LoadedModel, setting
from mnist_desktop.app.train_form import TrainForm
from mnist_desktop.app.train_plots import TrainingPlots
from mnist_desktop.app.train_progress import RunButtons, RunProgress, format_duration
from mnist_desktop.app.tooltips import wrap_tooltips
from mnist_desktop.app.widgets import MUTED_TEXT, MessageBanner
from mnist_desktop.app.worker import BatchProgress, DataInfo, TrainJob, TrainOutcome, TrainWorker
from mnist_desktop.data import get_info
from mnist_desktop.engine.serialize import save
from mnist_desktop.engine.train import EpochRecord
from mnist_desktop.live_weights import DEFAULT_EVERY, DEFAULT_MIN_SECONDS
from mnist_desktop.training import build_run, format_epoch, trained_spec

__all__ = ["TrainView", "K_DATA_DIR", "format_duration"]

FORM_WIDTH = 340
PLOTS_MIN_WIDTH = {False: 400, True: 300}   # beside the form (titles fit) / stacked (a 640-px window)
PLOTS_STACKED_HEIGHT = 300


class TrainView(QWidget):
    """Signals: show_view_requested(str) asks the window for another view ("draw" after Use in Draw view);
    run_started(); epoch_done(EpochRecord); run_finished(TrainOutcome)."""

    show_view_requested = Signal(str)
    run_started = Signal()
    epoch_done = Signal(object)
    run_finished = Signal(object)

    def __init__(self, state: AppState, settings: QSettings | None = None, *, persist: bool = True,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.settings = settings
        self.jobs = JobRunner(self, name="train")
        self._job: Job | None = None
        self._worker: TrainWorker | None = None
        self._request = None
        self._data: DataInfo | None = None
        self.history: list[EpochRecord] = []
        self.outcome: TrainOutcome | None = None
        self._saved_path: Path | None = None
        self.batches_seen = 0                       # batches of the current run reported so far
        self.last_progress: BatchProgress | None = None

        self.banner = MessageBanner()
        self.data_panel = DatasetPanel(settings, persist)
        self.form = TrainForm(settings, persist)
        run_page = QWidget()
        body = QBoxLayout(QBoxLayout.LeftToRight)   # the form beside the plots; above them when narrow
        self._left = self._build_left(run_page)
        body.addWidget(self._left)
        body.addLayout(self._build_right(), 1)
        self.reflow = Reflow(self, body, changed=self._on_reflow)
        page_layout = QVBoxLayout(run_page)
        page_layout.setContentsMargins(6, 4, 6, 6)
        page_layout.addWidget(self.banner)
        page_layout.addLayout(body, 1)
        # the learning-curve mode: several presets on growing training sets (learning_curve_panel)
        self.curve = LearningCurvePanel(settings, self.data_panel.selection, persist)
        self.curve.reflow.watch(self, slack=40)     # its row/column follows the view, shown or not
        self.modes = QTabWidget()
        self.modes.setDocumentMode(True)
        self.modes.addTab(run_page, "Train a network")
        self.modes.addTab(self.curve, "Learning curve")
        self.modes.setTabToolTip(1, "Accuracy against the number of training images, for several networks")
        layout = QVBoxLayout(scrolling_page(self))      # a small window scrolls the view
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.modes, 1)

        self.start_button.clicked.connect(self.start)
        self.pause_button.clicked.connect(self._on_pause_button_clicked)
        self.stop_button.clicked.connect(self.stop)
        self.save_button.clicked.connect(self.ask_save_model)
        self.use_button.clicked.connect(self.use_in_draw)
        self.data_panel.availability_changed.connect(self._on_data_availability_changed)
        self.form.changed.connect(self._on_form_changed)
        self.jobs.progressed.connect(self._on_job_progressed)
        self.jobs.finished.connect(self._on_job_finished)
        self.plots.clear(self.form.epochs_spin.value())
        self._set_idle_status()
        self._update_buttons()
        wrap_tooltips(self)

    def _on_reflow(self, stacked: bool) -> None:
        # above the plots the whole form shows (the page scrolls, not a small box inside it)
        self._left.setMinimumHeight(self._form_box.sizeHint().height() + 40 if stacked else 0)
        # and the live weights go under the plots, which may then be narrower
        self.plots_and_weights.setOrientation(Qt.Vertical if stacked else Qt.Horizontal)
        self.plots.setMinimumWidth(PLOTS_MIN_WIDTH[stacked])
        self.plots.setMinimumHeight(PLOTS_STACKED_HEIGHT if stacked else 0)

    def shortcut_rows(self) -> list[tuple[str, str]]:
        """Start / Pause / Stop's keys, for Help › Keyboard shortcuts."""
        return RunButtons.shortcut_rows()

    # ---- building ----------------------------------------------------------------------------------------------

    def _build_left(self, page: QWidget) -> QWidget:
        """The data panel and the form (scrolling on small screens) above Start / Pause / Stop (always visible;
        their shortcuts work while ``page`` shows)."""
        self._form_box = form_box = QWidget()
        form_layout = QVBoxLayout(form_box)
        form_layout.setContentsMargins(0, 0, 6, 0)
        form_layout.addWidget(self.data_panel)
        form_layout.addWidget(self.form)
        form_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(form_box)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.run_buttons = buttons = RunButtons(page)
        self.start_button, self.pause_button, self.stop_button = (buttons.start_button, buttons.pause_button,
                                                                  buttons.stop_button)
        left = QVBoxLayout()
        left.addWidget(scroll, 1)
        left.addLayout(buttons)
        left_widget = QWidget()
        left_widget.setLayout(left)
        left.setContentsMargins(0, 0, 0, 0)
        left_widget.setFixedWidth(FORM_WIDTH)
        return left_widget

    def _build_right(self) -> QVBoxLayout:
        """Progress, plots, the log of epoch lines, the result."""
        self.progress = RunProgress()                 # the status line, this epoch's bar and the run's
        self.status_label, self.epoch_bar, self.run_bar = (self.progress.status_label, self.progress.epoch_bar,
                                                           self.progress.run_bar)
        self.plots = TrainingPlots()
        self.live_weights = LiveWeightsPanel()        # first-layer weights and back-projections, live + replay
        self.weights_every = DEFAULT_EVERY            # batches between live-weight snapshots ...
        self.weights_min_seconds = DEFAULT_MIN_SECONDS  # ... and seconds at least
        self.plots_and_weights = plots_and_weights = QSplitter(Qt.Horizontal)
        plots_and_weights.addWidget(self.plots)
        plots_and_weights.addWidget(self.live_weights)
        plots_and_weights.setStretchFactor(0, 3)
        plots_and_weights.setStretchFactor(1, 2)
        plots_and_weights.setChildrenCollapsible(False)
        self.plots.setMinimumWidth(PLOTS_MIN_WIDTH[False])  # the plots' titles fit; the window still fits 960 px
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setToolTip("One line per epoch, as `mnist-desktop train` prints them.")
        mono = QFontDatabase.systemFont(QFontDatabase.FixedFont)
        mono.setPointSizeF(mono.pointSizeF() * 0.9)     # an epoch line (~90 characters) fits a 1024-px window
        self.log.setFont(mono)
        self.log.setLineWrapMode(QPlainTextEdit.NoWrap)
        self.log.setFixedHeight(5 * self.log.fontMetrics().lineSpacing() + 12)
        self.log.setPlaceholderText("The epoch lines of the run appear here.")
        result_row = self._build_result_row()
        right = QVBoxLayout()
        right.addWidget(self.progress)
        right.addWidget(plots_and_weights, 1)
        right.addWidget(self.log)
        right.addLayout(result_row)
        return right

    def _build_result_row(self) -> QHBoxLayout:
        """What the run left to keep, Save model… and Use in Draw view."""
        self.result_label = QLabel()
        self.result_label.setWordWrap(True)
        self.result_label.setStyleSheet(f"color: {MUTED_TEXT};")
        self.save_button = QPushButton("Save model…")
        self.save_button.setToolTip("Save the trained network as a model file (.npz), with its settings and "
                                    "accuracy, like `mnist-desktop train --out`.")
        self.use_button = QPushButton("Use in Draw view")
        self.use_button.setToolTip("Make the trained network the current model and go to the Draw view.")
        result_row = QHBoxLayout()
        result_row.addWidget(self.result_label, 1)
        result_row.addWidget(self.save_button)
        result_row.addWidget(self.use_button)
        return result_row

    # ---- state -------------------------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """A run is under way (from Start until its outcome arrived)."""
        return self._worker is not None

    @property
    def paused(self) -> bool:
        return self.running and self._worker.paused

    @property
    def thread_finished(self) -> bool:
        """No training thread is alive (tests: closing leaves none behind)."""
        return self._job is None or not self._job.running

    @property
    def trained_net(self):
        """The network the last run left to keep (None: none to keep)."""
        return self.outcome.net if self.outcome is not None else None

    # ---- the run -------------------------------------------------------------------------------------------------

    def start(self) -> bool:
        """Start training with the form's settings; False, with a message in the view, if they are unusable."""
        if self.running:
            return False
        try:
            selection = self.data_panel.selection()
            request = self.form.request()
            net, config, augment = build_run(request.architecture, request.training)
        except ValueError as exc:
            self.banner.show_message(str(exc), "error")
            return False
        self.banner.dismiss()
        self._request, self._data, self.history, self.outcome, self._saved_path = request, None, [], None, None
        self.batches_seen, self.last_progress = 0, None
        self.plots.clear(config.epochs, hint="The first points appear after epoch 1…")
        self.log.clear()
        self.result_label.setText("")
        self._worker = TrainWorker(TrainJob(net, config, augment, selection.dataset, selection.data_dir,
                                            selection.limit_per_class,
                                            weights_every=self.weights_every if self.live_weights.wanted else 0,
                                            weights_min_seconds=self.weights_min_seconds))
        self.live_weights.start_run()
        self._net_text = f"{net.describe()}, {net.n_params():,} parameters"
        self.status_label.setText(f"Loading {get_info(selection.dataset).title}…")
        self.progress.reset()
        self.run_buttons.set_paused(False)
        self._job = self.jobs.start("train", self._worker.run)
        self.form.set_enabled_for_run(True)
        self.data_panel.setEnabled(False)
        self._update_buttons()
        self.run_started.emit()
        return True

    def pause(self) -> None:
        if self.running and not self.paused:
            self._worker.pause()
            self.run_buttons.set_paused(True)
            self.status_label.setText(self.status_label.text().split(" · paused")[0] + " · paused")

    def resume(self) -> None:
        if self.paused:
            self._worker.resume()
            self.run_buttons.set_paused(False)
            self.status_label.setText(self.status_label.text().split(" · paused")[0])

    def stop(self) -> None:
        """End the run after the current batch (or scoring chunk); its outcome arrives through run_finished."""
        if self.running:
            self._worker.stop()
            self.status_label.setText("Stopping…")
            self.stop_button.setEnabled(False)
            self.pause_button.setEnabled(False)

    def shutdown(self, timeout_s: float = 5.0) -> None:
        """Cancel any run and download and wait for their threads (bounded): the window is closing."""
        self.jobs.shutdown(timeout_s)
        self.curve.shutdown(timeout_s)
        self.data_panel.shutdown(timeout_s)

    # ---- keeping the result ------------------------------------------------------------------------------------------

    def trained_spec(self, name: str) -> dict:
        """The spec `mnist-desktop train` would write for the network the last run kept."""
        o = self.outcome
        history = [r for r in o.history if r.epoch <= o.restored_epoch]
        return trained_spec(o.net, o.config, history, name=name, preset=self._request.preset, dataset=o.data.name,
                            test_name=o.data.test_name, train_images=o.data.train_images,
                            test_images=o.data.test_images, wall_seconds=o.wall_seconds)

    def save_model(self, path: str | os.PathLike) -> bool:
        """Save the kept network to ``path`` (.npz, atomically); False, with a message, if it cannot be."""
        if self.trained_net is None:
            self.banner.show_message("There is no trained network to save yet: press Start first.", "warning")
            return False
        path = Path(path)
        try:
            save(self.trained_net, path, self.trained_spec(path.stem))
        except OSError as exc:
            self.banner.show_message(f"Could not save the model to {path}: {exc.strerror or exc}. "
                                     f"Nothing was written there and the trained network is kept: save it elsewhere.", "error")
            return False
        self._saved_path = path.resolve()
        self.banner.show_message(f"Saved {path}.", "info")
        return True

    def ask_save_model(self) -> None:
        """The save dialog; when the chosen place refuses the file (full disk, no permission, a folder of that
        name), the message says why and the dialog opens again, in the home folder, to save elsewhere."""
        start = Path(str(setting(self.settings, K_LAST_DIR, str, "") or "") or Path.home())
        name = f"{self._request.preset or 'custom-mlp'}.npz" if self._request else "model.npz"
        while True:
            path, _ = QFileDialog.getSaveFileName(self, "Save model", str(start / name), MODEL_FILTER)
            if not path:
                return
            if not Path(path).suffix:
                path += ".npz"
            if self.save_model(path):
                return
            start, name = Path.home(), Path(path).name

    def use_in_draw(self) -> bool:
        """Make the kept network the current model everywhere and ask for the Draw view."""
        if self.trained_net is None:
            return False
        name = self._saved_path.stem if self._saved_path else f"{self._request.preset or 'custom MLP'} (trained here)"
        spec = self.trained_spec(name)
        self.state.set_model(LoadedModel.from_network(self.trained_net.copy(), spec, self._saved_path))
        self.show_view_requested.emit("draw")
        return True

    # ---- worker reports ---------------------------------------------------------------------------------------------

    def _on_job_progressed(self, job: Job, values: tuple) -> None:
        kind, payload = values
        {"data": self._on_worker_data_loaded, "batches": self._on_worker_batches_done,
         "epoch": self._on_worker_epoch_done, "weights": self.live_weights.add}[kind](payload)

    def _on_job_finished(self, job: Job) -> None:
        outcome = job.result
        if job.error is not None:           # TrainWorker.run reports every ending itself; this is a bug
            outcome = TrainOutcome("failed", None, tuple(self.history), self._worker.job.config, self._data,
                                   f"Training failed: {type(job.error).__name__}: {job.error}", 0, job.seconds)
        self._on_worker_finished(outcome)

    def _on_worker_data_loaded(self, info: DataInfo) -> None:
        self._data = info
        self.plots.clear(self._worker.job.config.epochs, info.test_name,
                         hint="The first points appear after epoch 1…")
        self.log.appendPlainText(f"{self._net_text}; {info.train_images:,} training images ({info.name}), "
                                 f"{info.test_images:,} {info.test_name} images")
        self.status_label.setText("Training…")

    def _on_worker_batches_done(self, p: BatchProgress) -> None:
        self.batches_seen += len(p.steps)
        self.last_progress = p
        self.plots.add_batches(p)
        self.progress.show_batches(p, self._worker.job.config.epochs, paused=self.paused,
                                   stopping=self._worker.stopping)

    def _on_worker_epoch_done(self, record: EpochRecord) -> None:
        self.history.append(record)
        self.plots.flush()
        self.plots.add_epoch(record)
        self.log.appendPlainText(format_epoch(record, self._data.test_name if self._data else "test"))
        self.epoch_done.emit(record)

    def _on_worker_finished(self, outcome: TrainOutcome) -> None:
        self._worker = None
        self.outcome = outcome
        self.plots.flush()
        self.live_weights.finish_run()
        self.form.set_enabled_for_run(False)
        self.data_panel.setEnabled(True)
        self.run_buttons.set_paused(False)
        level = {"finished": "info", "stopped": "warning"}.get(outcome.status, "error")
        self.banner.show_message(outcome.message, level, timeout_ms=0 if level != "info" else None)
        self.log.appendPlainText(outcome.message)
        if outcome.net is not None and not outcome.restored_epoch:
            self.result_label.setText("Kept: the network as trained so far in epoch 1 (not scored).")
        elif outcome.net is not None:
            self.result_label.setText(f"Kept: the network after epoch {outcome.restored_epoch} "
                                      f"({self._test_text(outcome)}).")
        else:
            self.result_label.setText("No trained network to keep from this run.")
        if outcome.status == "failed" and not outcome.history:
            self.plots.clear(outcome.config.epochs, hint="The run did not start: see the message above")
        self.progress.show_end(outcome)
        self._update_buttons()
        self.run_finished.emit(outcome)

    @staticmethod
    def _test_text(outcome: TrainOutcome) -> str:
        r = next((r for r in outcome.history if r.epoch == outcome.restored_epoch), None)
        if r is None or outcome.data is None:
            return "not scored"
        return f"{outcome.data.test_name} accuracy {r.test_acc * 100:.2f}%"

    # ---- buttons ----------------------------------------------------------------------------------------------------

    def _on_pause_button_clicked(self) -> None:
        if self.paused:
            self.resume()
        else:
            self.pause()

    def _on_form_changed(self) -> None:
        if not self.running and self.outcome is None:    # the empty plots span the planned epochs
            self.plots.clear(self.form.epochs_spin.value())
        self._update_buttons()

    def _on_data_availability_changed(self, available: bool) -> None:
        self._update_buttons()

    def _update_buttons(self) -> None:
        running = self.running
        self.start_button.setEnabled(not running and self.data_panel.folder() is not None
                                     and self.form.layers_problem() is None)
        self.pause_button.setEnabled(running and not (self._worker and self._worker.stopping))
        self.stop_button.setEnabled(running and not (self._worker and self._worker.stopping))
        keep = not running and self.trained_net is not None
        self.save_button.setEnabled(keep)
        self.use_button.setEnabled(keep)
        if not running and self.outcome is None:
            self._set_idle_status()

    def _set_idle_status(self) -> None:
        if self.data_panel.folder() is None:
            self.status_label.setText("The data is missing: download it or choose its folder (left).")
        else:
            self.status_label.setText("Ready: choose a network and its settings, then press Start.")
