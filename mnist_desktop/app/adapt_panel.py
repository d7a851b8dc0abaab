"""My digits' right-hand column: Adapt with progress and Cancel, Back to the original, and "What it did"
(the honest before/after on the user's digits, MNIST test of the original and the adapted model side by
side, the digits that flipped from wrong to right as thumbnails). Widgets only: MyDigitsView runs the
jobs and hands the results here.

    panel = AdaptPanel()
    panel.show_model(model)                    # what Adapt would start from
    panel.show_check(check, examples)          # adapt_check.Check and the personalize.Examples it measured
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (QAbstractItemView, QGroupBox, QHBoxLayout, QLabel, QListView, QListWidget,
                               QListWidgetItem, QProgressBar, QPushButton, QVBoxLayout, QWidget)

from mnist_desktop import personalize
from mnist_desktop.adapt_check import Check
from mnist_desktop.app.digit_thumbs import THUMB, image_pixmap
from mnist_desktop.app.state import LoadedModel
from mnist_desktop.app.style import ACCENT, RIGHT_COLOR, WRONG_COLOR


PANEL_MAX_WIDTH = 440


class AdaptPanel(QWidget):
    """The Adapt box and the "What it did" box, stacked; MyDigitsView connects the buttons."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        right = QVBoxLayout(self)
        right.setContentsMargins(0, 0, 0, 0)
        right.addWidget(self._build_adapt_box())
        right.addWidget(self._build_result_box(), 1)
        self.setMinimumWidth(330)
        self.setMaximumWidth(PANEL_MAX_WIDTH)
        self.progress.hide()

    def _build_adapt_box(self) -> QGroupBox:
        self.model_label = QLabel()
        self.model_label.setWordWrap(True)
        self.adapt_button = QPushButton("Adapt to my digits")
        self.adapt_button.setToolTip("Fine-tune the current model on My digits (a few seconds, in the background); "
                                     "the result is saved as a new model and used at once")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop adapting (nothing is saved) or stop measuring")
        self.back_button = QPushButton("Back to the original")
        self.back_button.setToolTip("Use the model the adaptation started from again")
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setTextVisible(True)
        self.status = QLabel()
        self.status.setWordWrap(True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.adapt_button, 1)
        buttons.addWidget(self.cancel_button)
        box = QGroupBox("Teach the model your handwriting")
        a = QVBoxLayout(box)
        a.addWidget(self.model_label)
        a.addLayout(buttons)
        a.addWidget(self.progress)
        a.addWidget(self.status)
        a.addWidget(self.back_button)
        return box

    def _build_result_box(self) -> QGroupBox:
        self.own_label = QLabel("—")
        self.mnist_label = QLabel("—")
        for lab in (self.own_label, self.mnist_label):
            lab.setWordWrap(True)
            lab.setTextFormat(Qt.RichText)
        self.fixed_label = QLabel("Read wrong before, right after:")
        self.fixed_label.setWordWrap(True)
        self.fixed_strip = QListWidget()
        self.fixed_strip.setViewMode(QListView.IconMode)
        self.fixed_strip.setIconSize(QSize(THUMB, THUMB))
        self.fixed_strip.setMovement(QListView.Static)
        self.fixed_strip.setResizeMode(QListView.Adjust)
        self.fixed_strip.setSelectionMode(QAbstractItemView.NoSelection)
        self.fixed_strip.setMinimumHeight(2 * THUMB + 40)
        box = QGroupBox("What it did")
        r = QVBoxLayout(box)
        r.addWidget(self.own_label)
        r.addWidget(self.mnist_label)
        r.addWidget(self.fixed_label)
        r.addWidget(self.fixed_strip, 1)
        return box

    # ---- updates ----------------------------------------------------------------------------------------

    def set_stacked(self, stacked: bool) -> None:
        """Under the digits (a narrow window) the panel spans the width; beside them it keeps to 440 px."""
        self.setMaximumWidth((1 << 24) - 1 if stacked else PANEL_MAX_WIDTH)

    def show_progress(self, what: str, done: int, total: int) -> None:
        self.progress.show()
        self.progress.setValue(int(100 * done / max(total, 1)))
        self.progress.setFormat(f"{what} %p%")

    def show_model(self, model: LoadedModel | None) -> None:
        if model is None:
            self.model_label.setText("No model loaded.")
        elif personalize.is_adapted(model.spec):
            info = model.spec["adaptation"]
            self.model_label.setText(f"Current model: <b>{model.name}</b>, adapted from "
                                     f"{info.get('base', {}).get('name')} to {info.get('examples')} digits. "
                                     "Adapting again starts from that model.")
        else:
            self.model_label.setText(f"Current model: <b>{model.name}</b> ({model.description})")

    def show_check(self, check: Check, examples: personalize.Examples) -> None:
        """The before/after of one adaptation: the user's digits (k-fold), MNIST test, the flipped digits."""
        self.fixed_strip.clear()
        cv = check.own
        if cv is None:
            self.own_label.setText("Your digits: collect at least two to measure before/after.")
            self.fixed_label.setText("")
        else:
            self.own_label.setText(
                f"Your {cv.n} digits, each read by a model adapted <i>without</i> it ({cv.folds}-fold):<br>"
                f"before <b>{cv.before_accuracy * 100:.1f}%</b> → after "
                f"<b style='color:{ACCENT}'>{cv.after_accuracy * 100:.1f}%</b>"
                f" ({len(cv.fixed)} fixed, {len(cv.broken)} broken)")
            for i in cv.fixed:
                w = QListWidgetItem(QIcon(image_pixmap(examples.images[i])), f"{int(cv.before[i])} → {int(cv.after[i])}")
                w.setToolTip(Path(examples.names[i]).name if examples.names else "")
                self.fixed_strip.addItem(w)
            self.fixed_label.setText("Read wrong before, right after (was → now):" if len(cv.fixed) else
                                     "No digit flipped from wrong to right (it read them all right already, or "
                                     "the examples disagree).")
        if check.mnist_after is not None:
            before, after = check.mnist_before, check.mnist_after
            color = WRONG_COLOR if after < before - 0.005 else RIGHT_COLOR
            self.mnist_label.setText(f"MNIST test ({check.n_test:,} digits): original <b>{before * 100:.2f}%</b>, "
                                     f"adapted <b style='color:{color}'>{after * 100:.2f}%</b>")
        else:
            self.mnist_label.setText(f"MNIST test: not measured: the test set was not found "
                                     f"({check.mnist_problem}). Download it in the Train view.")
