"""What a user would call a broken layout, found in a shown window: text that does not fit its button or
label (Qt clips or elides it: "Sa…cy"), widgets lying on top of their siblings, widgets cut off by their
parent, and a plot legend covering much of its plot.

    problems(window) -> ["QPushButton 'Saliency' 60 px wide, its text needs 78 px", ...]

tests/test_small_window.py runs it on every view at 640x480 and 1920x1080; scripts/view_grabs.py prints it
beside each grab. Only what is visible counts: hidden pages of tab widgets and scrolled-away content do not.
"""

from __future__ import annotations

from PySide6.QtCore import QRect
from PySide6.QtWidgets import (QAbstractButton, QAbstractScrollArea, QComboBox, QLabel, QPushButton, QSplitterHandle,
                               QStackedWidget, QWidget)

SLACK = 1          # px: rounding in size hints


def _name(w: QWidget) -> str:
    text = ""
    if isinstance(w, (QAbstractButton, QLabel)):
        text = w.text()
    elif isinstance(w, QComboBox):
        text = w.currentText()
    text = " ".join(text.split())
    shown = f" {text[:40]!r}" if text else ""
    return f"{type(w).__name__}{shown}" + (f" ({w.objectName()})" if w.objectName() else "")


def _label_needs(label: QLabel) -> int | None:
    """The width a one-line label's text needs, or None (wrapping, empty, a picture, rich text laid out by Qt)."""
    text = label.text()
    if not text or label.wordWrap() or label.pixmap() is not None and not label.pixmap().isNull():
        return None
    if label.textFormat() != 0 and ("<" in text):          # rich text: Qt's own hint says what it needs
        return label.sizeHint().width()
    fm = label.fontMetrics()
    margins = label.contentsMargins()
    return (max(fm.horizontalAdvance(line) for line in text.split("\n")) + 2 * label.margin() + 2 * label.indent()
            * 0 + margins.left() + margins.right() + label.frameWidth() * 2)


def _button_needs(button: QAbstractButton) -> int:
    """A push button's text and icon plus a little margin (its size hint adds the style's 80-px minimum,
    which a one-digit button need not have); check boxes and radio buttons: their size hint (the box too)."""
    if not isinstance(button, QPushButton):
        return button.sizeHint().width()
    text = button.text().replace("&&", "\0").replace("&", "").replace("\0", "&")
    icon = button.iconSize().width() + 4 if not button.icon().isNull() else 0
    return button.fontMetrics().horizontalAdvance(text) + icon + 8


def _visible_in_window(w: QWidget) -> bool:
    return w.isVisible() and not w.isWindow() and w.width() > 0 and w.height() > 0


def text_problems(window: QWidget) -> list[str]:
    """Buttons, labels and pickers narrower than their text."""
    found = []
    for w in window.findChildren(QWidget):
        if not _visible_in_window(w) or not w.visibleRegion().boundingRect().isValid():
            continue
        if isinstance(w, QAbstractButton) and w.text():
            need = _button_needs(w)
            if w.width() + SLACK < need:
                found.append(f"{_name(w)} {w.width()} px wide, its text needs {need} px")
        elif isinstance(w, QLabel):
            need = _label_needs(w)
            if need is not None and w.width() + SLACK < need:
                found.append(f"{_name(w)} {w.width()} px wide, its text needs {need} px")
            elif w.wordWrap() and w.text() and w.height() + SLACK < w.heightForWidth(w.width()):
                found.append(f"{_name(w)} {w.height()} px high, its wrapped text needs {w.heightForWidth(w.width())} px")
        elif isinstance(w, QComboBox):
            need = w.minimumSizeHint().width()
            if w.width() + SLACK < need:
                found.append(f"{_name(w)} {w.width()} px wide, needs {need} px")
    return found


def overlap_problems(window: QWidget) -> list[str]:
    """Visible siblings on top of each other, and children cut off by their parent (outside scroll areas)."""
    found = []
    for parent in [window] + window.findChildren(QWidget):
        if not parent.isVisible() or isinstance(parent, QStackedWidget):
            continue
        scrolled = isinstance(parent.parent(), QAbstractScrollArea) or isinstance(parent, QAbstractScrollArea)
        kids = [c for c in parent.children() if isinstance(c, QWidget) and _visible_in_window(c)
                and not isinstance(c, QSplitterHandle)]
        for i, a in enumerate(kids):
            ga = a.geometry()
            if not scrolled and not parent.rect().adjusted(-SLACK, -SLACK, SLACK, SLACK).contains(ga):
                found.append(f"{_name(a)} at {_rect(ga)} is cut off by its parent {_name(parent)} {_rect(parent.rect())}")
            for b in kids[i + 1:]:
                inter = ga.adjusted(SLACK, SLACK, -SLACK, -SLACK).intersected(b.geometry())
                if inter.isValid() and not inter.isEmpty():
                    found.append(f"{_name(a)} at {_rect(ga)} overlaps {_name(b)} at {_rect(b.geometry())}")
    return found


def legend_problems(window: QWidget, max_fraction: float = 0.25) -> list[str]:
    """pyqtgraph legends covering more than ``max_fraction`` of their plot's view box."""
    import pyqtgraph as pg

    found = []
    for view in window.findChildren(pg.GraphicsView):
        if not _visible_in_window(view):
            continue
        for item in view.scene().items():
            if isinstance(item, pg.LegendItem) and item.isVisible() and item.parentItem() is not None:
                box = item.parentItem()
                covered = item.mapRectToParent(item.boundingRect()).intersected(box.boundingRect())
                area = box.boundingRect().width() * box.boundingRect().height()
                if area > 0 and covered.width() * covered.height() > max_fraction * area:
                    share = covered.width() * covered.height() / area
                    found.append(f"a plot legend covers {share:.0%} of its plot")
    return found


def problems(window: QWidget) -> list[str]:
    return text_problems(window) + overlap_problems(window) + legend_problems(window)


def _rect(r: QRect) -> str:
    return f"{r.width()}x{r.height()}+{r.x()}+{r.y()}"
