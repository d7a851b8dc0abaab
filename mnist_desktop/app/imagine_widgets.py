"""The Imagine view's widgets and words: the row of digit and method buttons (``ImagineControls``), an image pane with a caption (``ImageBox``), a colour bar with
named ends (``ColorBar``), the ten tiles laid out two rows of five (``TileGrid``), the line saying what a
picture means (``explanation``) and the network's verdict on an imagined digit (``verdict_html``).

    box = ImageBox("caption"); box.set_image(image, (-1.0, 1.0), heatmap.DIVERGING_LUT); box.clicked
    bar = ColorBar(); bar.set_scale(heatmap.DIVERGING_LUT, -1.0, 1.0, [(1.0, "for 3"), (-1.0, "against 3")])
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QPalette, QPen
from PySide6.QtWidgets import (QApplication, QBoxLayout, QButtonGroup, QFrame, QGraphicsRectItem, QHBoxLayout, QLabel,
                               QProgressBar, QPushButton, QSizePolicy, QVBoxLayout, QWidget)

from mnist_desktop import explain, heatmap
from mnist_desktop.app.reflow import Reflow
from mnist_desktop.app.style import MUTED_TEXT, PLOT_FOREGROUND, RIGHT_COLOR, WRONG_COLOR

METHOD_TITLES = {"backproject": "Back-projection", "maximize": "Activation maximisation"}
METHOD_TIPS = {"backproject": "The digit's output pushed backwards through the weights: a map of which "
                              "pixels count for and against the digit (instant).",
               "maximize": "Grow an image, pixel by pixel, that the network is sure shows the digit "
                           "(gradient ascent; takes a moment on a CNN)."}


class _ClickableView(pg.GraphicsView):
    clicked = Signal()

    def mouseReleaseEvent(self, event) -> None:
        if event.button() == Qt.LeftButton and self.rect().contains(event.position().toPoint()):
            self.clicked.emit()
        super().mouseReleaseEvent(event)


class _Caption(QLabel):
    """A wrapped caption two lines high that does not ask for height-for-width: wrapped labels make Qt's
    box layouts shrink the rows around them to their minimum."""

    def __init__(self, text: str = "", lines: int = 2) -> None:
        super().__init__(text)
        self.setAlignment(Qt.AlignHCenter | Qt.AlignTop)
        self.setWordWrap(True)
        self.setTextFormat(Qt.RichText)
        self.setFixedHeight(lines * self.fontMetrics().lineSpacing() + 4)

    def hasHeightForWidth(self) -> bool:
        return False


class ImageBox(QWidget):
    """An image shown pixel-exact with its aspect kept, and a caption (rich text) underneath.
    ``image_item.image`` is the array shown. Emits ``clicked`` on a left click."""

    clicked = Signal()

    def __init__(self, caption: str = "", min_size: int = 80, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._graphics = _ClickableView(background=self.palette().color(QPalette.Window))
        self._graphics.setAntialiasing(False)
        self._graphics.setMinimumSize(min_size, min_size)
        self._graphics.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
        self._graphics.setFrameShape(QFrame.NoFrame)
        self._graphics.clicked.connect(self.clicked)
        self.view = pg.ViewBox(lockAspect=True, invertY=True, enableMouse=False, enableMenu=False,
                               defaultPadding=0.01)
        self._graphics.setCentralItem(self.view)
        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.view.addItem(self.image_item)
        self.placeholder = pg.TextItem("", color=MUTED_TEXT, anchor=(0.5, 0.5))
        self.view.addItem(self.placeholder)
        self.guide = QGraphicsRectItem(QRectF(4, 4, 20, 20))    # MNIST's 20x20 digit box, for MLP maps
        pen = QPen(QColor(60, 60, 60, 170), 1.2, Qt.DashLine)
        pen.setCosmetic(True)
        self.guide.setPen(pen)
        self.guide.setZValue(10)
        self.guide.hide()
        self.view.addItem(self.guide)
        self.caption = _Caption(caption)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self._graphics, 1)
        layout.addWidget(self.caption)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
        self._frame: tuple[int, int] | None = None
        self.set_frame(28, 28)

    def set_frame(self, height: int, width: int) -> None:
        """The area always shown, in image pixels (so the view does not jump when images come and go)."""
        if (height, width) != self._frame:
            self._frame = (height, width)
            self.view.setRange(QRectF(0, 0, width, height), padding=0.01)
            self.placeholder.setPos(width / 2, height / 2)

    def set_image(self, image: np.ndarray, levels=(0.0, 1.0), lut: np.ndarray | None = None) -> None:
        """(h, w) values shown through ``lut`` between ``levels``, or (h, w, 3) uint8 RGB (levels ignored)."""
        self.placeholder.setText("")
        if image.ndim == 3:
            self.image_item.setImage(image, levels=(0, 255), lut=None, autoLevels=False)
        else:
            self.image_item.setImage(image, levels=levels, lut=lut, autoLevels=False)
        self.image_item.setRect(QRectF(0, 0, image.shape[1], image.shape[0]))
        self.set_frame(image.shape[0], image.shape[1])

    def clear(self, text: str = "") -> None:
        """No image; ``text`` (e.g. 'imagining…') in the middle instead."""
        self.image_item.clear()
        self.placeholder.setText(text)

    @property
    def image(self) -> np.ndarray | None:
        return self.image_item.image


class ColorBar(pg.PlotWidget):
    """A vertical colour bar with named ends, e.g. 'for 3' (red) down to 'against 3' (blue)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, background=QApplication.palette().color(QPalette.Window))
        item = self.getPlotItem()
        item.setMouseEnabled(False, False)
        item.setMenuEnabled(False)
        item.hideButtons()
        item.hideAxis("bottom")
        item.hideAxis("left")
        item.showAxis("right")
        self.axis = item.getAxis("right")
        self.axis.setPen(pg.mkPen(PLOT_FOREGROUND))
        self.axis.setTextPen(pg.mkPen(PLOT_FOREGROUND))
        self.axis.setStyle(tickLength=-6)
        self._bar = pg.ImageItem(axisOrder="row-major")
        item.addItem(self._bar)
        item.setXRange(0, 1, padding=0)
        self.setSizePolicy(QSizePolicy.Fixed, QSizePolicy.Preferred)
        self.setFixedWidth(120)                  # until set_scale knows its labels
        self.setMinimumHeight(120)
        self.setMaximumHeight(420)
        self._key = None
        self.ticks: list[tuple[float, str]] = []

    def set_scale(self, lut: np.ndarray, lo: float, hi: float, ticks: list[tuple[float, str]]) -> None:
        """Colours ``lut`` (N, 3) from ``lo`` (bottom) to ``hi`` (top), labelled at ``ticks``."""
        key = (id(lut), lo, hi, tuple(ticks))
        if key == self._key:
            return
        self._key = key
        self.ticks = list(ticks)
        text_width = max((self.fontMetrics().horizontalAdvance(t) for _, t in ticks), default=0)
        self.axis.setWidth(text_width + 16)        # the axis drops labels that do not fit its width
        self.setFixedWidth(text_width + 16 + 34)
        values = np.linspace(lo, hi, 256, dtype=np.float32)[:, None]      # row 0 at the bottom (y up)
        self._bar.setImage(values, levels=(lo, hi), lut=lut, autoLevels=False)
        self._bar.setRect(QRectF(0, lo, 1, hi - lo))
        margin = 0.05 * (hi - lo)        # room for the end labels, centred on the ends
        self.getPlotItem().setYRange(lo - margin, hi + margin, padding=0)
        self.axis.setTicks([ticks, []])


