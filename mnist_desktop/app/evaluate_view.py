"""The Evaluate view: how good is the current model on the 10,000 MNIST test digits, where does it go
wrong, how robust is it, and how does it compare with another model?

    header        the accuracy in large type, the count, the test set, a progress bar while evaluating
    Mistakes      the 10x10 confusion matrix (rows: true digit, columns: predicted; diagonal green,
                  mistakes red, both on a log scale so a single mistake shows), per-digit accuracy bars,
                  and a gallery of the test digits in the cell clicked (tooltips: the ten probabilities;
                  a click sends the digit to the Draw view)
    Robustness    sliders that damage the test digits (rotation, noise, stroke thickness, shift) with
                  the accuracy under that damage (recomputed in the background, debounced), sample
                  damaged digits, and accuracy against rotation angle (-60..60 degrees, on demand)
    Compare       a second model file on the same digits: both accuracies, and the digits one gets
                  right and the other wrong, both ways

Work and threads. Every pass over the test set is a job on the view's ``JobRunner`` (app/jobs.py) and
runs on a copy of the network: cancel checked between batches, progress and results delivered as
queued signals. A new model cancels the running jobs; whatever they still deliver is dropped. Results are kept in an ``evaluation.EvaluationCache`` keyed by model file (path, size,
modification time) and test set (folder and damage), so switching views or models back is instant.
Nothing is computed while the view is hidden; showing it catches up.

Test data is found like the command line finds it (``find_dataset``), starting with the folder the user
chose (QSettings ``data/dir``, which the Train view also writes); without it the view says so and offers
a "Choose folder…" button.

    view = EvaluateView(state, settings)
    view.digit_chosen.connect(lambda image, label: ...)     # (28, 28) float32 in [0, 1], true label
    view.select_cell(4, 9)                                  # the 4s read as 9s, in the gallery
    view.prepare_screenshot()                               # waits (bounded) for the evaluation
    view.shutdown()                                         # cancel the jobs, wait (bounded) for their threads
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QCoreApplication, QSettings, Qt, QTimer, Signal
from PySide6.QtWidgets import (QComboBox, QFileDialog, QGridLayout, QGroupBox, QHBoxLayout, QLabel, QProgressBar,
                               QPushButton, QStackedWidget, QTabWidget, QVBoxLayout, QWidget)

from mnist_desktop import evaluation, shipped
from mnist_desktop.app.evaluate_widgets import (THUMB_SCALE, AccuracyHeader, ConfusionMatrix, DigitGallery,
                                                LabelledSlider, PerClassChart, muted_label, title_label)
from mnist_desktop.app.jobs import Job, JobRunner
from mnist_desktop.app.state import K_DATA_DIR, MODEL_FILTER, AppState, LoadedModel, ModelFileError, setting
from mnist_desktop.app.style import (ACCENT, GRID_LINE, MUTED_TEXT, PLOT_BACKGROUND, PLOT_FOREGROUND, WRONG_COLOR,
                                     scaled_font)
from mnist_desktop.data import Dataset, DatasetError, find_dataset, load_dataset, search_path
from mnist_desktop.evaluation import Comparison, Damage, Evaluation, EvaluationCache, RotationCurve

DATASET = "mnist"
GALLERY_LIMIT = 240                  # thumbnails shown per gallery (a diagonal cell holds ~1,000)
ROTATION_ANGLES = tuple(range(-60, 61, 10))
EVAL_BATCH = 100                     # images per forward pass: a CNN's im2col columns stay in cache
EVAL_WORKERS = 2                     # threads (single-threaded BLAS each): both cores of a 2-core machine
DEBOUNCE_MS = 300                    # sliders: recompute once they rest this long
SAMPLES = 10                         # damaged digits shown under the sliders
OPEN_TEXT = "Open…"
NO_MODEL_TEXT = "No model loaded.\nOpen one with File › Open model… (Ctrl+M), or pick one in the Draw view."

# ---- the work (on a JobRunner's thread) ------------------------------------------------------------------


def _evaluate_work(net, data_dir, damage: Damage):
    """The work of one pass: load the test set (memoised by ``load_dataset``), damage it, evaluate.
    -> (Dataset, Evaluation or None if cancelled). Progress: job.report(done, total)."""
    def work(job: Job):
        ds = load_dataset(DATASET, data_dir, test_only=True)
        x = evaluation.damage(ds.x_test, damage)
        return ds, evaluation.evaluate(net, x, ds.y_test, batch_size=EVAL_BATCH, workers=EVAL_WORKERS,
                                       progress=job.report, should_stop=job.is_cancelled)
    return work


def _curve_work(net, data_dir):
    def work(job: Job):
        ds = load_dataset(DATASET, data_dir, test_only=True)
        return evaluation.rotation_curve(net, ds.x_test, ds.y_test, ROTATION_ANGLES, batch_size=EVAL_BATCH,
                                         workers=EVAL_WORKERS, progress=job.report, should_stop=job.is_cancelled)
    return work


def _error_text(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


# ---- the view ---------------------------------------------------------------------------------------------------


class EvaluateView(QWidget):
    """The current model on the MNIST test set. See the module docstring.

    Signals:
        digit_chosen(np.ndarray, int): a thumbnail was clicked: the (28, 28) float32 test digit and its
            true label (the main window shows it in the Draw view).
        evaluated(): the current model's accuracy, matrix and bars are shown (also from the cache).
        busy_changed(bool): a job started / all jobs ended.
    """

    digit_chosen = Signal(object, int)
    evaluated = Signal()
    busy_changed = Signal(bool)

    def __init__(self, state: AppState, settings: QSettings | None = None, *,
                 cache: EvaluationCache | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.settings = settings
        self.cache = cache if cache is not None else EvaluationCache()
        self._model: LoadedModel | None = None
        self._data: Dataset | None = None
        self._folder: Path | None = None
        self._evaluation: Evaluation | None = None
        self._damaged: tuple[Damage, Evaluation] | None = None
        self._curves: dict = {}
        self._other: LoadedModel | None = None
        self._other_eval: Evaluation | None = None
        self._comparison: Comparison | None = None
        self._cell: tuple[int, int] | None = None
        self._error: str | None = None
        self.jobs = JobRunner(self, name="evaluate")
        self.jobs.progressed.connect(self._on_job_progressed)
        self.jobs.finished.connect(self._on_job_finished)
        self.jobs.busy_changed.connect(self.busy_changed)

        self.header = AccuracyHeader()
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self._build_mistakes_tab(), "Mistakes")
        self.tabs.addTab(self._build_robustness_tab(), "Robustness")
        self.tabs.addTab(self._build_compare_tab(), "Compare models")
        content = QWidget()
        cl = QVBoxLayout(content)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.addWidget(self.header)
        cl.addWidget(self.tabs, 1)

        ## no model; no data
        self.hint = QLabel(NO_MODEL_TEXT)
        self.hint.setAlignment(Qt.AlignCenter)
        self.hint.setWordWrap(True)
        self.hint.setFont(scaled_font(self.font(), 1.4))
        self.hint.setStyleSheet(f"color: {MUTED_TEXT};")
        self.outer = QStackedWidget()
        self.outer.addWidget(self.hint)
        self.outer.addWidget(self._build_missing_page())
        self.outer.addWidget(content)
        self.content = content
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 6)
        layout.addWidget(self.outer)

        self._damage_timer = QTimer(self)
        self._damage_timer.setSingleShot(True)
        self._damage_timer.setInterval(DEBOUNCE_MS)
        self._damage_timer.timeout.connect(self._update_damage)

        self.matrix.cell_clicked.connect(self.select_cell)
        for gallery in (self.gallery, self.samples, self.only_a_gallery, self.only_b_gallery):
            gallery.digit_clicked.connect(lambda i, g=gallery: self._on_gallery_digit_clicked(g, i))
        for s in self.sliders.values():
            s.changed.connect(self._on_slider_changed)
        self.reset_button.clicked.connect(self.reset_damage)
        self.curve_button.clicked.connect(self.compute_rotation_curve)
        self.compare_picker.activated.connect(self._on_compare_picker_activated)
        self.choose_button.clicked.connect(self.ask_data_dir)
        self.tabs.currentChanged.connect(lambda _i: self.refresh())
        self.state.model_changed.connect(self._on_state_model_changed)
        self._populate_compare_picker()
        self._on_state_model_changed(self.state.model)

    # ---- building ----------------------------------------------------------------------------------------

    def _build_mistakes_tab(self) -> QWidget:
        self.matrix = ConfusionMatrix()
        self.matrix.setToolTip("")
        matrix_box = QGroupBox("Confusion matrix: which digit was read as which")
        ml = QVBoxLayout(matrix_box)
        ml.addWidget(self.matrix, 1)
        ml.addWidget(muted_label("Green: read correctly; red: mistakes (darker = more, on a log scale so single "
                            "mistakes show). Click a cell to see its digits."))
        self.per_class = PerClassChart()
        self.per_class.setFixedHeight(150)
        per_box = QGroupBox("Accuracy per true digit (%)")
        QVBoxLayout(per_box).addWidget(self.per_class)
        self.gallery_title = title_label("")
        self.gallery_title.setWordWrap(True)
        self.gallery = DigitGallery()
        self.gallery_note = muted_label()
        gallery_box = QGroupBox("The digits in the selected cell")
        gl = QVBoxLayout(gallery_box)
        gl.addWidget(self.gallery_title)
        gl.addWidget(self.gallery, 1)
        gl.addWidget(self.gallery_note)
        right = QVBoxLayout()
        right.addWidget(per_box)
        right.addWidget(gallery_box, 1)
        tab = QWidget()
        layout = QHBoxLayout(tab)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addWidget(matrix_box, 5)
        layout.addLayout(right, 4)
        return tab

    def _build_robustness_tab(self) -> QWidget:
        tips = {
            "rotate": "Turn every test digit about its centre (positive: counter-clockwise)",
            "noise": "Add Gaussian noise to every pixel (pixels are 0 = black to 1 = white)",
            "thickness": "Thicker strokes (grey dilation, > 0) or thinner (erosion, < 0); 1 = one 3×3 step",
            "shift": "Move every digit this many pixels right, left, up or down (chosen per digit)",
        }
        self.sliders = {
            "rotate": LabelledSlider("Rotation", -60, 60, 5, "{:+.0f}°", tips["rotate"]),
            "noise": LabelledSlider("Noise σ", 0, 0.8, 0.05, "{:.2f}", tips["noise"]),
            "thickness": LabelledSlider("Thickness", -2, 2, 0.25, "{:+.2f}", tips["thickness"]),
            "shift": LabelledSlider("Shift", 0, 8, 1, "{:.0f} px", tips["shift"]),
        }
        grid = QGridLayout()
        width = max(s.title.sizeHint().width() for s in self.sliders.values())
        for k, s in enumerate(self.sliders.values()):
            s.title.setMinimumWidth(width)
            grid.addWidget(s, k // 2, k % 2)
        grid.setHorizontalSpacing(24)
        self.reset_button = QPushButton("Undamaged")
        self.reset_button.setToolTip("Put every slider back to 0")
        self.damage_accuracy = QLabel("–")
        self.damage_accuracy.setFont(scaled_font(self.font(), 1.9, bold=True))
        self.damage_detail = QLabel()
        self.damage_detail.setTextFormat(Qt.RichText)
        self.damage_detail.setWordWrap(True)
        result_row = QHBoxLayout()
        result_row.addWidget(self.damage_accuracy)
        result_row.addSpacing(8)
        result_row.addWidget(self.damage_detail, 1)
        result_row.addWidget(self.reset_button)
        self.samples = DigitGallery()
        self.samples.setFixedHeight(28 * THUMB_SCALE + 12)
        self.samples.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.samples.setVerticalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        damage_box = QGroupBox("Damage the test digits")
        dl = QVBoxLayout(damage_box)
        dl.addLayout(grid)
        dl.addLayout(result_row)
        dl.addWidget(muted_label("The first test digits, damaged like this:"))
        dl.addWidget(self.samples)

        self.curve_plot = pg.PlotWidget(background=PLOT_BACKGROUND)
        item = self.curve_plot.getPlotItem()
        item.setMenuEnabled(False)
        item.hideButtons()
        item.setMouseEnabled(False, False)
        item.showGrid(x=True, y=True, alpha=0.2)
        item.setLabel("bottom", "rotation (degrees, counter-clockwise)")
        item.setLabel("left", "accuracy (%)")
        item.setXRange(ROTATION_ANGLES[0] - 3, ROTATION_ANGLES[-1] + 3, padding=0)
        item.setYRange(-3, 103, padding=0)          # room for the 0 and 100 labels
        item.getAxis("left").setTicks([[(v, str(v)) for v in range(0, 101, 20)]])
        item.getAxis("bottom").setTicks([[(a, f"{a:+d}" if a else "0") for a in ROTATION_ANGLES]])
        for name in ("bottom", "left"):
            item.getAxis(name).setPen(pg.mkPen(PLOT_FOREGROUND))
            item.getAxis(name).setTextPen(pg.mkPen(PLOT_FOREGROUND))
        self.curve = item.plot([], [], pen=pg.mkPen(ACCENT, width=2), symbol="o", symbolSize=7,
                               symbolBrush=ACCENT, symbolPen=None)
        self.curve_marker = pg.InfiniteLine(pos=0, angle=90, pen=pg.mkPen(GRID_LINE, style=Qt.DashLine))
        item.addItem(self.curve_marker)
        self.curve_hint = pg.TextItem("", color=MUTED_TEXT, anchor=(0.5, 0.5))
        self.curve_hint.setPos(0, 50)
        item.addItem(self.curve_hint)
        self.curve_button = QPushButton("Compute accuracy vs rotation")
        self.curve_button.setToolTip(f"Evaluate the test set turned {ROTATION_ANGLES[0]}° to "
                                     f"{ROTATION_ANGLES[-1]}° in 10° steps ({len(ROTATION_ANGLES)} passes)")
        self.curve_progress = QProgressBar()
        self.curve_progress.setFormat("%p%")
        self.curve_progress.setMaximumWidth(260)
        self.curve_progress.hide()
        self.curve_note = muted_label()
        curve_row = QHBoxLayout()
        curve_row.addWidget(self.curve_button)
        curve_row.addWidget(self.curve_progress, 1)
        curve_row.addWidget(self.curve_note, 2)
        curve_box = QGroupBox("Accuracy against rotation")
        cl = QVBoxLayout(curve_box)
        cl.addLayout(curve_row)
        cl.addWidget(self.curve_plot, 1)

        tab = QWidget()
        layout = QVBoxLayout(tab)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addWidget(damage_box)
        layout.addWidget(curve_box, 1)
        return tab

    def _build_compare_tab(self) -> QWidget:
        self.compare_picker = QComboBox()
        self.compare_picker.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.compare_picker.setMinimumContentsLength(30)
        self.compare_picker.setPlaceholderText("Choose a second model…")
        self.compare_picker.setToolTip("A model file to compare with the current model on the same test digits")
        self.compare_progress = QProgressBar()
        self.compare_progress.setFormat("evaluating %v of %m digits")
        self.compare_progress.setMaximumWidth(300)
        self.compare_progress.hide()
        picker_row = QHBoxLayout()
        picker_row.addWidget(QLabel("Compare the current model with"))
        picker_row.addWidget(self.compare_picker, 1)
        picker_row.addWidget(self.compare_progress)
        self.compare_a = QLabel()
        self.compare_b = QLabel()
        for label in (self.compare_a, self.compare_b):
            label.setTextFormat(Qt.RichText)
            label.setWordWrap(True)
        scores = QHBoxLayout()
        scores.addWidget(self.compare_a, 1)
        scores.addWidget(self.compare_b, 1)
        self.compare_summary = muted_label()
        self.only_a_title = title_label("")
        self.only_b_title = title_label("")
        self.only_a_gallery = DigitGallery()
        self.only_b_gallery = DigitGallery()
        galleries = QHBoxLayout()
        for title, gallery in ((self.only_a_title, self.only_a_gallery), (self.only_b_title, self.only_b_gallery)):
            col = QVBoxLayout()
            col.addWidget(title)
            col.addWidget(gallery, 1)
            galleries.addLayout(col, 1)
        tab = QWidget()
        layout = QVBoxLayout(tab)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addLayout(picker_row)
        layout.addLayout(scores)
        layout.addWidget(self.compare_summary)
        layout.addLayout(galleries, 1)
        return tab

    def _build_missing_page(self) -> QWidget:
        self.missing_label = QLabel()
        self.missing_label.setWordWrap(True)
        self.missing_label.setTextFormat(Qt.RichText)
        self.missing_label.setAlignment(Qt.AlignCenter)
        self.missing_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.missing_label.setFont(scaled_font(self.font(), 1.15))
        self.choose_button = QPushButton("Choose folder…")
        self.choose_button.setToolTip("A folder holding the four MNIST files (train-images-idx3-ubyte.gz, …)")
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.addStretch(1)
        layout.addWidget(self.missing_label)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.choose_button)
        row.addStretch(1)
        layout.addLayout(row)
        layout.addStretch(2)
        return page

    # ---- public -----------------------------------------------------------------------------------------------

    @property
    def evaluation(self) -> Evaluation | None:
        """The current model's evaluation on the undamaged test set, once shown."""
        return self._evaluation

    @property
    def dataset(self) -> Dataset | None:
        return self._data

    @property
    def busy(self) -> bool:
        return self.jobs.busy

    @property
    def selected_cell(self) -> tuple[int, int] | None:
        return self._cell

    @property
    def damaged(self) -> tuple[Damage, Evaluation] | None:
        """(damage, its evaluation) shown in the Robustness tab, or None (undamaged or not computed yet)."""
        return self._damaged

    @property
    def comparison(self) -> Comparison | None:
        return self._comparison

    def rotation_curve(self) -> RotationCurve | None:
        """The accuracy-vs-rotation curve of the current model, once computed."""
        return self._curves.get(self._curve_key())

    def data_dir(self) -> str | None:
        """The folder chosen for MNIST (QSettings ``data/dir``), or None."""
        return setting(self.settings, K_DATA_DIR, str, None) or None

    def set_data_dir(self, folder: str) -> None:
        """Use MNIST from ``folder`` (remembered in QSettings ``data/dir``) and evaluate again."""
        if self.settings is not None:
            self.settings.setValue(K_DATA_DIR, str(folder))
        self._data, self._folder = None, None
        self._reset_results()
        self.refresh()

    def ask_data_dir(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder with the MNIST files", self.data_dir() or str(Path.home()))
        if folder:
            self.set_data_dir(folder)

    def current_damage(self) -> Damage:
        return Damage(**{k: s.value for k, s in self.sliders.items()})

    def set_damage(self, d: Damage) -> None:
        """Move the sliders to ``d`` (the accuracy follows after the debounce, or at once with
        ``_update_damage``)."""
        for k, s in self.sliders.items():
            s.set_value(getattr(d, k))

    def reset_damage(self) -> None:
        self.set_damage(Damage())

    def select_cell(self, true: int, predicted: int) -> None:
        """Show the test digits of one confusion-matrix cell in the gallery."""
        self._cell = (int(true), int(predicted))
        self.matrix.set_selected(self._cell)
        self._show_gallery()

    def gallery_indices(self) -> np.ndarray:
        """The test-set indices shown in the cell gallery (at most GALLERY_LIMIT)."""
        return self.gallery.indices

    def compare_with(self, path) -> bool:
        """Load ``path`` as the second model and compare; False (message shown) if it cannot be read."""
        try:
            other = LoadedModel.from_file(path)
        except ModelFileError as exc:
            self.compare_summary.setText(f"<span style='color:{WRONG_COLOR}'>Could not open the model: {exc}</span>")
            return False
        self._add_compare_choice(Path(path).resolve(), other.label)
        self._other, self._other_eval, self._comparison = other, None, None
        self.refresh()
        return True

    def refresh(self) -> None:
        """Bring what is shown up to date (starting background work where results are missing). While
        the view is hidden only the state is recorded; showing it calls this."""
        if not self.isVisible():
            return
        if self._model is None:
            self.outer.setCurrentWidget(self.hint)
            return
        if self._folder is None:
            self._folder = find_dataset(DATASET, self.data_dir())
        if self._folder is None:
            self._show_missing()
            return
        self.outer.setCurrentWidget(self.content)
        if self._evaluation is None:
            self._evaluation = self.cache.get(self._model.path, self._test_key(Damage()))
            if self._evaluation is not None and self._data is None:
                self._data = load_dataset(DATASET, self.data_dir(), test_only=True)   # memoised: the job loaded it
            if self._evaluation is not None:
                self._show_evaluation()
        if self._evaluation is None:
            if self.jobs.current("main") is None and self._error is None:
                self._start("main", _evaluate_work(self._model.net.copy(), self.data_dir(), Damage()),
                            path=self._model.path)
            self._show_waiting()
            return
        tab = self.tabs.currentIndex()
        if tab == 1:
            self._update_damage()
            self._show_curve()
        elif tab == 2:
            self._update_comparison()

    def prepare_screenshot(self, timeout: float = 60.0) -> None:
        """Wait (at most ``timeout`` seconds) until the current model's evaluation is shown, and make
        sure a cell is selected so the gallery is not empty (``run_app --screenshot``)."""
        self.refresh()
        self.jobs.wait_idle(timeout)
        if self._evaluation is not None and self._cell is None:
            self.select_cell(*self._default_cell())
        QCoreApplication.processEvents()

    def shutdown(self, timeout: float = 10.0) -> None:
        """Cancel running jobs and wait (at most ``timeout`` seconds) for their threads (closing, quit)."""
        self.jobs.shutdown(timeout)

    # ---- events -----------------------------------------------------------------------------------------------

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.refresh()

    def closeEvent(self, event) -> None:
        self.shutdown()
        super().closeEvent(event)

    def _on_state_model_changed(self, model: LoadedModel | None) -> None:
        self._model = model
        self._reset_results()
        self.refresh()

    def _reset_results(self) -> None:
        """A new model or test set: cancel everything running, forget what was shown."""
        self.jobs.cancel_all()                # their threads stop at the next batch; results dropped
        self._evaluation, self._damaged, self._comparison, self._other_eval = None, None, None, None
        self._cell, self._error = None, None
        self.header.progress.hide()
        self.curve_progress.hide()
        self.compare_progress.hide()
        self.curve_button.setEnabled(True)

    def _on_slider_changed(self, _value: float) -> None:
        self._show_samples()
        self._damage_timer.start()

    def _on_gallery_digit_clicked(self, gallery: DigitGallery, index: int) -> None:
        if self._data is None:
            return
        image = np.asarray(self._data.x_test[index], np.float32).reshape(28, 28)
        if gallery is self.samples:
            image = evaluation.damage(image.reshape(1, 784), self.current_damage()).reshape(28, 28)
        self.digit_chosen.emit(image.copy(), int(self._data.y_test[index]))

    def _on_compare_picker_activated(self, index: int) -> None:
        if self.compare_picker.itemText(index) == OPEN_TEXT:
            path, _ = QFileDialog.getOpenFileName(self, "Model to compare with", str(Path.home()),
                                                  MODEL_FILTER)
            if path:
                self.compare_with(path)
            else:
                self._select_compare_choice()
            return
        path = self.compare_picker.itemData(index)
        if path:
            self.compare_with(path)

    # ---- jobs ---------------------------------------------------------------------------------------------------

    def _test_key(self, d: Damage) -> tuple:
        return (DATASET, str(self._folder), d)

    def _model_key(self):
        return self.cache.key(self._model.path, self._test_key(Damage())) if self._model is not None else None

    def _curve_key(self):
        """Curves are kept per model file and test set; a model only in memory, per model object."""
        if self._model is None:
            return None
        return self._model_key() or ("memory", id(self._model.net), str(self._folder))

    def _start(self, kind: str, work: Callable, **info) -> Job:
        job = self.jobs.start(kind, work, **info)
        bar = self._progress_bar(kind)
        if bar is not None:
            bar.setRange(0, 1)
            bar.setValue(0)
            bar.show()
        if kind == "curve":
            self.curve_button.setEnabled(False)
        return job

    def _progress_bar(self, kind: str) -> QProgressBar | None:
        return {"main": self.header.progress, "curve": self.curve_progress, "compare": self.compare_progress}.get(kind)

    def _on_job_progressed(self, job: Job, values: tuple) -> None:
        done, total = values
        bar = self._progress_bar(job.kind)
        if bar is not None:
            bar.setRange(0, total)
            bar.setValue(done)
        elif job.kind == "damage":
            self.damage_detail.setText(f"<span style='color:{MUTED_TEXT}'>evaluating the damaged digits… "
                                       f"{100 * done // max(total, 1)}%</span>")

    def _on_job_finished(self, job: Job) -> None:
        """A current job ended (the runner drops cancelled ones and those for an old model)."""
        result = job.result
        bar = self._progress_bar(job.kind)
        if bar is not None:
            bar.hide()
        if job.kind == "curve":
            self.curve_button.setEnabled(True)
        if job.error is not None:
            self._show_error(job, job.error)
            return
        if result is None:
            return
        if job.kind == "curve":
            self._curves[job.info["key"]] = result
            self._show_curve()
            return
        ds, e = result
        if e is None:
            return
        self._data = ds
        if job.kind == "main":
            self.cache.put(job.info["path"], self._test_key(Damage()), e)
            self._evaluation = e
            self._show_evaluation()
            self.refresh()                          # what the other tab needs, now that the base is there
        elif job.kind == "damage":
            self.cache.put(job.info["path"], self._test_key(job.info["damage"]), e)
            if job.info["damage"] == self.current_damage():
                self._damaged = (job.info["damage"], e)
                self._show_damage()
        elif job.kind == "compare":
            self.cache.put(job.info["path"], self._test_key(Damage()), e)
            if self._other is not None and job.info["model"] is self._other:
                self._other_eval = e
                self._update_comparison()

    def _show_error(self, job: Job, exc: BaseException) -> None:
        error = _error_text(exc)
        if job.kind == "main":
            self._error = error
            if isinstance(exc, DatasetError):
                self._folder = None
                self._show_missing(str(exc))
                return
            self.header.detail.setText(f"<span style='color:{WRONG_COLOR}'>The evaluation failed: {error}</span>")
        elif job.kind == "damage":
            self.damage_detail.setText(f"<span style='color:{WRONG_COLOR}'>Failed: {error}</span>")
        elif job.kind == "curve":
            self.curve_note.setText(f"<span style='color:{WRONG_COLOR}'>Failed: {error}</span>")
        else:
            self.compare_summary.setText(f"<span style='color:{WRONG_COLOR}'>The second model could not be "
                                         f"evaluated: {error}</span>")

    # ---- robustness -------------------------------------------------------------------------------------------

    def _update_damage(self) -> None:
        """The accuracy under the sliders' damage: cached, or computed in the background."""
        self._damage_timer.stop()
        if self._evaluation is None or self._model is None:
            return
        self._show_samples()
        d = self.current_damage()
        if d.is_none:
            self.jobs.cancel("damage")
            self._damaged = None
            self._show_damage()
            return
        if self._damaged is not None and self._damaged[0] == d:
            self._show_damage()
            return
        cached = self.cache.get(self._model.path, self._test_key(d))
        if cached is not None:
            self._damaged = (d, cached)
            self._show_damage()
            return
        running = self.jobs.current("damage")
        if running is not None and running.info["damage"] == d:
            return
        self._damaged = None
        self._start("damage", _evaluate_work(self._model.net.copy(), self.data_dir(), d),
                    path=self._model.path, damage=d)
        self.damage_accuracy.setText("…")
        self.damage_detail.setText(f"<span style='color:{MUTED_TEXT}'>evaluating the damaged digits…</span>")

    def _show_damage(self) -> None:
        base = self._evaluation
        if base is None:
            return
        if self._damaged is None:
            self.damage_accuracy.setText(f"{100 * base.accuracy:.2f}%")
            self.damage_detail.setText(f"undamaged: {base.correct:,} of {base.n:,} right. Move a slider to "
                                       f"damage the digits.")
            return
        d, e = self._damaged
        drop = 100 * (e.accuracy - base.accuracy)
        color = WRONG_COLOR if drop < -0.5 else PLOT_FOREGROUND
        self.damage_accuracy.setText(f"{100 * e.accuracy:.2f}%")
        self.damage_detail.setText(f"{d.describe()}: {e.correct:,} of {e.n:,} right, "
                                   f"<b style='color:{color}'>{drop:+.2f} points</b> against undamaged "
                                   f"({100 * base.accuracy:.2f}%)")

    def _show_samples(self) -> None:
        if self._data is None:
            return
        n = min(SAMPLES, len(self._data.y_test))
        idx = np.arange(n)
        x = evaluation.damage(self._data.x_test[:n], self.current_damage())
        probs = self._model.net.predict_proba(x) if self._model is not None else np.full((n, 10), 0.1)
        self.samples.set_digits(idx, x.reshape(n, 28, 28), self._data.y_test[:n], probs,
                                notes=[f" ({self.current_damage().describe()})"] * n)

    def compute_rotation_curve(self) -> None:
        """Accuracy at -60..60 degrees, in the background (kept per model file and test set)."""
        if self._model is None or self._evaluation is None or self.jobs.current("curve"):
            return
        key = self._curve_key()
        if key in self._curves:
            self._show_curve()
            return
        self._start("curve", _curve_work(self._model.net.copy(), self.data_dir()), key=key)

    def _show_curve(self) -> None:
        curve = self._curves.get(self._curve_key())
        self.curve_marker.setValue(self.sliders["rotate"].value)
        if curve is None:
            self.curve.setData([], [])
            busy = self.jobs.current("curve") is not None
            self.curve_hint.setText("computing…" if busy else "Press “Compute accuracy vs rotation”")
            self.curve_note.setText(f"{len(ROTATION_ANGLES)} passes over the test set, in the background")
            return
        self.curve_hint.setText("")
        self.curve.setData(curve.angles, curve.accuracy * 100)
        worst = int(np.argmin(curve.accuracy))
        self.curve_note.setText(f"undamaged {100 * curve.accuracy[curve.angles == 0][0]:.1f}%; at "
                                f"{curve.angles[worst]:+.0f}°: {100 * curve.accuracy[worst]:.1f}%"
                                if (curve.angles == 0).any() else "")

    # ---- compare ------------------------------------------------------------------------------------------------

    def _populate_compare_picker(self) -> None:
        self.compare_picker.clear()
        for path in shipped.shipped_models():
            try:
                label = LoadedModel.from_file(path).label
            except ModelFileError:
                continue
            self.compare_picker.addItem(label, str(path))
        self.compare_picker.addItem(OPEN_TEXT)
        self.compare_picker.setCurrentIndex(-1)

    def _add_compare_choice(self, path: Path, label: str) -> None:
        i = self.compare_picker.findData(str(path))
        if i < 0:
            i = self.compare_picker.count() - 1          # before "Open…"
            self.compare_picker.insertItem(i, label, str(path))
        self.compare_picker.setCurrentIndex(i)

    def _select_compare_choice(self) -> None:
        path = self._other.path if self._other is not None else None
        self.compare_picker.setCurrentIndex(self.compare_picker.findData(str(path)) if path else -1)

    def _update_comparison(self) -> None:
        a = self._evaluation
        if a is None or self._model is None:
            return
        self.compare_a.setText(self._score_html("A · current", self._model, a))
        if self._other is None:
            self.compare_b.setText("")
            self.compare_summary.setText("Pick a second model to see which digits each one gets right and the "
                                         "other gets wrong.")
            for title, gallery in ((self.only_a_title, self.only_a_gallery), (self.only_b_title, self.only_b_gallery)):
                title.setText("")
                gallery.clear()
            return
        if self._other_eval is None:
            self._other_eval = self.cache.get(self._other.path, self._test_key(Damage()))
        b = self._other_eval
        self.compare_b.setText(self._score_html("B", self._other, b))
        if b is None:
            running = self.jobs.current("compare")
            if running is None or running.info["model"] is not self._other:
                self._start("compare", _evaluate_work(self._other.net.copy(), self.data_dir(), Damage()),
                            path=self._other.path, model=self._other)
            self.compare_summary.setText("evaluating the second model…")
            return
        c = self._comparison = evaluation.compare(a, b)
        self.compare_summary.setText(f"They disagree on {c.n_disagree:,} of {a.n:,} digits; both are wrong "
                                     f"on {c.both_wrong:,}. Hover a digit for both models' readings; click "
                                     f"to open it in the Draw view.")
        for title, gallery, idx, right, wrong, (er, ew) in (
                (self.only_a_title, self.only_a_gallery, c.only_a, "A", "B", (a, b)),
                (self.only_b_title, self.only_b_gallery, c.only_b, "B", "A", (b, a))):
            shown = "" if len(idx) <= GALLERY_LIMIT else f" (the first {GALLERY_LIMIT})"
            title.setText(f"{right} right, {wrong} wrong: {len(idx):,} digits{shown}")
            notes = [f"<br>{wrong} reads it as <b style='color:{WRONG_COLOR}'>{int(ew.predicted[i])}</b> "
                     f"({100 * ew.probabilities[i].max():.1f}%)" for i in idx[:GALLERY_LIMIT]]
            self._fill_gallery(gallery, idx, er, notes)

    @staticmethod
    def _score_html(tag: str, model: LoadedModel, e: Evaluation | None) -> str:
        acc = f"<b style='font-size:x-large'>{100 * e.accuracy:.2f}%</b> ({e.correct:,} right)" if e else "…"
        return f"<b>{tag}</b>: {model.name} <span style='color:{MUTED_TEXT}'>{model.description}</span><br>{acc}"

    # ---- showing ----------------------------------------------------------------------------------------------

    def _show_missing(self, detail: str | None = None) -> None:
        chosen = self.data_dir()
        places = search_path(DATASET, chosen)
        where = f" in <b>{chosen}</b>" if chosen else ""
        self.missing_label.setText(
            f"<p><b>The MNIST test digits were not found{where}.</b></p>"
            "<p>Choose the folder that holds the four MNIST files (t10k-images-idx3-ubyte.gz, …), or download "
            "them with the <b>Download</b> button in the <b>Train</b> view "
            "(or <code>mnist-desktop download</code>).</p>"
            + f"<p style='color:{MUTED_TEXT}'>{detail or 'Looked in: ' + '; '.join(map(str, places))}</p>")
        self.outer.setCurrentIndex(1)

    def _show_waiting(self) -> None:
        self.header.accuracy.setText("…")
        self.header.detail.setText(f"<b>{self._model.name}</b> <span style='color:{MUTED_TEXT}'>"
                                   f"{self._model.description}</span><br>evaluating on the MNIST test set…")
        self.matrix.set_matrix(None)
        self.matrix.set_selected(None)
        self.per_class.set_accuracy(None)
        self.gallery.clear()
        self.gallery_title.setText("")
        self.gallery_note.setText("")

    def _show_evaluation(self) -> None:
        e = self._evaluation
        self.header.accuracy.setText(f"{100 * e.accuracy:.2f}%")
        self.header.accuracy.setStyleSheet(f"color: {ACCENT};")
        self.header.detail.setText(
            f"<b>{e.correct:,}</b> of <b>{e.n:,}</b> MNIST test digits read correctly by <b>{self._model.name}</b> "
            f"<span style='color:{MUTED_TEXT}'>({self._model.description}; test set in {self._folder})</span>")
        self.matrix.set_matrix(e.confusion)
        self.per_class.set_accuracy(e.per_class)
        if self._cell is None:
            self._cell = self._default_cell()
        self.matrix.set_selected(self._cell)
        self._show_gallery()
        self._show_damage()
        self.evaluated.emit()

    def _default_cell(self) -> tuple[int, int]:
        """The most frequent mistake (or the 0s read as 0 for a perfect model)."""
        top = self._evaluation.top_confusions(1)
        return (top[0][0], top[0][1]) if top else (0, 0)

    def _show_gallery(self) -> None:
        e = self._evaluation
        if e is None or self._cell is None or self._data is None:
            return
        t, p = self._cell
        idx = evaluation.cell_indices(e, t, p)
        what = f"{t}s read as {p}" if t != p else f"{t}s read correctly as {t}"
        self.gallery_title.setText(f"{what}: {len(idx):,} digit{'s' if len(idx) != 1 else ''}")
        self._fill_gallery(self.gallery, idx, e)
        more = (f"The first {GALLERY_LIMIT} of {len(idx):,} are shown. " if len(idx) > GALLERY_LIMIT else "")
        self.gallery_note.setText(more + "Hover a digit for the network's ten probabilities; click it to open it "
                                  "in the Draw view." if len(idx) else "No test digit falls in this cell.")

    def _fill_gallery(self, gallery: DigitGallery, idx: np.ndarray, e: Evaluation, notes=None) -> None:
        idx = idx[:GALLERY_LIMIT]
        gallery.set_digits(idx, self._data.x_test[idx].reshape(-1, 28, 28), e.labels[idx], e.probabilities[idx], notes)
