"""Small shared widgets: image panes, the preprocessing preview, the probability chart, a message banner.

Each widget is created once and updated in place (``setImage`` / ``setOpts``); none of them computes
anything beyond picking colours and formatting numbers.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor, QPalette, QPen
from PySide6.QtWidgets import (QFrame, QGraphicsItem, QGraphicsRectItem, QHBoxLayout, QLabel, QSizePolicy,
                               QToolButton, QVBoxLayout, QWidget)

from mnist_desktop.app.style import (BANNER_COLORS, BAR_COLOR, BOX_COLOR, GUIDE_COLOR,  # noqa: F401 (re-exported)
                                     HIGHLIGHT_COLOR, MUTED_TEXT, OVERLAY_DIM, PLOT_BACKGROUND, PLOT_FOREGROUND,
                                     UNSURE_COLOR, scaled_font)


def configure_pyqtgraph() -> None:
    """Global pyqtgraph options, set once before any plot is created (run_app calls it)."""
    pg.setConfigOptions(imageAxisOrder="row-major", antialias=True,
                        background=PLOT_BACKGROUND, foreground=PLOT_FOREGROUND)


def _cosmetic_pen(color: QColor, width: float = 1.5, style=Qt.SolidLine) -> QPen:
    pen = QPen(color, width, style)
    pen.setCosmetic(True)  # width in screen pixels, whatever the zoom
    return pen


class ImagePane(QWidget):
    """A grayscale image (0..1, white on black) shown pixel-exact (no smoothing), aspect kept, with
    a caption underneath. ``view`` is the pyqtgraph ViewBox for overlays (boxes, a saliency layer)."""

    def __init__(self, caption: str, tooltip: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._graphics = pg.GraphicsView(background=self.palette().color(QPalette.Window))
        self._graphics.setAntialiasing(False)
        self._graphics.setMinimumSize(84, 84)
        self._graphics.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
        self._graphics.setFrameShape(QFrame.NoFrame)
        self.view = pg.ViewBox(lockAspect=True, invertY=True, enableMouse=False, enableMenu=False,
                               defaultPadding=0.02)
        self._graphics.setCentralItem(self.view)
        self.image_item = pg.ImageItem(axisOrder="row-major", levels=(0.0, 1.0))
        self.view.addItem(self.image_item)
        self.caption = QLabel(caption)
        self.caption.setAlignment(Qt.AlignHCenter | Qt.AlignTop)
        self.caption.setWordWrap(True)
        self.caption.setStyleSheet(f"color: {MUTED_TEXT};")
        self.caption.setMinimumHeight(2 * self.caption.fontMetrics().lineSpacing())   # room for a wrapped caption
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self._graphics, 1)
        layout.addWidget(self.caption)
        if tooltip:
            self.setToolTip(tooltip)
        self._frame = (1, 1)
        self.set_frame(1, 1)

    def set_frame(self, height: float, width: float) -> None:
        """The area the view always shows (image coordinates), so the scale does not jump per stroke."""
        if (height, width) != self._frame:
            self._frame = (height, width)
            self.view.setRange(QRectF(0, 0, width, height), padding=0.02)

    def set_image(self, image: np.ndarray | None, rect: QRectF | None = None) -> None:
        """(h, w) float in [0, 1]; ``rect`` places it in view coordinates (default: at the origin)."""
        if image is None:
            self.image_item.clear()
            return
        self.image_item.setImage(image, levels=(0.0, 1.0), autoLevels=False)
        self.image_item.setRect(rect if rect is not None else QRectF(0, 0, image.shape[1], image.shape[0]))

    def add_rect(self, color: QColor, style=Qt.SolidLine) -> QGraphicsRectItem:
        """A rectangle overlay (hidden until ``setRect`` + ``show``), drawn above the image."""
        item = QGraphicsRectItem()
        item.setPen(_cosmetic_pen(color, 1.5, style))
        item.setZValue(10)
        item.hide()
        self.view.addItem(item)
        return item

    def add_backdrop(self, rect: QRectF) -> None:
        """A black area behind the image (e.g. the whole 20x20 frame around a narrower fit)."""
        item = QGraphicsRectItem(rect)
        item.setPen(QPen(Qt.NoPen))
        item.setBrush(QBrush(QColor(0, 0, 0)))
        item.setZValue(-10)
        self.view.addItem(item)


class PreprocessPreview(QWidget):
    """The three steps from ink to network input, side by side:
    (1) the input with the ink bounding box, (2) the box fitted into 20x20 (aspect kept),
    (3) the 28x28 image centred by centre of mass: what the network sees.

    ``header`` is a row above the panes where a view can add controls (e.g. a saliency toggle).
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.input_pane = ImagePane("1 · your ink and\nits bounding box",
                                    "The canvas (or opened image) with the bounding box of the ink.")
        self.fit_pane = ImagePane("2 · the box fitted\ninto 20×20",
                                  "The ink box scaled so its longer side is 20 pixels; the aspect ratio is kept.")
        self.net_pane = ImagePane("3 · centred in 28×28:\nwhat the network sees",
                                  "The 20×20 fit placed in a 28×28 image so its centre of mass is at the centre, "
                                  "like the MNIST digits the network learned from. Dashed: where the fit landed.")
        self._box = self.input_pane.add_rect(BOX_COLOR)
        self._fit_frame = self.fit_pane.add_rect(BOX_COLOR, Qt.DashLine)
        self._fit_frame.setRect(QRectF(0, 0, 20, 20))
        self.fit_pane.add_backdrop(QRectF(0, 0, 20, 20))
        self._placed = self.net_pane.add_rect(GUIDE_COLOR, Qt.DashLine)
        self._saliency_dim = QGraphicsRectItem(QRectF(0, 0, 28, 28))   # dims the digit under the overlay
        self._saliency_dim.setPen(QPen(Qt.NoPen))
        self._saliency_dim.setBrush(QBrush(OVERLAY_DIM))
        self._saliency_dim.setZValue(4)
        self._saliency_dim.hide()
        self.net_pane.view.addItem(self._saliency_dim)
        self.saliency_item = pg.ImageItem(axisOrder="row-major")   # RGBA over "what the network sees"
        self.saliency_item.setZValue(5)
        self.net_pane.view.addItem(self.saliency_item)
        self.fit_pane.set_frame(20, 20)
        self.net_pane.set_frame(28, 28)
        self.net_pane.set_image(np.zeros((28, 28), np.float32))
        self.fit_pane.set_image(np.zeros((20, 20), np.float32))

        self.header = QHBoxLayout()
        self.header.setContentsMargins(0, 0, 0, 0)
        panes = QHBoxLayout()
        panes.setSpacing(10)
        for pane in (self.input_pane, self.fit_pane, self.net_pane):
            panes.addWidget(pane, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self.header)
        layout.addLayout(panes, 1)
        self.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Fixed)
        self.setFixedHeight(self.height_for(300))

    def height_for(self, width: int) -> int:
        """Three square panes side by side, plus the captions (two lines) and the header row."""
        pane = min((width - 2 * 10) / 3, 240)
        captions = 2 * self.fontMetrics().lineSpacing() + 6
        return round(pane + captions + self.header.sizeHint().height())

    def resizeEvent(self, event) -> None:
        # Keep the panes square: the height follows the width (a width change never follows from it).
        h = self.height_for(event.size().width())
        if h != self.height():
            self.setFixedHeight(h)
        super().resizeEvent(event)

    def set_input(self, gray: np.ndarray | None) -> None:
        """Show the input without a result (blank canvas): no box, empty fit and 28x28."""
        if gray is not None:
            self.input_pane.set_frame(*gray.shape)
        self.input_pane.set_image(gray)
        self.fit_pane.set_image(np.zeros((20, 20), np.float32))
        self.net_pane.set_image(np.zeros((28, 28), np.float32))
        self._box.hide()
        self._fit_frame.hide()
        self._placed.hide()

    def set_result(self, pre) -> None:
        """Show a ``preprocess.Preprocessed``: gray + box, fitted, image + where the fit landed."""
        self.input_pane.set_frame(*pre.gray.shape)
        self.input_pane.set_image(pre.gray)
        top, left, bottom, right = pre.box
        self._box.setRect(QRectF(left, top, right - left, bottom - top))
        self._box.show()
        h, w = pre.fitted.shape
        self.fit_pane.set_image(pre.fitted, QRectF((20 - w) / 2, (20 - h) / 2, w, h))
        self._fit_frame.show()
        self.net_pane.set_image(pre.image)
        r, c = pre.offset
        self._placed.setRect(QRectF(c, r, w, h))
        self._placed.show()

    def set_saliency(self, rgba: np.ndarray | None) -> None:
        """(28, 28, 4) uint8 RGBA over the 28x28 pane (the saliency overlay), or None to hide it."""
        if rgba is None:
            if not (self.saliency_item.isVisible() or self._saliency_dim.isVisible()):
                return      # already hidden (every prediction with the overlay off says None)
            self.saliency_item.clear()
            self.saliency_item.hide()
            self._saliency_dim.hide()
            return
        self.saliency_item.setImage(rgba, levels=(0, 255), autoLevels=False)
        self.saliency_item.setRect(QRectF(0, 0, rgba.shape[1], rgba.shape[0]))
        self.saliency_item.show()
        self._saliency_dim.show()


