"""The small widgets of "teach it your handwriting": digit thumbnails, the Draw view's "It's a…" row and
one digit's strip of thumbnails in My digits.

    row = LabelRow()                  # ten digit buttons (and keys 0-9): label_chosen(int)
    strip = DigitStrip()              # Del / Ctrl+Z here: delete_requested, undo_requested
    image_pixmap(image28)             # a 28x28 float image -> a THUMB x THUMB pixmap, sharp pixels
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QEvent, QSize, Qt, Signal
from PySide6.QtGui import QIcon, QImage, QKeySequence, QPixmap, QShortcut
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QLabel, QListView, QListWidget, QListWidgetItem,
                               QToolButton, QWidget)

from mnist_desktop.app.style import MUTED_TEXT, RIGHT_COLOR, WRONG_COLOR

THUMB = 44            # thumbnail side: the 28x28 the network sees, enlarged


def image_pixmap(image28: np.ndarray, side: int = THUMB) -> QPixmap:
    """A 28x28 float image in [0, 1] (white on black) -> a ``side`` x ``side`` pixmap, sharp pixels."""
    a = np.ascontiguousarray(np.clip(np.round(np.asarray(image28).reshape(28, 28) * 255), 0, 255).astype(np.uint8))
    img = QImage(a.data, 28, 28, 28, QImage.Format.Format_Grayscale8).copy()
    return QPixmap.fromImage(img.scaled(side, side, Qt.IgnoreAspectRatio, Qt.FastTransformation))


def count_text(digit: int, n: int, wanted: int) -> str:
    """A digit's heading in My digits: the digit, and how many examples (green: enough, red: none)."""
    color = RIGHT_COLOR if n >= wanted else WRONG_COLOR if n == 0 else MUTED_TEXT
    return (f"<b style='font-size:15pt'>{digit}</b><br>"
            f"<span style='color:{color}'>{n} example{'s' if n != 1 else ''}</span>")


class LabelRow(QWidget):
    """"It's a…" and ten digit buttons; keys 0-9 press them while the row is visible.

    Signals: label_chosen(int)."""

    label_chosen = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(3)
        title = QLabel("It's a…")
        title.setToolTip("Tell the app which digit you drew (keys 0-9): it goes into My digits, "
                         "and the canvas clears for the next one")
        layout.addWidget(title)
        self.buttons: list[QToolButton] = []
        for d in range(10):
            b = QToolButton()
            b.setText(str(d))
            b.setMinimumWidth(26)
            b.setToolTip(f"It's a {d} ({d}): add this drawing to My digits as a {d} and clear the canvas")
            b.clicked.connect(lambda checked=False, d=d: self.label_chosen.emit(d))
            layout.addWidget(b)
            self.buttons.append(b)
            shortcut = QShortcut(QKeySequence(str(d)), self)   # parented here: only while the Draw view shows
            shortcut.activated.connect(lambda d=d: self.label_chosen.emit(d))
        self.count_label = QLabel()
        self.count_label.setStyleSheet(f"color: {MUTED_TEXT};")
        layout.addSpacing(6)
        layout.addWidget(self.count_label, 1)

    def set_count(self, n: int) -> None:
        self.count_label.setText(f"{n} in My digits")


class DigitStrip(QListWidget):
    """One digit's thumbnails, in a horizontal strip. Del deletes the selection and Ctrl+Z undoes, here
    rather than the window's Edit › Clear / Undo (which act on the Draw view's canvas)."""

    delete_requested = Signal()
    undo_requested = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.setViewMode(QListView.IconMode)
        self.setFlow(QListView.LeftToRight)
        self.setWrapping(False)
        self.setMovement(QListView.Static)
        self.setIconSize(QSize(THUMB, THUMB))
        self.setSpacing(2)
        self.setSelectionMode(QAbstractItemView.ExtendedSelection)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarAsNeeded)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.setFixedHeight(THUMB + 12 + self.horizontalScrollBar().sizeHint().height())

    def set_items(self, items) -> None:
        """items: (path, 28x28 image or None) pairs -> one thumbnail each, the path kept as its data."""
        self.clear()
        for path, image in items:
            w = QListWidgetItem()
            if image is not None:
                w.setIcon(QIcon(image_pixmap(image)))
            w.setToolTip(Path(path).name)
            w.setData(Qt.UserRole, str(path))
            self.addItem(w)

    def _own_key(self, event) -> str | None:
        if event.matches(QKeySequence.Undo):
            return "undo"
        if event.key() in (Qt.Key_Delete, Qt.Key_Backspace) and not event.modifiers():
            return "delete"
        return None

    def event(self, event) -> bool:
        if event.type() == QEvent.ShortcutOverride and self._own_key(event):
            event.accept()                   # the key comes to keyPressEvent, not to a window shortcut
            return True
        return super().event(event)

    def keyPressEvent(self, event) -> None:
        what = self._own_key(event)
        if what == "delete":
            self.delete_requested.emit()
        elif what == "undo":
            self.undo_requested.emit()
        else:
            super().keyPressEvent(event)