class ImagineControls(QWidget):
    """One row: digit buttons 0-9 and All ten (``digit_group``: ids 0-9, 10 for all), the two methods
    (``method_group``: ids in explain.METHODS order), and the progress of a maximisation."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.digit_buttons: list[QPushButton] = []
        self.digit_group = QButtonGroup(self)
        digits_row = QHBoxLayout()
        digits_row.setSpacing(3)
        digits_row.addWidget(QLabel("Digit"))
        for d in range(10):
            b = QPushButton(str(d))
            b.setCheckable(True)
            b.setFixedWidth(max(34, b.fontMetrics().horizontalAdvance("8") + 22))
            b.setToolTip(f"What does the network think a {d} looks like?")
            self.digit_group.addButton(b, d)
            self.digit_buttons.append(b)
            digits_row.addWidget(b)
        self.all_button = QPushButton("All ten")
        self.all_button.setCheckable(True)
        self.all_button.setToolTip("Show the ten digits side by side")
        self.digit_group.addButton(self.all_button, 10)
        digits_row.addSpacing(6)
        digits_row.addWidget(self.all_button)

        self.method_group = QButtonGroup(self)
        self.method_buttons: dict[str, QPushButton] = {}
        method_row = QHBoxLayout()
        method_row.setSpacing(3)
        method_row.addWidget(QLabel("Method"))
        for i, method in enumerate(explain.METHODS):
            b = QPushButton(METHOD_TITLES[method])
            b.setCheckable(True)
            b.setToolTip(METHOD_TIPS[method])
            self.method_group.addButton(b, i)
            self.method_buttons[method] = b
            method_row.addWidget(b)

        self.progress = QProgressBar()
        self.progress.setMinimumWidth(self.progress.fontMetrics().horizontalAdvance("imagining 10/10") + 24)
        self.progress.setMaximumWidth(220)          # takes the spare width only: a 1024-px window still fits
        self.progress.setFormat("imagining %v/%m")
        self.progress.setToolTip("Activation maximisation runs in the background; the pictures appear as "
                                 "they are ready")
        self.progress.setVisible(False)

        controls = QBoxLayout(QBoxLayout.LeftToRight, self)   # digits over methods in a narrow window
        self.reflow = Reflow(self, controls, slack=0)
        controls.setContentsMargins(0, 0, 0, 0)
        digits_row.addStretch(1)                    # stacked (a narrow view), each row keeps to the left
        method_row.addStretch(1)
        controls.addLayout(digits_row)
        controls.addSpacing(18)
        controls.addLayout(method_row)
        controls.addStretch(1)
        controls.addWidget(self.progress, 1)


class TileGrid(QWidget):
    """The ten tiles in 2 rows of 5, as large as the space allows, each caption right under its picture
    (a grid layout would leave the spare height between picture and caption)."""

    def __init__(self, tiles: list[ImageBox], cols: int = 5, gap: int = 12, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tiles, self.cols, self.gap = tiles, cols, gap
        self.rows = -(-len(tiles) // cols)
        for t in tiles:
            t.setParent(self)

    NARROW_TILE = 110   # px: tiles narrower than this get three caption lines ("5 · read as 3 73% (5: 27%)")

    def caption_height(self) -> int:
        return getattr(self, "_lines", 2) * self.fontMetrics().lineSpacing() + 6

    def sizeHint(self) -> QSize:
        return QSize(self.cols * 160, self.rows * (160 + self.caption_height()))

    def minimumSizeHint(self) -> QSize:
        return QSize(self.cols * 60, self.rows * (60 + self.caption_height()))

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._place()

    def _place(self) -> None:
        lines = 3 if (self.width() - self.gap * (self.cols - 1)) / self.cols < self.NARROW_TILE else 2
        if lines != getattr(self, "_lines", 2):
            self._lines = lines
            for t in self.tiles:
                t.caption.setFixedHeight(lines * t.caption.fontMetrics().lineSpacing() + 4)
            self.updateGeometry()
        w, h, cap, gap = self.width(), self.height(), self.caption_height(), self.gap
        side = int(min((w - gap * (self.cols - 1)) / self.cols, (h - gap * (self.rows - 1)) / self.rows - cap))
        side = max(side, 30)
        x0 = (w - (self.cols * side + gap * (self.cols - 1))) // 2
        y0 = max(0, (h - (self.rows * (side + cap) + gap * (self.rows - 1))) // 2)
        for i, t in enumerate(self.tiles):
            r, c = divmod(i, self.cols)
            t.setGeometry(x0 + c * (side + gap), y0 + r * (side + cap + gap), side, side + cap)


# ---- the words under the pictures -------------------------------------------------------------------


def explanation(method: str, digit: int | None, kind: str | None, imagined: explain.Imagined | None = None,
                steps: int = explain.MAXIMIZE_DEFAULTS["steps"]) -> str:
    """The line under the picture: what the method is and what the colours mean, in a learner's words.
    ``kind`` is the first layer's kind ("dense": an MLP, whose back-projections carry edge noise);
    ``imagined`` the result shown for one digit; ``steps`` the maximisation's steps."""
    if method == "backproject":
        which = f"the output for {digit}" if digit is not None else "each digit's output"
        target = str(digit) if digit is not None else "the digit"
        text = (f"<b>Back-projection</b>: {which} pushed backwards through the weights. "
                f"<b style='color:{heatmap.EVIDENCE_FOR}'>Red</b> pixels push toward {target}, "
                f"<b style='color:{heatmap.EVIDENCE_AGAINST}'>blue</b> pixels push away from it, white ones do not "
                f"matter: a map of evidence, not a drawing.")
        if kind == "dense":
            text += (" The speckle outside the dashed box (where MNIST digits are drawn) is noise: MNIST never "
                     "has ink there, so those weights never learned and keep their random start.")
        return text + (" Fed back: the red part is used as ink. An evidence map is not a drawing, so the "
                       "network may read it as another digit; Activation maximisation shows images it reads "
                       "as the digit.")
    sure = f"it sees a {digit}" if digit is not None else "it sees the digit"
    text = (f"<b>Activation maximisation</b>: from faint noise, the pixels were nudged "
            f"{steps} times in whatever direction made the network surer {sure}, "
            f"in ever smaller steps, kept between black and white and slightly blurred so they form strokes: "
            f"the network's own ideal, not a person's. White is ink; as in an MNIST digit the brightest "
            f"pixel is white, and the image shown is the image fed back.")
    return text


