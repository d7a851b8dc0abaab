"""The Evaluate view's Mistakes tab: the confusion matrix, accuracy per true digit, and the test digits of
the cell picked (the most frequent mistake until one is clicked).

    tab = MistakesTab()
    tab.show_evaluation(e, x_test)        # an evaluation.Evaluation and the (N, 784) test images it scored
    tab.select_cell(4, 9)                 # the 4s read as 9s, in the gallery
    tab.matrix.cell_clicked, tab.gallery.digit_clicked     # for the view to connect
"""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QGroupBox, QHBoxLayout, QVBoxLayout, QWidget

from mnist_desktop import evaluation
from mnist_desktop.app.evaluate_widgets import ConfusionMatrix, DigitGallery, PerClassChart, muted_label, title_label
from mnist_desktop.evaluation import Evaluation


class MistakesTab(QWidget):
    """Confusion matrix (left), per-digit accuracy and the selected cell's digits (right).
    ``cell``: the (true, predicted) cell shown, or None."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.cell: tuple[int, int] | None = None
        self._evaluation: Evaluation | None = None
        self._x_test: np.ndarray | None = None
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
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addWidget(matrix_box, 5)
        layout.addLayout(right, 4)

    def clear(self) -> None:
        """Nothing to show (a new model is being evaluated); forgets the selected cell."""
        self._evaluation, self.cell = None, None
        self.matrix.set_matrix(None)
        self.matrix.set_selected(None)
        self.per_class.set_accuracy(None)
        self.gallery.clear()
        self.gallery_title.setText("")
        self.gallery_note.setText("")

    def show_evaluation(self, e: Evaluation, x_test: np.ndarray) -> None:
        """Show ``e`` (computed on ``x_test``): the matrix, the bars, and the selected cell's digits (the
        most frequent mistake when none is selected)."""
        self._evaluation, self._x_test = e, x_test
        self.matrix.set_matrix(e.confusion)
        self.per_class.set_accuracy(e.per_class)
        if self.cell is None:
            self.cell = self.default_cell()
        self.matrix.set_selected(self.cell)
        self._show_gallery()

    def default_cell(self) -> tuple[int, int]:
        """The most frequent mistake (or the 0s read as 0 for a perfect model)."""
        top = self._evaluation.top_confusions(1)
        return (top[0][0], top[0][1]) if top else (0, 0)

    def select_cell(self, true: int, predicted: int) -> None:
        """Show the test digits of one confusion-matrix cell in the gallery."""
        self.cell = (int(true), int(predicted))
        self.matrix.set_selected(self.cell)
        self._show_gallery()

    def _show_gallery(self) -> None:
        e = self._evaluation
        if e is None or self.cell is None or self._x_test is None:
            return
        t, p = self.cell
        idx = evaluation.cell_indices(e, t, p)
        what = f"{t}s read as {p}" if t != p else f"{t}s read correctly as {t}"
        self.gallery_title.setText(f"{what}: {len(idx):,} digit{'s' if len(idx) != 1 else ''}")
        shown = self.gallery.show_test_digits(idx, self._x_test, e)
        more = f"The first {shown} of {len(idx):,} are shown. " if shown < len(idx) else ""
        self.gallery_note.setText(more + "Hover a digit for the network's ten probabilities; click it to open it "
                                  "in the Draw view." if len(idx) else "No test digit falls in this cell.")