def ten_bars(item: pg.PlotItem, y_max: float, width: float) -> tuple[pg.BarGraphItem, list[pg.TextItem]]:
    """Make ``item`` a fixed plot of ten bars (digits 0-9 along x, 0..y_max up; no pan, zoom or menu) with
    an empty value label over each: -> (bars, labels). The probability and per-digit accuracy charts."""
    item.setMouseEnabled(False, False)
    item.setMenuEnabled(False)
    item.hideButtons()
    item.showGrid(x=False, y=True, alpha=0.15)
    item.setXRange(-0.6, 9.6, padding=0)
    item.setYRange(0, y_max, padding=0)
    bottom, left = item.getAxis("bottom"), item.getAxis("left")
    bottom.setTicks([[(i, str(i)) for i in range(10)]])
    for axis in (bottom, left):
        axis.setPen(pg.mkPen(PLOT_FOREGROUND))
        axis.setTextPen(pg.mkPen(PLOT_FOREGROUND))
        # the axes (and the grid the left one draws across the plot) repaint with every change of the bars:
        # from a cached pixmap, not by replaying their drawing (the Draw view's chart: 1.9 -> 0.8 ms a paint)
        axis.setCacheMode(QGraphicsItem.DeviceCoordinateCache)
    bars = pg.BarGraphItem(x=np.arange(10), height=np.zeros(10), width=width, brush=BAR_COLOR, pen=pg.mkPen(None))
    item.addItem(bars)
    labels = []
    for i in range(10):
        t = pg.TextItem("", color=PLOT_FOREGROUND, anchor=(0.5, 1.0))
        t.setPos(i, 0)
        item.addItem(t)
        labels.append(t)
    return bars, labels


