"""A visible keyboard-focus ring for a view: a 2-px highlight frame drawn around whichever of the view's
widgets has the focus, on top of the view (transparent to the mouse). Qt's Fusion style shows the focus of
some widgets only faintly (a slider, a tool button, a checkable push button) or not at all; this ring looks
the same on every Tab stop.

    ring = FocusRing(view)        # follows QApplication.focusChanged from then on
    ring.target                   # the widget it surrounds, or None (focus outside the view)
"""

from __future__ import annotations

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QApplication, QWidget

from mnist_desktop.app.style import ACCENT

RING_WIDTH = 2


class FocusRing(QWidget):
    def __init__(self, view: QWidget) -> None:
        super().__init__(view)
        self._view = view
        self.target: QWidget | None = None
        self.setAttribute(Qt.WA_TransparentForMouseEvents)
        self.setFocusPolicy(Qt.NoFocus)
        self.hide()
        QApplication.instance().focusChanged.connect(self._on_focus_changed)

    def _on_focus_changed(self, old: QWidget | None, new: QWidget | None) -> None:
        inside = new is not None and new is not self and self._view.isAncestorOf(new)
        self.target = new if inside else None
        self.follow()

    def follow(self) -> None:
        """Move over the focused widget (after a resize or a relayout too); hide when there is none."""
        t = self.target
        if t is None or not t.isVisible():
            self.hide()
            return
        top_left = t.mapTo(self._view, t.rect().topLeft())
        m = RING_WIDTH + 1
        self.setGeometry(QRect(top_left, t.size()).adjusted(-m, -m, m, m))
        self.raise_()
        self.show()
        self.update()

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        pen = QPen(QColor(ACCENT), RING_WIDTH)
        p.setPen(pen)
        p.setRenderHint(QPainter.Antialiasing)
        half = RING_WIDTH / 2
        p.drawRoundedRect(self.rect().adjusted(half, half, -half, -half), 3, 3)
