"""The Evaluate view: how good is the current model on the 10,000 MNIST test digits, where does it go
wrong, how robust is it, and how does it compare with another model?

    header        the accuracy in large type, the count, the test set, a progress bar while evaluating
    Mistakes      the confusion matrix, per-digit accuracy and the digits of the cell clicked
                  (evaluate_mistakes.py; a click on a digit sends it to the Draw view)
    Robustness    sliders that damage the test digits and the accuracy under that damage, accuracy
                  against rotation angle (evaluate_robustness.py)
    Compare       a second model file on the same digits (evaluate_compare.py)

This module holds what the tabs share: the current model, the test set, the cache and the jobs. Every pass
over the test set is a job on the view's ``JobRunner`` (app/jobs.py) and runs on a copy of the network:
cancel checked between batches, progress and results delivered as queued signals. A new model cancels the
running jobs; whatever they still deliver is dropped. Results are kept in an ``evaluation.EvaluationCache``
keyed by model file (path, size, modification time) and test set (folder and damage), so switching views
or models back is instant. Nothing is computed while the view is hidden; showing it catches up.

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

import numpy as np
from PySide6.QtCore import QCoreApplication, QSettings, Signal
from PySide6.QtWidgets import QFileDialog, QProgressBar, QStackedWidget, QTabWidget, QVBoxLayout, QWidget

from mnist_desktop import evaluation
from mnist_desktop.app.evaluate_compare import CompareTab
from mnist_desktop.app.evaluate_mistakes import MistakesTab
from mnist_desktop.app.evaluate_robustness import ROTATION_ANGLES, SAMPLES, RobustnessTab  # noqa: F401 (tests)
from mnist_desktop.app.evaluate_widgets import (GALLERY_LIMIT, AccuracyHeader, DigitGallery,  # noqa: F401 (tests)
                                                MissingDataPage)
from mnist_desktop.app.jobs import Job, JobView
from mnist_desktop.app.reflow import scrolling_page
from mnist_desktop.app.state import K_DATA_DIR, AppState, LoadedModel, setting
from mnist_desktop.app.style import ACCENT, MUTED_TEXT, WRONG_COLOR
from mnist_desktop.app.widgets import no_model_hint
from mnist_desktop.data import Dataset, DatasetError, find_dataset, load_dataset, search_path
from mnist_desktop.evaluation import Comparison, Damage, Evaluation, EvaluationCache, RotationCurve

DATASET = "mnist"
EVAL_BATCH = 100                     # images per forward pass: a CNN's im2col columns stay in cache
EVAL_WORKERS = 2                     # threads (single-threaded BLAS each): both cores of a 2-core machine

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


def _curve_work(net, data_dir, angles):
    def work(job: Job):
        ds = load_dataset(DATASET, data_dir, test_only=True)
        return evaluation.rotation_curve(net, ds.x_test, ds.y_test, angles, batch_size=EVAL_BATCH,
                                         workers=EVAL_WORKERS, progress=job.report, should_stop=job.is_cancelled)
    return work


def _error_text(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


# ---- the view ---------------------------------------------------------------------------------------------------


class EvaluateView(JobView):
    """The current model on the MNIST test set. See the module docstring.

    Signals:
        digit_chosen(np.ndarray, int): a thumbnail was clicked: the (28, 28) float32 test digit and its
            true label (the main window shows it in the Draw view).
        evaluated(): the current model's accuracy, matrix and bars are shown (also from the cache).
        busy_changed(bool): a job started / all jobs ended.
    """

    digit_chosen = Signal(object, int)
    evaluated = Signal()

    def __init__(self, state: AppState, settings: QSettings | None = None, *,
                 cache: EvaluationCache | None = None, parent: QWidget | None = None) -> None:
        super().__init__("evaluate", parent)
        self.state = state
        self.settings = settings
        self.cache = cache if cache is not None else EvaluationCache()
        self._model: LoadedModel | None = None
        self._data: Dataset | None = None
        self._folder: Path | None = None
        self._evaluation: Evaluation | None = None
        self._error: str | None = None

        self.header = AccuracyHeader()
        self.mistakes = MistakesTab()
        self.robustness = RobustnessTab(self)
        self.compare = CompareTab(self)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.mistakes, "Mistakes")
        self.tabs.addTab(self.robustness, "Robustness")
        self.tabs.addTab(self.compare, "Compare models")
        self.content = QWidget()
        cl = QVBoxLayout(self.content)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.addWidget(self.header)
        cl.addWidget(self.tabs, 1)
        self.hint = no_model_hint()
        self.outer = QStackedWidget()
        self.outer.addWidget(self.hint)
        self.missing = MissingDataPage()
        self.missing_label, self.choose_button = self.missing.label, self.missing.choose_button
        self.outer.addWidget(self.missing)
        self.outer.addWidget(self.content)
        layout = QVBoxLayout(scrolling_page(self))   # a small window scrolls the view
        layout.setContentsMargins(6, 4, 6, 6)
        layout.addWidget(self.outer)
        self._alias_tab_widgets()

        self.mistakes.matrix.cell_clicked.connect(self.select_cell)
        for gallery in (self.gallery, self.samples, self.only_a_gallery, self.only_b_gallery):
            gallery.digit_clicked.connect(lambda i, g=gallery: self._on_gallery_digit_clicked(g, i))
        self.choose_button.clicked.connect(self.ask_data_dir)
        self.tabs.currentChanged.connect(lambda _i: self.refresh())
        self.state.model_changed.connect(self._on_state_model_changed)
        self._on_state_model_changed(self.state.model)

    def _alias_tab_widgets(self) -> None:
        """The tabs' widgets under the view's own names (scripts and tests reach them through the view)."""
        m, r, c = self.mistakes, self.robustness, self.compare
        self.matrix, self.per_class, self.gallery = m.matrix, m.per_class, m.gallery
        self.gallery_title, self.gallery_note = m.gallery_title, m.gallery_note
        self.sliders, self.reset_button, self.samples = r.sliders, r.reset_button, r.samples
        self.damage_accuracy, self.damage_detail, self._damage_timer = r.damage_accuracy, r.damage_detail, r.timer
        self.curve, self.curve_hint, self.curve_note = r.curve, r.curve_hint, r.curve_note
        self.curve_button, self.curve_progress = r.curve_button, r.curve_progress
        self.compare_picker, self.compare_progress, self.compare_summary = (c.compare_picker, c.compare_progress,
                                                                            c.compare_summary)
        self.compare_a, self.compare_b = c.compare_a, c.compare_b
        self.only_a_title, self.only_a_gallery = c.only_a_title, c.only_a_gallery
        self.only_b_title, self.only_b_gallery = c.only_b_title, c.only_b_gallery

    # ---- what the tabs share ------------------------------------------------------------------------------

    @property
    def model(self) -> LoadedModel | None:
        return self._model

    @property
    def evaluation(self) -> Evaluation | None:
        """The current model's evaluation on the undamaged test set, once shown."""
        return self._evaluation

    @property
    def dataset(self) -> Dataset | None:
        return self._data

    def data_dir(self) -> str | None:
        """The folder chosen for MNIST (QSettings ``data/dir``), or None."""
        return setting(self.settings, K_DATA_DIR, str, None) or None

    def cached_evaluation(self, model: LoadedModel, d: Damage) -> Evaluation | None:
        return self.cache.get(model.path, self._test_key(d))

    def curve_key(self):
        """Curves are kept per model file and test set; a model only in memory, per model object."""
        if self._model is None:
            return None
        key = self.cache.key(self._model.path, self._test_key(Damage()))
        return key or ("memory", id(self._model.net), str(self._folder))

    def start_pass(self, kind: str, model: LoadedModel, d: Damage) -> Job:
        """Evaluate ``model`` on the test set damaged by ``d``, as the job ``kind`` ("main", "damage",
        "compare"; job.info: model, path, damage); the result lands in the cache and goes to the tab that
        asked."""
        return self._start(kind, _evaluate_work(model.net.copy(), self.data_dir(), d), model=model,
                           path=model.path, damage=d)

    def start_curve(self, model: LoadedModel, angles, key) -> Job:
        return self._start("curve", _curve_work(model.net.copy(), self.data_dir(), angles), key=key)

    # ---- public -----------------------------------------------------------------------------------------------

    @property
    def selected_cell(self) -> tuple[int, int] | None:
        return self.mistakes.cell

    @property
    def damaged(self) -> tuple[Damage, Evaluation] | None:
        """(damage, its evaluation) shown in the Robustness tab, or None (undamaged or not computed yet)."""
        return self.robustness.damaged

    @property
    def comparison(self) -> Comparison | None:
        return self.compare.comparison

    def rotation_curve(self) -> RotationCurve | None:
        """The accuracy-vs-rotation curve of the current model, once computed."""
        return self.robustness.rotation_curve()

    def compute_rotation_curve(self) -> None:
        self.robustness.compute_rotation_curve()

    def current_damage(self) -> Damage:
        return self.robustness.current_damage()

    def set_damage(self, d: Damage) -> None:
        """Move the sliders to ``d`` (the accuracy follows after the debounce, or at once with
        ``_update_damage``)."""
        self.robustness.set_damage(d)

    def reset_damage(self) -> None:
        self.robustness.reset_damage()

    def _update_damage(self) -> None:
        self.robustness.update_damage()

    def select_cell(self, true: int, predicted: int) -> None:
        """Show the test digits of one confusion-matrix cell in the gallery."""
        self.mistakes.select_cell(true, predicted)

    def gallery_indices(self) -> np.ndarray:
        """The test-set indices shown in the cell gallery (at most GALLERY_LIMIT)."""
        return self.gallery.indices

    def compare_with(self, path) -> bool:
        """Load ``path`` as the second model and compare; False (message shown) if it cannot be read."""
        return self.compare.compare_with(path)

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
            self._evaluation = self.cached_evaluation(self._model, Damage())
            if self._evaluation is not None and self._data is None:
                self._data = load_dataset(DATASET, self.data_dir(), test_only=True)   # memoised: the job loaded it
            if self._evaluation is not None:
                self._show_evaluation()
        if self._evaluation is None:
            if self.jobs.current("main") is None and self._error is None:
                self.start_pass("main", self._model, Damage())
            self._show_waiting()
            return
        tab = self.tabs.currentWidget()
        if tab is self.robustness:
            self.robustness.update_damage()
            self.robustness.show_curve()
        elif tab is self.compare:
            self.compare.update_comparison()

    def prepare_screenshot(self, timeout: float = 60.0) -> None:
        """Wait (at most ``timeout`` seconds) until the current model's evaluation is shown, and make
        sure a cell is selected so the gallery is not empty (``run_app --screenshot``)."""
        self.refresh()
        self.jobs.wait_idle(timeout)
        if self._evaluation is not None and self.mistakes.cell is None:
            self.select_cell(*self.mistakes.default_cell())
        QCoreApplication.processEvents()

    # ---- events -----------------------------------------------------------------------------------------------

    def _on_state_model_changed(self, model: LoadedModel | None) -> None:
        self._model = model
        self._reset_results()
        self.refresh()

    def _reset_results(self) -> None:
        """A new model or test set: cancel everything running, forget what was shown."""
        self.jobs.cancel_all()                # their threads stop at the next batch; results dropped
        self._evaluation, self._error = None, None
        self.mistakes.clear()
        self.robustness.reset()
        self.compare.reset()
        self.header.progress.hide()

    def _on_gallery_digit_clicked(self, gallery: DigitGallery, index: int) -> None:
        if self._data is None:
            return
        if gallery is self.samples:
            image = self.robustness.damaged_digit(index)
        else:
            image = np.asarray(self._data.x_test[index], np.float32).reshape(28, 28)
        self.digit_chosen.emit(image.copy(), int(self._data.y_test[index]))

    # ---- jobs ---------------------------------------------------------------------------------------------------

    def _test_key(self, d: Damage) -> tuple:
        return (DATASET, str(self._folder), d)

    def _start(self, kind: str, work, **info) -> Job:
        job = self.jobs.start(kind, work, **info)
        bar = self._progress_bar(kind)
        if bar is not None:
            bar.setRange(0, 1)
            bar.setValue(0)
            bar.show()
        return job

    def _progress_bar(self, kind: str) -> QProgressBar | None:
        return {"main": self.header.progress, "curve": self.curve_progress, "compare": self.compare_progress}.get(kind)

    def _on_job_progressed(self, job: Job, values: tuple) -> None:
        done, total = values
        bar = self._progress_bar(job.kind)
        if bar is not None:
            bar.setRange(0, total)
            bar.setValue(done)
        else:
            self.robustness.on_job_progressed(job, done, total)

    def _on_job_finished(self, job: Job) -> None:
        """A current job ended (the runner drops cancelled ones and those for an old model)."""
        bar = self._progress_bar(job.kind)
        if bar is not None:
            bar.hide()
        if job.kind == "curve":
            self.robustness.on_curve_done(job)
        if job.error is not None:
            self._show_error(job, job.error)
            return
        if job.kind == "curve" or job.result is None or job.result[1] is None:
            return
        self._data, e = job.result
        self.cache.put(job.info["path"], self._test_key(job.info["damage"]), e)
        if job.kind == "main":
            self._evaluation = e
            self._show_evaluation()
            self.refresh()                          # what the other tab needs, now that the base is there
        elif job.kind == "damage":
            self.robustness.on_damage_evaluated(job.info["damage"], e)
        elif job.kind == "compare":
            self.compare.on_other_evaluated(job.info["model"], e)

    def _show_error(self, job: Job, exc: BaseException) -> None:
        error = _error_text(exc)
        if job.kind == "main":
            self._error = error
            if isinstance(exc, DatasetError):
                self._folder = None
                self._show_missing(str(exc))
                return
            self.header.detail.setText(f"<span style='color:{WRONG_COLOR}'>The evaluation failed: {error}</span>")
        elif job.kind in ("damage", "curve"):
            self.robustness.show_error(job, error)
        else:
            self.compare.show_error(error)

    # ---- showing ----------------------------------------------------------------------------------------------

    def _show_missing(self, detail: str | None = None) -> None:
        chosen = self.data_dir()
        self.missing.show_missing(chosen, search_path(DATASET, chosen), detail)
        self.outer.setCurrentIndex(1)

    def _show_waiting(self) -> None:
        self.header.accuracy.setText("…")
        self.header.detail.setText(f"<b>{self._model.name}</b> <span style='color:{MUTED_TEXT}'>"
                                   f"{self._model.description}</span><br>evaluating on the MNIST test set…")
        self.mistakes.clear()

    def _show_evaluation(self) -> None:
        e = self._evaluation
        self.header.accuracy.setText(f"{100 * e.accuracy:.2f}%")
        self.header.accuracy.setStyleSheet(f"color: {ACCENT};")
        self.header.detail.setText(
            f"<b>{e.correct:,}</b> of <b>{e.n:,}</b> MNIST test digits read correctly by <b>{self._model.name}</b> "
            f"<span style='color:{MUTED_TEXT}'>({self._model.description}; test set in {self._folder})</span>")
        if self._data is not None:
            self.mistakes.show_evaluation(e, self._data.x_test)
        self.robustness.show_damage()
        self.evaluated.emit()