class ProbabilityChart(QWidget):
    """Ten bars (digits 0-9, y 0..1), the top one highlighted, its digit and probability in large type.

    ``set_probabilities(None, hint)`` shows no bars and the hint instead (blank canvas, no model).
    With a ``verdict`` (mnist_desktop.confidence.Verdict) that is not a confident digit, the heading says
    so instead: "3 or 5?" (the two bars in UNSURE_COLOR) or "That doesn't look like a digit" (no bar
    highlighted); ``verdict_text`` is what the heading says.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self._build_head())
        layout.addWidget(self._build_plot(), 1)
        self._probs: np.ndarray | None = None
        self._digit_color = ""
        self._verdict_text = ""
        self.set_probabilities(None, "Draw a digit")

    def _build_head(self) -> QHBoxLayout:
        """The top digit in large type, its probability, the runner-up."""
        self.digit_label = QLabel("?")
        self.digit_label.setFont(scaled_font(self.font(), 3.6, bold=True))
        self.digit_label.setMinimumWidth(self.digit_label.fontMetrics().horizontalAdvance("8") + 12)
        self.digit_label.setAlignment(Qt.AlignCenter)
        self.detail_label = QLabel()
        self.detail_label.setFont(scaled_font(self.font(), 1.35))
        self.runner_label = QLabel()
        self.runner_label.setStyleSheet(f"color: {MUTED_TEXT};")
        text = QVBoxLayout()
        text.setSpacing(0)
        text.addStretch(1)
        text.addWidget(self.detail_label)
        text.addWidget(self.runner_label)
        text.addStretch(1)
        head = QHBoxLayout()
        head.addWidget(self.digit_label)
        head.addLayout(text, 1)
        return head

    def _build_plot(self) -> pg.PlotWidget:
        """Ten bars with their values above them, and a hint in the middle when there are none."""
        self.plot = pg.PlotWidget(background=PLOT_BACKGROUND)
        self.plot.setMinimumHeight(110)
        item = self.plot.getPlotItem()
        self.bars, self._values = ten_bars(item, 1.13, width=0.72)
        item.getAxis("left").setTicks([[(v, f"{int(v * 100)}%") for v in (0, 0.25, 0.5, 0.75, 1.0)]])
        item.getAxis("bottom").setStyle(tickFont=scaled_font(self.font(), 1.1))
        self.hint = pg.TextItem("", color=MUTED_TEXT, anchor=(0.5, 0.5))
        self.hint.setFont(scaled_font(self.font(), 1.4))
        self.hint.setTextWidth(360)
        self.hint.setPos(4.5, 0.55)
        item.addItem(self.hint)
        return self.plot

    def _set_digit_color(self, color: str) -> None:
        if color != self._digit_color:   # a style sheet re-polishes the widget: only on a change
            self._digit_color = color
            self.digit_label.setStyleSheet(f"color: {color};")

    @property
    def probabilities(self) -> np.ndarray | None:
        """The (10,) probabilities shown, or None when the chart shows a hint."""
        return self._probs

    @property
    def hint_text(self) -> str:
        """The hint shown instead of bars ('' while bars are shown)."""
        return self.hint.textItem.toPlainText() if self.hint.isVisible() else ""

    @property
    def verdict_text(self) -> str:
        """The heading's verdict: "3", "3 or 5?", "that doesn't look like a digit" ('' without bars)."""
        return self._verdict_text

    def set_probabilities(self, probs: np.ndarray | None, hint: str = "Draw a digit", verdict=None) -> None:
        """(10,) probabilities summing to 1, or None to show ``hint`` and no bars; ``verdict``: see the class."""
        self._verdict_text = ""
        if probs is None:
            self._probs = None
            self.bars.setOpts(height=np.zeros(10))
            self.bars.hide()
            for t in self._values:
                t.setText("")
            self.hint.setHtml(f"<div style='text-align:center; color:{MUTED_TEXT}'>"
                              + hint.replace("\n", "<br>") + "</div>")
            self.hint.show()
            self.digit_label.setText("?")
            self._set_digit_color(MUTED_TEXT)
            self.detail_label.setText("")
            self.runner_label.setText("The network's answer appears here while you draw.")
            return
        probs = np.asarray(probs, dtype=np.float64).reshape(10)
        self._probs = probs.copy()
        order = np.argsort(probs)[::-1]
        top, second = int(order[0]), int(order[1])
        kind = getattr(verdict, "kind", "digit")
        if kind == "unsure":
            brushes = [UNSURE_COLOR if i in (top, second) else BAR_COLOR for i in range(10)]
        elif kind == "not_digit":
            brushes = [BAR_COLOR] * 10
        else:
            brushes = [HIGHLIGHT_COLOR if i == top else BAR_COLOR for i in range(10)]
        self.bars.setOpts(height=probs, brushes=brushes)
        self.bars.show()
        self.hint.hide()
        for i, (t, p) in enumerate(zip(self._values, probs)):
            text = f"{100 * p:.0f}%" if p >= 0.005 else ""
            if text != t.toPlainText():   # TextItem updates are not free; most labels stay the same
                t.setText(text)
            if text:
                t.setPos(i, p + 0.005)
        if kind == "unsure":
            self._verdict_text = verdict.text
            self.digit_label.setText("?")
            self._set_digit_color(UNSURE_COLOR.name())
            self.detail_label.setText(f"<b>{verdict.text}</b> Not sure")
            self.runner_label.setText(f"{top}: {100 * probs[top]:.1f}%, {second}: {100 * probs[second]:.1f}% "
                                      f"({verdict.because})")
            return
        if kind == "not_digit":
            self._verdict_text = verdict.text
            self.digit_label.setText("?")
            self._set_digit_color(MUTED_TEXT)
            self.detail_label.setText(f"<b>{verdict.text[0].upper()}{verdict.text[1:]}</b>")
            self.runner_label.setText(f"{verdict.because}; the network alone would say {top} "
                                      f"({100 * probs[top]:.1f}%)")
            return
        self._verdict_text = str(top)
        self.digit_label.setText(str(top))
        self._set_digit_color(HIGHLIGHT_COLOR.name())
        self.detail_label.setText(f"<b>{100 * probs[top]:.1f}%</b> sure it is {'an' if top == 8 else 'a'} {top}")
        self.runner_label.setText(f"next best: {second} ({100 * probs[second]:.1f}%)")


