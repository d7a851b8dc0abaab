"""Teach it your handwriting: the My digits view (the collection, Adapt, Back to the original, what it did).

    view = MyDigitsView(state)                 # the collection, Adapt, Back to the original, before/after
    view.collect(drawing, 7)                   # what the Draw view's "It's a…" row does with its strokes

The maths is in ``mnist_desktop.personalize`` and ``mnist_desktop.adapt_check``, the files in
``mnist_desktop.collection``, the thumbnails and the "It's a…" row in ``app.digit_thumbs``, the Adapt and
"What it did" column in ``app.adapt_panel``; this module builds the view, runs the work on
``jobs.JobRunner`` threads and shows what comes back.

Adapting: the current model (or, if it is itself adapted, its base) learns from the whole collection on a
worker thread; the result is saved in the app data folder's ``adapted-models`` and made current at once,
so the Draw view reads with it. Then a second job gives it a calibration (``NEW.calib`` beside it, so
"not a digit" and "unsure" work for the new weights) and a third measures it honestly: each of the
user's digits read by a model adapted without it (k-fold), and the MNIST test set before and after when
it is found; the adapted model's file then records its MNIST test accuracy, like any trained model's.
"""

from __future__ import annotations

import datetime as _dt
import sys
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (QBoxLayout, QGridLayout, QHBoxLayout, QLabel, QPushButton, QScrollArea,
                               QVBoxLayout, QWidget)

from mnist_desktop import adapt_check
from mnist_desktop import collection as coll_mod
from mnist_desktop import personalize
from mnist_desktop.app.adapt_panel import AdaptPanel
from mnist_desktop.app.collection_actions import CollectionActions
from mnist_desktop.app.reflow import reflowing_page
from mnist_desktop.app.digit_thumbs import DigitStrip, count_text
from mnist_desktop.app.imageio import render_drawing
from mnist_desktop.app.jobs import JobRunner
from mnist_desktop.app.state import AppState, LoadedModel, app_data_dir
from mnist_desktop.app.widgets import MessageBanner
from mnist_desktop.confidence import CalibrationCancelled, calibration_path
from mnist_desktop.drawing import read_drawing
from mnist_desktop.engine.serialize import ModelFileError, save
from mnist_desktop.preprocess import to_mnist

CV_FOLDS = 4          # before/after on the user's digits: 4 fits, each without a quarter of them
PREPARE_DELAY_MS = 2000   # after start-up or a change of model: then My digits prepares it (if it has digits)
SWITCH_INTERVAL = 0.0002   # seconds: how often a busy worker thread hands the GIL back while a job runs