def verdict_html(r: explain.Imagined, short: bool) -> str:
    # an evidence map read as another digit is no mistake of the network's: muted, not red
    color = RIGHT_COLOR if r.recognised else (MUTED_TEXT if r.method == "backproject" else WRONG_COLOR)
    p = r.probabilities[r.predicted] * 100
    if short:
        tail = ("" if r.recognised else
                f" <span style='color:{MUTED_TEXT}'>({r.digit}: {r.probability * 100:.0f}%)</span>")
        return (f"<b>{r.digit}</b> <span style='color:{MUTED_TEXT}'>· read as</span> "
                f"<b style='color:{color}'>{r.predicted}</b> <span style='color:{color}'>{p:.0f}%</span>{tail}")
    said = (f"The network reads this imagined {r.digit} as <b style='color:{color}'>{r.predicted}</b> "
            f"<span style='color:{color}'>({p:.1f}%)</span>")
    if not r.recognised:
        said += f"; it gives {r.digit} only {r.probability * 100:.1f}%"
        if r.method == "backproject":
            said += " (its red part as ink: an evidence map, not a drawing)"
    return said


def verdict_tooltip(r: explain.Imagined) -> str:
    top = np.argsort(r.probabilities)[::-1][:3]
    parts = ", ".join(f"{int(i)}: {r.probabilities[i] * 100:.1f}%" for i in top)
    return f"Imagined {r.digit}, fed back: {parts}. Click to look at it on its own."