class MessageBanner(QFrame):
    """An inline, non-modal message above a view's content: errors stay until closed or replaced,
    info messages fade after a few seconds."""

    STYLES = BANNER_COLORS  # level: (background, text, border)
    closed = Signal()

    def __init__(self, parent: QWidget | None = None, reserve_lines: int | None = None) -> None:
        """``reserve_lines``: keep room for that many lines of text whether a message shows or not, so the
        content below never moves when one comes or goes (longer messages: the rest in the tooltip)."""
        super().__init__(parent)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.label.setAlignment(Qt.AlignLeft | Qt.AlignTop)
        close = QToolButton()
        close.setText("✕")
        close.setAutoRaise(True)
        close.setToolTip("Dismiss")
        close.clicked.connect(self.dismiss)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        layout.addWidget(self.label, 1)
        layout.addWidget(close, 0, Qt.AlignTop)
        self.level = ""
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.dismiss)
        if reserve_lines:
            self.setFixedHeight(reserve_lines * self.label.fontMetrics().lineSpacing() + 14)
            policy = self.sizePolicy()
            policy.setRetainSizeWhenHidden(True)
            self.setSizePolicy(policy)
            self.label.setMinimumWidth(1)             # a fixed height must not make the wrapped text ask for width
            self.label.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        self.hide()

    @property
    def text(self) -> str:
        return self.label.text() if not self.isHidden() else ""

    def show_message(self, text: str, level: str = "error", timeout_ms: int | None = None) -> None:
        """Show ``text``; level is 'error', 'warning' or 'info' (info hides itself after 6 s)."""
        self.level = level
        bg, fg, border = self.STYLES.get(level, self.STYLES["error"])
        self.setStyleSheet(f"MessageBanner {{ background: {bg}; border: 1px solid {border}; border-radius: 4px; }}")
        self.label.setStyleSheet(f"color: {fg}; border: none; background: transparent;")
        self.label.setText(text)
        self.setToolTip(text if "\n" in text or len(text) > 160 else "")
        self.show()
        if timeout_ms is None and level == "info":
            timeout_ms = 6000
        if timeout_ms:
            self._timer.start(timeout_ms)
        else:
            self._timer.stop()

    def dismiss(self) -> None:
        self._timer.stop()
        if not self.isHidden():
            self.hide()
            self.closed.emit()


NO_MODEL_TEXT = "No model loaded.\nOpen one with File › Open model… (Ctrl+M), or pick one in the Draw view."


def no_model_hint(text: str = NO_MODEL_TEXT) -> QLabel:
    """The large grey hint a view shows instead of its content while no model is loaded."""
    hint = QLabel(text)
    hint.setAlignment(Qt.AlignCenter)
    hint.setWordWrap(True)
    hint.setFont(scaled_font(hint.font(), 1.4))
    hint.setStyleSheet(f"color: {MUTED_TEXT};")
    return hint
