"""The Imagine view: what does the network think a 3 looks like? And a look at its first layer.

Two tabs:

    Imagine       a digit (0-9 buttons) or all ten; back-projection or activation maximisation
                  (``explain``); blue-white-red evidence map or white-on-black pixels, a colour bar, one
                  line saying what the colours mean; every imagined image fed back through the network
                  and its verdict shown beside it.
    First layer   the first layer's weights as tiles: an MLP's hidden units as 28x28 images, a CNN's
                  convolution filters and, for the current drawing (``image_source``), what each filter
                  finds in it.

Work and threads. Back-projecting all ten digits takes 1-20 ms, so it runs on the UI thread. Activation
maximisation takes 0.15 s (MLP) to 2-3 s (CNN) for ten, so it is a job on the view's ``JobRunner``
(app/jobs.py) working on ``net.copy()``
(explain's functions use the layers' forward/backward caches), two digits per batch (the rest at once
when a batch is quick): tiles fill in as batches finish, a progress bar counts them, and a new model
cancels the job at the next batch.
Results are kept per model and method, so switching back and forth costs nothing. Nothing is computed
while the view is hidden; showing it catches up.

    view = ImagineView(state, image_source=lambda: drawing_28x28_or_None)
    view.set_digit(3) / view.set_digit(None)      # one digit, or all ten
    view.set_method("maximize")                    # or "backproject"
    view.imagined(3)                               # the explain.Imagined shown for 3, or None
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QPalette, QPen
from PySide6.QtWidgets import (QApplication, QButtonGroup, QFrame, QGraphicsRectItem, QGroupBox, QHBoxLayout, QLabel,
                               QProgressBar, QPushButton, QSizePolicy, QStackedWidget, QTabWidget, QVBoxLayout,
                               QWidget)

from mnist_desktop import explain, heatmap
from mnist_desktop.app.jobs import Job, JobRunner
from mnist_desktop.app.state import AppState, LoadedModel
from mnist_desktop.app.style import MUTED_TEXT, PLOT_FOREGROUND, RIGHT_COLOR, WRONG_COLOR, scaled_font
from mnist_desktop.app.widgets import ProbabilityChart
from mnist_desktop.engine.network import Network

ALL = None                       # set_digit(ALL): the ten digits at once
METHOD_TITLES = {"backproject": "Back-projection", "maximize": "Activation maximisation"}
CHUNK = 2                        # digits per maximisation batch: progress and cancel points (CNN: no slower than 10)
QUICK_BATCH_S = 0.15             # a first batch quicker than this: the rest in one batch (MLPs: 0.14 s for ten)
NO_MODEL_TEXT = ("No model loaded.\nOpen one with File › Open model… (Ctrl+M), or pick one in the Draw view.")


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
        return text + " Fed back: the red part is used as ink."
    sure = f"it sees a {digit}" if digit is not None else "it sees the digit"
    text = (f"<b>Activation maximisation</b>: from faint noise, the pixels were nudged "
            f"{steps} times in whatever direction made the network surer {sure}, "
            f"kept between black and white and slightly blurred so they form strokes: the network's own "
            f"ideal, not a person's. White is ink; each image is brightened until its brightest pixel is white")
    if imagined is not None:
        text += f" (it was {float(imagined.image.max()):.2f})"
    return text + "."


# ---- the work (on a JobRunner's thread) ----------------------------------------------------------------


def _maximize_work(net: Network, method: str, digits: list[int], options: dict):
    """Maximise ``digits`` CHUNK at a time (the rest at once if a batch was quick) on ``net`` (a copy the
    job owns), feed each image back, ``job.report(list[explain.Imagined])`` per batch; stops between
    batches when cancelled."""
    def work(job: Job) -> None:
        start, size = 0, CHUNK
        while start < len(digits) and not job.cancelled:
            chunk = digits[start:start + size]
            start += len(chunk)
            t0 = time.perf_counter()
            images = explain.maximize_batch(net, chunk, **options)
            if time.perf_counter() - t0 < QUICK_BATCH_S:
                size = len(digits)          # quick (an MLP): the rest in one batch, faster than in pairs
            items = []
            for d, image in zip(chunk, images):
                probs = explain.feed_back(net, image)
                items.append(explain.Imagined(int(d), method, image, probs, int(np.argmax(probs))))
            job.report(items)
    return work


# ---- widgets ------------------------------------------------------------------------------------------------


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


class _TileGrid(QWidget):
    """The ten tiles in 2 rows of 5, as large as the space allows, each caption right under its picture
    (a grid layout would leave the spare height between picture and caption)."""

    def __init__(self, tiles: list[ImageBox], cols: int = 5, gap: int = 12, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tiles, self.cols, self.gap = tiles, cols, gap
        self.rows = -(-len(tiles) // cols)
        for t in tiles:
            t.setParent(self)

    def caption_height(self) -> int:
        return 2 * self.fontMetrics().lineSpacing() + 6

    def sizeHint(self) -> QSize:
        return QSize(self.cols * 160, self.rows * (160 + self.caption_height()))

    def minimumSizeHint(self) -> QSize:
        return QSize(self.cols * 60, self.rows * (60 + self.caption_height()))

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._place()

    def _place(self) -> None:
        w, h, cap, gap = self.width(), self.height(), self.caption_height(), self.gap
        side = int(min((w - gap * (self.cols - 1)) / self.cols, (h - gap * (self.rows - 1)) / self.rows - cap))
        side = max(side, 30)
        x0 = (w - (self.cols * side + gap * (self.cols - 1))) // 2
        y0 = max(0, (h - (self.rows * (side + cap) + gap * (self.rows - 1))) // 2)
        for i, t in enumerate(self.tiles):
            r, c = divmod(i, self.cols)
            t.setGeometry(x0 + c * (side + gap), y0 + r * (side + cap + gap), side, side + cap)


# ---- the view -------------------------------------------------------------------------------------------------


class ImagineView(QWidget):
    """What the network imagines for each digit, and its first layer. See the module docstring.

    ``image_source``: returns the current drawing as the network sees it, (28, 28) in [0, 1], or None.
    ``maximize_options``: keyword arguments for ``explain.maximize_batch`` (tests use fewer steps).

    Signals:
        updated(): after the pictures changed (a result arrived, the digit, method or model changed).
        busy_changed(bool): a maximisation job started (True) or ended (False).
    """

    updated = Signal()
    busy_changed = Signal(bool)

    def __init__(self, state: AppState, image_source: Callable[[], np.ndarray | None] | None = None,
                 maximize_options: dict | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.image_source = image_source
        self.maximize_options = dict(maximize_options or {})
        self._model: LoadedModel | None = None
        self._results: dict[str, dict[int, explain.Imagined]] = {}
        self._error: str | None = None
        self.jobs = JobRunner(self, name="imagine")
        self.jobs.progressed.connect(self._on_job_progressed)
        self.jobs.finished.connect(self._on_job_finished)
        self.jobs.busy_changed.connect(self.busy_changed)
        self._digit: int | None = ALL
        self._method = "backproject"
        self._first_done = False
        self._done = 0                   # digits the running maximisation has delivered

        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self._build_imagine_tab(), "Imagine a digit")
        self.first_panel = FirstLayerPanel()
        self.tabs.addTab(self.first_panel, "First layer")

        ## no model: a hint instead of everything
        self.hint = QLabel(NO_MODEL_TEXT)
        self.hint.setAlignment(Qt.AlignCenter)
        self.hint.setWordWrap(True)
        self.hint.setFont(scaled_font(self.font(), 1.4))
        self.hint.setStyleSheet(f"color: {MUTED_TEXT};")
        self.outer = QStackedWidget()
        self.outer.addWidget(self.hint)
        self.outer.addWidget(self.tabs)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 6)
        layout.addWidget(self.outer)

        self.all_button.setChecked(True)
        self.method_buttons[self._method].setChecked(True)
        self._digit_group.idClicked.connect(self._on_digit_group_clicked)
        self._method_group.idClicked.connect(self._on_method_group_clicked)
        self.tabs.currentChanged.connect(self._on_tabs_changed)
        self.state.model_changed.connect(self._on_state_model_changed)
        self._on_state_model_changed(self.state.model)

    def _build_controls(self) -> QHBoxLayout:
        """Digit buttons 0-9 and All ten, the two methods, the progress bar."""
        self.digit_buttons: list[QPushButton] = []
        self._digit_group = QButtonGroup(self)
        digits_row = QHBoxLayout()
        digits_row.setSpacing(3)
        digits_row.addWidget(QLabel("Digit"))
        for d in range(10):
            b = QPushButton(str(d))
            b.setCheckable(True)
            b.setFixedWidth(max(34, b.fontMetrics().horizontalAdvance("8") + 22))
            b.setToolTip(f"What does the network think a {d} looks like?")
            self._digit_group.addButton(b, d)
            self.digit_buttons.append(b)
            digits_row.addWidget(b)
        self.all_button = QPushButton("All ten")
        self.all_button.setCheckable(True)
        self.all_button.setToolTip("Show the ten digits side by side")
        self._digit_group.addButton(self.all_button, 10)
        digits_row.addSpacing(6)
        digits_row.addWidget(self.all_button)

        self._method_group = QButtonGroup(self)
        self.method_buttons: dict[str, QPushButton] = {}
        method_row = QHBoxLayout()
        method_row.setSpacing(3)
        method_row.addWidget(QLabel("Method"))
        tips = {"backproject": "The digit's output pushed backwards through the weights: a map of which "
                               "pixels count for and against the digit (instant).",
                "maximize": "Grow an image, pixel by pixel, that the network is sure shows the digit "
                            "(gradient ascent; takes a moment on a CNN)."}
        for i, method in enumerate(explain.METHODS):
            b = QPushButton(METHOD_TITLES[method])
            b.setCheckable(True)
            b.setToolTip(tips[method])
            self._method_group.addButton(b, i)
            self.method_buttons[method] = b
            method_row.addWidget(b)

        self.progress = QProgressBar()
        self.progress.setMinimumWidth(self.progress.fontMetrics().horizontalAdvance("imagining 10/10") + 24)
        self.progress.setMaximumWidth(220)          # takes the spare width only: a 1024-px window still fits
        self.progress.setFormat("imagining %v/%m")
        self.progress.setToolTip("Activation maximisation runs in the background; the pictures appear as "
                                 "they are ready")
        self.progress.setVisible(False)

        controls = QHBoxLayout()
        controls.addLayout(digits_row)
        controls.addSpacing(18)
        controls.addLayout(method_row)
        controls.addStretch(1)
        controls.addWidget(self.progress, 1)
        return controls

    def _build_imagine_tab(self) -> QWidget:
        """Controls; a page with the ten tiles and a page with one digit and its verdict; the explanation."""
        controls = self._build_controls()
        ## page: all ten
        self.tiles: list[ImageBox] = []
        for d in range(10):
            t = ImageBox(min_size=30)
            t.setToolTip(f"Click to look at the {d} on its own")
            t.clicked.connect(lambda d=d: self.set_digit(d))
            self.tiles.append(t)
        self.grid = _TileGrid(self.tiles)
        self.grid_bar = ColorBar()
        grid_page = QWidget()
        gl = QHBoxLayout(grid_page)
        gl.setContentsMargins(0, 0, 0, 0)
        gl.addWidget(self.grid, 1)
        gl.addWidget(self.grid_bar, 0, Qt.AlignVCenter)

        ## page: one digit, big, with what the network makes of it
        self.big = ImageBox(min_size=200)
        self.single_bar = ColorBar()
        self.fed_box = ImageBox(min_size=90)
        self.fed_box.setMaximumWidth(230)
        self.fed_box.caption.setStyleSheet(f"color: {MUTED_TEXT};")
        self.chart = ProbabilityChart()
        fed_group = QGroupBox("Fed back through the network")
        fl = QVBoxLayout(fed_group)
        fed_row = QHBoxLayout()
        fed_row.addStretch(1)
        fed_row.addWidget(self.fed_box, 2)
        fed_row.addStretch(1)
        fl.addLayout(fed_row, 2)
        fl.addWidget(self.chart, 3)
        single_page = QWidget()
        sl = QHBoxLayout(single_page)
        sl.setContentsMargins(0, 0, 0, 0)
        sl.addWidget(self.big, 5)
        sl.addWidget(self.single_bar, 0, Qt.AlignVCenter)
        sl.addSpacing(8)
        sl.addWidget(fed_group, 4)

        self.pages = QStackedWidget()
        self.pages.addWidget(grid_page)
        self.pages.addWidget(single_page)

        self.explanation = QLabel()
        self.explanation.setWordWrap(True)
        self.explanation.setTextFormat(Qt.RichText)
        self.explanation.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Minimum)
        self.explanation.setFont(scaled_font(self.font(), 1.05))
        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet(f"color: {WRONG_COLOR};")
        self.error_label.hide()

        imagine_tab = QWidget()
        il = QVBoxLayout(imagine_tab)
        il.addLayout(controls)
        il.addWidget(self.pages, 1)
        il.addWidget(self.error_label)
        il.addWidget(self.explanation)
        return imagine_tab

    # ---- public -------------------------------------------------------------------------------------------

    @property
    def digit(self) -> int | None:
        """The digit shown on its own, or None (ALL) when the ten are shown."""
        return self._digit

    @property
    def method(self) -> str:
        return self._method

    @property
    def busy(self) -> bool:
        """A maximisation job is running."""
        return self.jobs.busy

    def set_digit(self, digit: int | None) -> None:
        """Show ``digit`` (0-9) on its own, or all ten (None)."""
        if digit is not None and not 0 <= int(digit) <= 9:
            raise ValueError(f"digit must be 0-9 or None (all ten), got {digit}")
        self._digit = None if digit is None else int(digit)
        button = self.all_button if digit is None else self.digit_buttons[self._digit]
        if not button.isChecked():
            button.setChecked(True)
        self.refresh()

    def set_method(self, method: str) -> None:
        """'backproject' or 'maximize' (explain.METHODS)."""
        if method not in explain.METHODS:
            raise ValueError(f"unknown method {method!r} (expected one of {', '.join(explain.METHODS)})")
        self._method = method
        if not self.method_buttons[method].isChecked():
            self.method_buttons[method].setChecked(True)
        self.refresh()

    def imagined(self, digit: int) -> explain.Imagined | None:
        """The result shown (or ready to show) for ``digit`` with the current method; None until computed."""
        return self._results.get(self._method, {}).get(digit)

    def shown_digits(self) -> list[int]:
        return list(range(10)) if self._digit is None else [self._digit]

    def refresh(self) -> None:
        """Bring the pictures up to date now (computing what is missing; maximisation in the background).
        While the view is hidden only the state is recorded; showing it calls this."""
        if not self.isVisible():
            return
        model = self._model
        if model is None:
            self.outer.setCurrentWidget(self.hint)
            self.updated.emit()
            return
        self.outer.setCurrentWidget(self.tabs)
        if self.tabs.currentIndex() == 0:
            self._compute()
            self._show_imagined()
        else:
            self._show_first_layer()
        self.updated.emit()

    def shutdown(self, timeout: float = 10.0) -> None:
        """Cancel a running maximisation and wait (at most ``timeout`` seconds) for its thread (closing,
        application quit)."""
        self.jobs.shutdown(timeout)
        self.progress.setVisible(False)

    # ---- events ---------------------------------------------------------------------------------------------

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.refresh()

    def closeEvent(self, event) -> None:
        self.shutdown()
        super().closeEvent(event)

    def _on_state_model_changed(self, model: LoadedModel | None) -> None:
        self.jobs.cancel_all()              # its thread stops after the current batch; results dropped
        self.progress.setVisible(False)
        self._model = model
        self._results = {}
        self._error = None
        self._first_done = False
        self.refresh()

    def _on_digit_group_clicked(self, button_id: int) -> None:
        self.set_digit(None if button_id == 10 else button_id)

    def _on_method_group_clicked(self, button_id: int) -> None:
        self.set_method(explain.METHODS[button_id])

    def _on_tabs_changed(self, index: int) -> None:
        self.refresh()

    # ---- computing ------------------------------------------------------------------------------------------

    def _compute(self) -> None:
        """Fill ``_results`` for the digits on show: back-projection here (all ten, milliseconds),
        maximisation through a worker job."""
        net = self._model.net
        done = self._results.setdefault(self._method, {})
        if self._method == "backproject":
            if len(done) < 10 and self._error is None:
                try:
                    for r in explain.imagine_all(net, "backproject"):
                        done[r.digit] = r
                except ValueError as exc:           # e.g. a network whose input is not 28x28
                    self._error = f"This model cannot be imagined: {exc}"
            return
        missing = [d for d in self.shown_digits() if d not in done]
        if missing and not self.jobs.busy and self._error is None:
            self._start_job(missing)

    def _start_job(self, digits: list[int]) -> None:
        work = _maximize_work(self._model.net.copy(), "maximize", list(digits), dict(self.maximize_options))
        self.jobs.start("maximize", work, method="maximize", digits=list(digits))
        self._done = 0
        self.progress.setRange(0, len(digits))
        self.progress.setValue(0)
        self.progress.setVisible(True)

    def _on_job_progressed(self, job: Job, values: tuple) -> None:
        items = values[0]
        method = job.info["method"]
        for r in items:
            self._results.setdefault(method, {})[r.digit] = r
        self._done += len(items)
        self.progress.setValue(self._done)
        if self.isVisible() and self._method == method and self.tabs.currentIndex() == 0:
            self._show_imagined()
            self.updated.emit()

    def _on_job_finished(self, job: Job) -> None:
        self.progress.setVisible(False)
        if job.error is not None:
            self._error = f"Activation maximisation failed: {type(job.error).__name__}: {job.error}"
        self.refresh()                      # start what is missing now (other digits)

    # ---- showing: imagine tab ---------------------------------------------------------------------------------

    def _show_imagined(self) -> None:
        first = self._first_kind()
        results = self._results.get(self._method, {})
        signed = self._method == "backproject"
        guide = signed and first == "dense"
        self.error_label.setText(self._error or "")
        self.error_label.setVisible(bool(self._error))
        waiting = "imagining…" if self._error is None else ""
        if self._digit is None:
            self.pages.setCurrentIndex(0)
            for d, tile in enumerate(self.tiles):
                r = results.get(d)
                if r is None:
                    tile.clear(waiting)
                    tile.caption.setText(f"<b>{d}</b>")
                    tile.setToolTip(f"Click to look at the {d} on its own")
                    continue
                tile.set_image(r.image, *self._levels_lut(r.image, signed))
                tile.caption.setText(self._verdict_html(r, short=True))
                tile.setToolTip(self._verdict_tooltip(r))
            for tile in self.tiles:
                tile.guide.setVisible(guide and tile.image is not None)
            self._set_bar(self.grid_bar, signed, None)
            self.explanation.setText(explanation(self._method, None, first, steps=self._steps()))
            return
        self.pages.setCurrentIndex(1)
        d = self._digit
        r = results.get(d)
        self._set_bar(self.single_bar, signed, d)
        if r is None:
            self.big.clear(waiting)
            self.big.caption.setText("")
            self.fed_box.clear(waiting)
            self.fed_box.caption.setText("")
            self.chart.set_probabilities(None, "imagining…" if self._error is None else "")
            self.chart.runner_label.setText("")
        else:
            self.big.set_image(r.image, *self._levels_lut(r.image, signed))
            self.big.caption.setText(self._verdict_html(r, short=False))
            fed = explain.as_input(r.image)
            self.fed_box.set_image(fed, (0.0, 1.0))
            self.fed_box.caption.setText("what the network reads: "
                                         + ("the red part as ink" if signed else "the image itself"))
            self.chart.set_probabilities(r.probabilities)
        self.big.guide.setVisible(guide and r is not None)
        self.explanation.setText(explanation(self._method, d, first, r, steps=self._steps()))

    def _steps(self) -> int:
        return int(self.maximize_options.get("steps", explain.MAXIMIZE_DEFAULTS["steps"]))

    @staticmethod
    def _levels_lut(image: np.ndarray, signed: bool):
        if signed:
            return (-1.0, 1.0), heatmap.DIVERGING_LUT          # back-projections have max |v| = 1
        top = float(image.max())
        return (0.0, top if top > 0 else 1.0), heatmap.GRAY_LUT         # stretched: brightest pixel white

    @staticmethod
    def _verdict_html(r: explain.Imagined, short: bool) -> str:
        color = RIGHT_COLOR if r.recognised else WRONG_COLOR
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
        return said

    @staticmethod
    def _verdict_tooltip(r: explain.Imagined) -> str:
        top = np.argsort(r.probabilities)[::-1][:3]
        parts = ", ".join(f"{int(i)}: {r.probabilities[i] * 100:.1f}%" for i in top)
        return f"Imagined {r.digit}, fed back: {parts}. Click to look at it on its own."

    def _set_bar(self, bar: ColorBar, signed: bool, digit: int | None) -> None:
        if signed:
            what = str(digit) if digit is not None else "the digit"
            bar.set_scale(heatmap.DIVERGING_LUT, -1.0, 1.0,
                          [(1.0, f"for {what}"), (0.0, "no effect"), (-1.0, f"against {what}")])
        else:
            bar.set_scale(heatmap.GRAY_LUT, 0.0, 1.0, [(1.0, "brightest"), (0.5, "ink"), (0.0, "no ink")])

    def _first_kind(self) -> str | None:
        return explain.first_layer_kind(self._model.net) if self._model is not None else None

    # ---- showing: first-layer tab -----------------------------------------------------------------------------

    def _show_first_layer(self) -> None:
        if not self._first_done:
            self._first_done = True
            self.first_panel.set_network(self._model.net)
        image = self.image_source() if self.image_source is not None else None
        self.first_panel.set_drawing(image)


class FirstLayerPanel(QWidget):
    """The First layer tab: the first layer's weights as tiles (MLP: hidden units as 28x28 pictures;
    CNN: the convolution filters) and, for a CNN and a drawing, each filter's feature map, in the same
    grid positions as the filters above them.

    ``first``: the FirstLayer shown (None: no model yet, or weights that are not pictures).
    ``maps``: the FeatureMaps shown (None without a CNN or a drawing).
    """

    LEFT = 150     # the left column: colour bar beside the weights, the drawing beside the maps

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.net: Network | None = None
        self.first: explain.FirstLayer | None = None
        self.maps: explain.FeatureMaps | None = None
        self.title = QLabel()
        self.title.setFont(scaled_font(self.font(), 1.1, bold=True))
        self.weights_box = ImageBox(min_size=120)
        self.bar = ColorBar()
        self.bar.set_scale(heatmap.DIVERGING_LUT, -1.0, 1.0, [(1.0, "ink wanted"), (0.0, "0"), (-1.0, "ink unwanted")])
        self.input_box = ImageBox(min_size=60)
        self.input_box.setFixedWidth(self.LEFT)
        self.input_box.caption.setText(f"<span style='color:{MUTED_TEXT}'>your drawing, as the network sees it</span>")
        self.maps_box = ImageBox(min_size=120)
        self.hint = QLabel()
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet(f"color: {MUTED_TEXT};")
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setTextFormat(Qt.RichText)
        self.text.setFont(scaled_font(self.font(), 1.05))
        top, bottom = QHBoxLayout(), QHBoxLayout()
        left = QVBoxLayout()                      # the colour bar, centred in a LEFT-wide column
        left.addWidget(self.bar, 0, Qt.AlignCenter)
        self._left = QWidget()
        self._left.setFixedWidth(self.LEFT)
        self._left.setLayout(left)
        top.addWidget(self._left)
        top.addWidget(self.weights_box, 1)
        bottom.addWidget(self.input_box, 0, Qt.AlignVCenter)
        bottom.addWidget(self.maps_box, 1)
        self._rows = QVBoxLayout()
        self._rows.addLayout(top, 1)
        self._rows.addLayout(bottom, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addLayout(self._rows, 1)
        layout.addWidget(self.hint)
        layout.addWidget(self.text)
        self._show_maps(False)

    def _show_maps(self, on: bool) -> None:
        self.input_box.setVisible(on)
        self.maps_box.setVisible(on)
        self._rows.setStretch(1, 1 if on else 0)

    def _cell(self) -> int | None:
        """Side of a feature map of the first conv layer (its filters are drawn in squares this big)."""
        if self.first is None or self.first.kind != "conv2d":
            return None
        return int(self.net.shapes[self.first.index + 1][0])

    def set_network(self, net: Network | None) -> None:
        """Show ``net``'s first-layer weights (once per model; they do not change while shown)."""
        self.net, self.maps = net, None
        self.first = explain.first_layer(net) if net is not None else None
        first = self.first
        self._show_maps(False)
        self.hint.setText("")
        if first is None:
            self.title.setText("First layer")
            self.weights_box.clear("no picture for this layer")
            self.text.setText("This model's first layer does not look at the 28×28 picture directly, so its "
                              "weights cannot be drawn as pictures.")
            return
        shown = len(first.tiles)
        of = f" (the first {shown} of {first.total})" if shown < first.total else ""
        self.weights_box.set_image(heatmap.weights_rgb(first.tiles, self._cell()))
        if first.kind == "dense":
            self.title.setText(f"First layer: what each hidden unit looks for{of}")
            self.text.setText(
                "Each square is one hidden unit: its 784 incoming weights laid out as the 28×28 picture. "
                f"Ink on a <b style='color:{heatmap.EVIDENCE_FOR}'>red</b> pixel turns the unit up, ink on a "
                f"<b style='color:{heatmap.EVIDENCE_AGAINST}'>blue</b> pixel turns it down; each square has its "
                "own scale. "
                "The speckled frame is where MNIST never has ink: those weights never changed from their "
                "random start.")
            return
        k = first.tiles.shape[1]
        self.title.setText(f"First layer: {first.total} convolution filters of {k}×{k} pixels{of}")
        self.text.setText(
            "Each filter slides over the picture and responds where the ink matches its pattern "
            f"(<b style='color:{heatmap.EVIDENCE_FOR}'>red</b>: ink wanted, "
            f"<b style='color:{heatmap.EVIDENCE_AGAINST}'>blue</b>: ink unwanted; "
            "each filter on its own scale, enlarged).")

    def set_drawing(self, image: np.ndarray | None) -> None:
        """The current drawing (28, 28) in [0, 1], or None: a CNN shows what each filter finds in it."""
        first = self.first
        if first is None or first.kind != "conv2d":
            return
        self.maps = explain.first_conv_maps(self.net, image) if image is not None else None
        if self.maps is None:
            self._show_maps(False)
            self.hint.setText("Draw a digit in the Draw view to see what each filter finds in it.")
            return
        self._show_maps(True)
        self.hint.setText("")
        self.input_box.set_image(np.asarray(image, np.float32).reshape(28, 28), (0.0, 1.0))
        self.maps_box.set_image(heatmap.maps_rgb(self.maps.maps, self.maps.signed, self._cell()))
        where = "brighter: stronger" if not self.maps.signed else "red: pattern found, blue: its opposite"
        self.maps_box.caption.setText(
            f"<span style='color:{MUTED_TEXT}'>below each filter: where it responds in your drawing "
            f"(after {self.maps.stage.replace(' > ', ', ')}; {where})</span>")