class MyDigitsView(CollectionActions, QWidget):
    """The collection (thumbnails per digit, counts, delete/undo, import, export), Adapt with progress and
    cancel, Back to the original, and the honest before/after.

    Signals:
        adapted(LoadedModel): an adapted model was saved and made current.
        checked(object): the before/after measurement finished (an ``adapt_check.Check``, also ``last_check``).
        collection_changed(int): the number of collected digits.
    """

    adapted = Signal(object)
    checked = Signal(object)
    collection_changed = Signal(int)

    def __init__(self, state: AppState, folder: Path | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        data = app_data_dir() if folder is None else Path(folder)
        self.collection = coll_mod.Collection(data / coll_mod.FOLDER_NAME)
        self.models_dir = data / coll_mod.ADAPTED_FOLDER_NAME
        self.runner = JobRunner(self, "adapt")
        # computes ahead what adapting the current model needs of the replay digits (personalize.replay_features,
        # cached), so the first Adapt click does not: started when the collection changes, the view is shown, or
        # PREPARE_DELAY_MS after the model changes (start-up included)
        self.preparer = JobRunner(self, "prepare")
        self._prepare_timer = QTimer(self, singleShot=True, interval=PREPARE_DELAY_MS, timeout=self.prepare)
        self._images: dict[Path, np.ndarray] = {}      # path -> 28x28, what the network sees
        self._undo: list[coll_mod.Removed] = []
        self._base: LoadedModel | None = None          # what "Back to the original" goes back to
        self._replay: personalize.Replay | None = None
        self._mnist_base: dict[str, float] = {}        # base path -> MNIST test accuracy (measured once)
        self._switch_interval: float | None = None     # sys.getswitchinterval() while no job runs
        self.last_check: adapt_check.Check | None = None
        self.settings = personalize.AdaptSettings()   # the measured defaults (tests may use a quicker one)

        self.banner = MessageBanner()
        self.panel = AdaptPanel()
        for name in ("model_label", "adapt_button", "cancel_button", "back_button", "progress", "status",
                     "own_label", "mnist_label", "fixed_label", "fixed_strip"):
            setattr(self, name, getattr(self.panel, name))
        body = QBoxLayout(QBoxLayout.LeftToRight)
        body.addLayout(self._build_strips(), 1)
        body.addWidget(self.panel)
        outer = reflowing_page(self, body, changed=self.panel.set_stacked)   # narrow: panel below; small: scrolls
        outer.addWidget(self.banner)
        outer.addLayout(self._build_top())
        outer.addWidget(self.prompt)
        outer.addLayout(body, 1)
        self._connect()
        self.refresh()
        self._on_state_model_changed(self.state.model)

    def _build_top(self) -> QHBoxLayout:
        """Where the files are; import / export / open folder; the "still needed" prompt."""
        self.folder_label = QLabel(f"Your digits are kept in <code>{self.collection.folder}</code>")
        self.folder_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.folder_label.setWordWrap(True)
        self.import_button = QPushButton("Import folder…")
        self.import_button.setToolTip("Copy labelled drawings (.json with a \"label\", or named like 0042_7.json) into My digits")
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("Copy all of My digits into a folder (mnist-desktop adapt reads it)")
        self.open_button = QPushButton("Open folder")
        self.open_button.setToolTip("Show the collection's folder in the file manager")
        top = QHBoxLayout()
        top.addWidget(self.folder_label, 1)
        for b in (self.import_button, self.export_button, self.open_button):
            top.addWidget(b)
        self.prompt = QLabel()
        self.prompt.setWordWrap(True)
        return top

    def _build_strips(self) -> QVBoxLayout:
        """A strip of thumbnails per digit with its count, and Delete / Undo under them."""
        grid = QGridLayout()
        grid.setVerticalSpacing(2)
        self.strips: list[DigitStrip] = []
        self.count_labels: list[QLabel] = []
        for d in range(10):
            head = QLabel()
            head.setMinimumWidth(70)
            strip = DigitStrip()
            strip.itemSelectionChanged.connect(self._update_buttons)
            strip.delete_requested.connect(self.delete_selected)
            strip.undo_requested.connect(self.undo_delete)
            grid.addWidget(head, d, 0)
            grid.addWidget(strip, d, 1)
            self.count_labels.append(head)
            self.strips.append(strip)
        strips = QWidget()
        strips.setLayout(grid)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(strips)
        self.delete_button = QPushButton("Delete selected")
        self.delete_button.setToolTip("Delete the selected digits (Del); Undo brings them back")
        self.undo_button = QPushButton("Undo delete")
        self.undo_button.setToolTip("Bring back the digits deleted last (Ctrl+Z)")
        edit = QHBoxLayout()
        edit.addWidget(QLabel("Select thumbnails (Ctrl/Shift for several)"), 1)
        edit.addWidget(self.delete_button)
        edit.addWidget(self.undo_button)
        left = QVBoxLayout()
        left.addWidget(scroll, 1)
        left.addLayout(edit)
        return left

    def _connect(self) -> None:
        self.import_button.clicked.connect(self.ask_import)
        self.export_button.clicked.connect(self.ask_export)
        self.open_button.clicked.connect(self.open_folder)
        self.delete_button.clicked.connect(self.delete_selected)
        self.undo_button.clicked.connect(self.undo_delete)
        self.adapt_button.clicked.connect(self.start_adapt)
        self.cancel_button.clicked.connect(self.cancel_adapt)
        self.back_button.clicked.connect(self.back_to_original)
        self.runner.progressed.connect(lambda job, values: self.panel.show_progress(*values))
        self.runner.finished.connect(self._on_job_finished)
        self.runner.busy_changed.connect(self._on_runner_busy_changed)
        self.preparer.busy_changed.connect(self._on_runner_busy_changed)
        self.state.model_changed.connect(self._on_state_model_changed)

    # ---- the collection -----------------------------------------------------------------------------

    def image_of(self, path: Path) -> np.ndarray | None:
        """The 28x28 the network sees for a collected drawing (rendered once, then cached)."""
        path = Path(path)
        if path not in self._images:
            try:
                pre = to_mnist(render_drawing(read_drawing(path)))
            except (ValueError, OSError):
                return None
            if pre is None:
                return None
            self._images[path] = pre.image.astype(np.float32)
        return self._images[path]

    def collect(self, drawing, label: int) -> Path | None:
        """Save a drawing labelled ``label`` into the collection (what "It's a…" does)."""
        try:
            path = self.collection.add(drawing, label)
        except (ValueError, OSError) as exc:
            self.banner.show_message(f"Could not save the digit: {exc}")
            return None
        self.refresh()
        return path

    def refresh(self) -> None:
        """Re-read the folder and rebuild the strips, counts and prompt."""
        items = self.collection.items()
        by_digit: dict[int, list] = {d: [] for d in range(10)}
        for item in items:
            by_digit[item.label].append(item)
        for d in range(10):
            self.strips[d].set_items([(item.path, self.image_of(item.path)) for item in by_digit[d]])
            self.count_labels[d].setText(count_text(d, len(by_digit[d]), coll_mod.WANTED_PER_DIGIT))
        self.prompt.setText(self.collection.prompt())
        problems = self.collection.problems()
        if problems:
            self.banner.show_message(f"{len(problems)} file(s) in the folder are not labelled drawings and are "
                                     f"left out, e.g. {problems[0]}", "warning")
        self._update_buttons()
        self.collection_changed.emit(len(items))
        self.prepare()

    def examples(self) -> personalize.Examples:
        images, labels, names = [], [], []
        for item in self.collection.items():
            image = self.image_of(item.path)
            if image is not None:
                images.append(image.reshape(784))
                labels.append(item.label)
                names.append(str(item.path))
        return personalize.Examples(np.array(images, np.float32).reshape(-1, 784), np.array(labels, np.int64), names)

    # ---- adapting -------------------------------------------------------------------------------------

    def _base_for(self, model: LoadedModel) -> LoadedModel:
        """The model to adapt: the current one, or the one it was adapted from (re-adapting starts over)."""
        if personalize.is_adapted(model.spec):
            if self._base is not None and model is not self._base:
                return self._base
            path = personalize.base_model_path(model.spec)
            if path is None:
                raise ModelFileError("the current model is adapted, and the model it was adapted from is missing "
                                     "or changed; choose a model to adapt in the Draw view")
            return LoadedModel.from_file(path)
        return model

    def _replay_digits(self) -> personalize.Replay:
        """The replay digits, read once (by a job: not on the UI thread, ~80 ms)."""
        self._replay = self._replay or personalize.load_replay()
        return self._replay

    def prepare(self) -> bool:
        """Start computing, in the background, what adapting the current model will need of the replay digits
        (the trunk's features; kept by ``personalize``), if My digits has digits and that model is known: the
        current one, or for an adapted one the model it was adapted from in this session. An Adapt click
        meanwhile waits for it rather than computing it twice. True if a job was started."""
        model = self.state.model
        if model is None or not any(s.count() for s in self.strips):
            return False
        base = model
        if personalize.is_adapted(model.spec):
            if self._base is None or model is self._base:
                return False            # its base is loaded from file when Adapt is pressed
            base = self._base
        current = self.preparer.current("prepare")
        if current is not None and current.info["base"] is base:
            return False
        try:
            personalize.check_adaptable(base.net)
        except personalize.AdaptError:
            return False                # Adapt will say why

        def work(job):
            personalize.replay_features(base.net, self._replay_digits(), should_stop=job.is_cancelled)

        self.preparer.start("prepare", work, base=base)
        return True

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.prepare()

    def start_adapt(self) -> bool:
        model, examples = self.state.model, self.examples()
        if model is None or len(examples) == 0:
            self.banner.show_message("No model is loaded: pick one in the Draw view first." if model is None else
                                     "My digits is empty: collect some digits in the Draw view first.", "warning")
            return False
        try:
            base = self._base_for(model)
        except ModelFileError as exc:
            self.banner.show_message(f"Cannot adapt: {exc}")
            return False
        self._base = base
        out_dir, settings = self.models_dir, self.settings
        out = out_dir / f"{base.name}-mine-{_dt.datetime.now().strftime('%Y%m%d-%H%M%S')}.npz"

        def work(job):
            replay = self._replay_digits()
            result = personalize.adapt(base.net, examples, replay=replay, settings=settings,
                                       progress=lambda done, total, what: job.report(what, done, total),
                                       should_stop=job.is_cancelled)
            spec = personalize.adapted_spec(result, base.spec, base.path, name=f"{base.name}-mine")
            if job.cancelled:
                raise personalize.AdaptCancelled()
            out_dir.mkdir(parents=True, exist_ok=True)
            save(result.net, out, spec, compress=False)
            return result, spec, out

        self.runner.start("adapt", work, base=base, examples=examples)
        self.status.setText(f"Adapting {base.name} to {len(examples)} digits…")
        self.panel.show_progress("features", 0, 1)
        self.banner.dismiss()
        return True

    def cancel_adapt(self) -> None:
        stopped = [kind for kind in ("adapt", "calibrate", "check") if self.runner.cancel(kind)]
        if stopped:
            self.status.setText("Cancelled; nothing was saved." if stopped[0] == "adapt" else "Cancelled.")
        self.progress.hide()

    def back_to_original(self) -> bool:
        model = self.state.model
        if model is None or not personalize.is_adapted(model.spec):
            return False
        try:
            base = self._base_for(model)
        except ModelFileError as exc:
            self.banner.show_message(str(exc))
            return False
        self.state.set_model(base)
        return True

    def _start_calibration(self, base: LoadedModel, adapted: LoadedModel, examples: personalize.Examples) -> None:
        """The adapted weights' own calibration, written beside the model file (see adapt_check)."""
        replay = self._replay

        def work(job):
            job.report("calibrating", 0, 1)
            cal = adapt_check.adapted_calibration(adapted.net, replay, examples, should_stop=job.is_cancelled)
            cal.save(calibration_path(adapted.path))
            return cal

        self.runner.start("calibrate", work, base=base, adapted=adapted, examples=examples)

    def _start_check(self, base: LoadedModel, adapted: LoadedModel, examples: personalize.Examples) -> None:
        replay, cache, settings = self._replay, self._mnist_base, self.settings
        key = str(base.path)

        def work(job):
            check, spec = adapt_check.check_and_record(
                base.net, adapted.net, adapted.spec, adapted.path, examples, replay=replay, settings=settings,
                folds=CV_FOLDS, mnist_before=cache.get(key) if base.path else None, report=job.report,
                should_stop=job.is_cancelled)
            if check.mnist_before is not None:
                cache[key] = check.mnist_before
            return check, spec

        self.runner.start("check", work, base=base, examples=examples, adapted=adapted)

    def _on_runner_busy_changed(self, _busy: bool) -> None:
        # The jobs' NumPy work holds the GIL between calls; a short switch interval (default 5 ms) lets the
        # UI thread in between them, so the Draw view keeps drawing while the model adapts.
        busy = self.runner.busy or self.preparer.busy
        if busy and self._switch_interval is None:
            self._switch_interval = sys.getswitchinterval()
            sys.setswitchinterval(SWITCH_INTERVAL)
        elif not busy and self._switch_interval is not None:
            sys.setswitchinterval(self._switch_interval)
            self._switch_interval = None
        self._update_buttons()

    def _on_job_finished(self, job) -> None:
        self.progress.hide()
        if isinstance(job.error, (personalize.AdaptCancelled, CalibrationCancelled)):
            self.status.setText("Cancelled; nothing was saved." if job.kind == "adapt" else "Measuring was cancelled.")
            return
        if job.error is not None:
            self.status.setText("")
            what = {"adapt": "Adapting", "calibrate": "Calibrating the adapted model"}.get(job.kind, "Measuring")
            self.banner.show_message(f"{what} failed: {job.error}")
            return
        if job.kind == "adapt":
            result, spec, out = job.result
            loaded = LoadedModel.from_network(result.net, spec, out)
            self.state.set_model(loaded)
            self.status.setText(f"Adapted {job.info['base'].name} to {result.n_examples} digits in "
                                f"{result.seconds:.1f} s; saved as {out.name} and selected in the Draw view. "
                                "Measuring what it did…")
            self.adapted.emit(loaded)
            self._start_calibration(job.info["base"], loaded, job.info["examples"])
        elif job.kind == "calibrate":
            self._reselect(job.info["adapted"], job.info["adapted"].spec)
            self._start_check(job.info["base"], job.info["adapted"], job.info["examples"])
        else:
            check, spec = job.result
            self._reselect(job.info["adapted"], spec)
            self.last_check = check
            self.panel.show_check(check, job.info["examples"])
            self.status.setText(self.status.text().replace(" Measuring what it did…", ""))
            self.checked.emit(check)

    def _is_adapted_current(self, adapted: LoadedModel) -> bool:
        model = self.state.model
        return model is not None and model.path == adapted.path

    def _reselect(self, adapted: LoadedModel, spec: dict) -> None:
        """The adapted model, now with its calibration file or measured accuracy, made current again (a new
        LoadedModel: the Draw view looks its calibration up and the picker shows the accuracy), if the
        user has not switched to another model meanwhile."""
        if self._is_adapted_current(adapted):
            self.state.set_model(LoadedModel.from_network(adapted.net, spec, adapted.path))

    # ---- state ------------------------------------------------------------------------------------------

    def _on_state_model_changed(self, model: LoadedModel | None) -> None:
        self.panel.show_model(model)
        self._update_buttons()
        self._prepare_timer.start()     # a while after start-up or a change of model, if My digits has digits

    def _update_buttons(self) -> None:
        busy = self.runner.busy
        model = self.state.model
        has = any(s.count() for s in self.strips)
        self.adapt_button.setEnabled(not busy and model is not None and has)
        self.cancel_button.setEnabled(busy)
        self.back_button.setEnabled(model is not None and personalize.is_adapted(model.spec))
        self.delete_button.setEnabled(bool(self.selected_paths()))
        self.undo_button.setEnabled(bool(self._undo))

    def shutdown(self) -> None:
        self.preparer.shutdown()
        self.runner.shutdown()
