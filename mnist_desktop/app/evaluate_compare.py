"""The Evaluate view's Compare tab: a second model file on the same test digits: both accuracies, and the
digits one gets right and the other wrong, both ways.

    tab = CompareTab(view)            # view: EvaluateView (model, evaluation, dataset, cache, start_pass, ...)
    tab.compare_with("other.npz")     # False, with a message, if it cannot be read
    tab.comparison                    # evaluation.Comparison once both are evaluated
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QFileDialog, QHBoxLayout, QLabel, QProgressBar, QVBoxLayout, QWidget

from mnist_desktop import evaluation, shipped
from mnist_desktop.app.evaluate_widgets import DigitGallery, muted_label, title_label
from mnist_desktop.app.state import MODEL_FILTER, LoadedModel, ModelFileError, model_file_label
from mnist_desktop.app.style import MUTED_TEXT, WRONG_COLOR
from mnist_desktop.evaluation import Comparison, Damage, Evaluation

if TYPE_CHECKING:
    from mnist_desktop.app.evaluate_view import EvaluateView

OPEN_TEXT = "Open…"


class CompareTab(QWidget):
    """``other``: the second model (LoadedModel) or None; ``comparison``: the two evaluations compared."""

    def __init__(self, view: EvaluateView, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = view
        self.other: LoadedModel | None = None
        self.other_eval: Evaluation | None = None
        self.comparison: Comparison | None = None
        self._opened: list[tuple[Path, str]] = []      # model files opened here, offered again
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
        scores = QHBoxLayout()
        for label in (self.compare_a, self.compare_b):
            label.setTextFormat(Qt.RichText)
            label.setWordWrap(True)
            scores.addWidget(label, 1)
        self.compare_summary = muted_label()
        self.only_a_title, self.only_b_title = title_label(""), title_label("")
        self.only_a_gallery, self.only_b_gallery = DigitGallery(), DigitGallery()
        galleries = QHBoxLayout()
        for title, gallery in ((self.only_a_title, self.only_a_gallery), (self.only_b_title, self.only_b_gallery)):
            col = QVBoxLayout()
            col.addWidget(title)
            col.addWidget(gallery, 1)
            galleries.addLayout(col, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addLayout(picker_row)
        layout.addLayout(scores)
        layout.addWidget(self.compare_summary)
        layout.addLayout(galleries, 1)
        self.compare_picker.activated.connect(self._on_compare_picker_activated)
        self._populate_picker()

    def _current_path(self) -> Path | None:
        model = self.view.model
        return model.path.resolve() if model is not None and model.path is not None else None

    def _populate_picker(self) -> None:
        """The shipped models (labelled from their specs: no weights are loaded) and the files opened here,
        except the current model (comparing it with itself says nothing), then "Open…"."""
        self.compare_picker.clear()
        current = self._current_path()
        for path in shipped.shipped_models():
            if path.resolve() == current:
                continue
            try:
                label = model_file_label(path)
            except ModelFileError:
                continue
            self.compare_picker.addItem(label, str(path.resolve()))
        for path, label in self._opened:
            if path != current and self.compare_picker.findData(str(path)) < 0:
                self.compare_picker.addItem(label, str(path))
        self.compare_picker.addItem(OPEN_TEXT)
        self.compare_picker.setCurrentIndex(-1)

    def _add_choice(self, path: Path, label: str) -> None:
        if all(p != path for p, _ in self._opened):
            self._opened.append((path, label))
        i = self.compare_picker.findData(str(path))
        if i < 0:
            i = self.compare_picker.count() - 1          # before "Open…"
            self.compare_picker.insertItem(i, label, str(path))
        self.compare_picker.setCurrentIndex(i)

    def _select_choice(self) -> None:
        path = self.other.path if self.other is not None else None
        self.compare_picker.setCurrentIndex(self.compare_picker.findData(str(path)) if path else -1)

    def compare_with(self, path) -> bool:
        """Load ``path`` as the second model and compare; False (message shown) if it cannot be read."""
        if Path(path).resolve() == self._current_path():
            self.compare_summary.setText(f"<span style='color:{WRONG_COLOR}'>That is the current model: pick "
                                         "another one to compare it with.</span>")
            self._select_choice()
            return False
        try:
            other = LoadedModel.from_file(path)
        except ModelFileError as exc:
            self.compare_summary.setText(f"<span style='color:{WRONG_COLOR}'>Could not open the model: {exc}</span>")
            return False
        self._add_choice(Path(path).resolve(), other.label)
        self.other, self.other_eval, self.comparison = other, None, None
        self.view.refresh()
        return True

    def reset(self) -> None:
        """A new current model or test set: the second model is evaluated again when shown."""
        self.other_eval, self.comparison = None, None
        self.compare_progress.hide()
        if self.other is not None and self.other.path is not None and self.other.path.resolve() == self._current_path():
            self.other = None                            # the second model became the current one
        self._populate_picker()
        self._select_choice()

    def update_comparison(self) -> None:
        view = self.view
        a = view.evaluation
        if a is None or view.model is None:
            return
        self.compare_a.setText(self._score_html("A · current", view.model, a))
        if self.other is None:
            self.compare_b.setText("")
            self.compare_summary.setText("Pick a second model to see which digits each one gets right and the "
                                         "other gets wrong.")
            for title, gallery in ((self.only_a_title, self.only_a_gallery), (self.only_b_title, self.only_b_gallery)):
                title.setText("")
                gallery.clear()
            return
        if self.other_eval is None:
            self.other_eval = view.cached_evaluation(self.other, Damage())
        b = self.other_eval
        self.compare_b.setText(self._score_html("B", self.other, b))
        if b is None:
            running = view.jobs.current("compare")
            if running is None or running.info["model"] is not self.other:
                view.start_pass("compare", self.other, Damage())
            self.compare_summary.setText("evaluating the second model…")
            return
        self._show_comparison(a, b)

    def _show_comparison(self, a: Evaluation, b: Evaluation) -> None:
        c = self.comparison = evaluation.compare(a, b)
        self.compare_summary.setText(f"They disagree on {c.n_disagree:,} of {a.n:,} digits; both are wrong "
                                     f"on {c.both_wrong:,}. Hover a digit for both models' readings; click "
                                     f"to open it in the Draw view.")
        x_test = self.view.dataset.x_test
        for title, gallery, idx, right, wrong, (er, ew) in (
                (self.only_a_title, self.only_a_gallery, c.only_a, "A", "B", (a, b)),
                (self.only_b_title, self.only_b_gallery, c.only_b, "B", "A", (b, a))):
            notes = [f"<br>{wrong} reads it as <b style='color:{WRONG_COLOR}'>{int(ew.predicted[i])}</b> "
                     f"({100 * ew.probabilities[i].max():.1f}%)" for i in idx]
            shown = gallery.show_test_digits(idx, x_test, er, notes)
            more = "" if shown == len(idx) else f" (the first {shown})"
            title.setText(f"{right} right, {wrong} wrong: {len(idx):,} digits{more}")

    def on_other_evaluated(self, model: LoadedModel, e: Evaluation) -> None:
        if self.other is not None and model is self.other:
            self.other_eval = e
            self.update_comparison()

    def show_error(self, error: str) -> None:
        self.compare_summary.setText(f"<span style='color:{WRONG_COLOR}'>The second model could not be "
                                     f"evaluated: {error}</span>")

    @staticmethod
    def _score_html(tag: str, model: LoadedModel, e: Evaluation | None) -> str:
        acc = f"<b style='font-size:x-large'>{100 * e.accuracy:.2f}%</b> ({e.correct:,} right)" if e else "…"
        return f"<b>{tag}</b>: {model.name} <span style='color:{MUTED_TEXT}'>{model.description}</span><br>{acc}"

    def _on_compare_picker_activated(self, index: int) -> None:
        if self.compare_picker.itemText(index) == OPEN_TEXT:
            path, _ = QFileDialog.getOpenFileName(self, "Model to compare with", str(Path.home()), MODEL_FILTER)
            if path:
                self.compare_with(path)
            else:
                self._select_choice()
            return
        path = self.compare_picker.itemData(index)
        if path:
            self.compare_with(path)
