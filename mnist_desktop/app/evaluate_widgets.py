"""The Evaluate view's widgets: the confusion matrix, a gallery of test digits, per-digit accuracy bars,
the accuracy header, a labelled slider. They show what they are given (counts, images, probabilities);
colours come from ``heatmap`` (NumPy) and ``style``.

    matrix = ConfusionMatrix(); matrix.set_matrix(conf)       # (10, 10) counts; cell_clicked(true, predicted)
    gallery = DigitGallery(); gallery.set_digits(indices, images, labels, probs)   # digit_clicked(index)
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QIcon, QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (QHBoxLayout, QLabel, QListView, QListWidget, QListWidgetItem, QProgressBar,
                               QPushButton, QSizePolicy, QSlider, QToolTip, QVBoxLayout, QWidget)

from mnist_desktop import heatmap
from mnist_desktop.app.style import (ACCENT, MUTED_TEXT, PLOT_BACKGROUND, PLOT_FOREGROUND, RIGHT_COLOR, WEAK_BAR_COLOR,
                                     WRONG_COLOR, scaled_font)
from mnist_desktop.app.widgets import ten_bars

THUMB_SCALE = 2                      # 28x28 -> 56x56, nearest neighbour: crisp pixels
GALLERY_LIMIT = 240                  # thumbnails shown per gallery (a diagonal cell holds ~1,000)


def probabilities_html(index: int, label: int, probs: np.ndarray, note: str = "") -> str:
    """Tooltip of a test digit: its number, true label, the network's reading and the ten probabilities."""
    pred = int(np.argmax(probs))
    color = RIGHT_COLOR if pred == label else WRONG_COLOR
    cells = "".join(f"<td align='center' style='padding:0 4px'>{'<b>' if d == pred else ''}{d}"
                    f"{'</b>' if d == pred else ''}</td>" for d in range(10))
    values = "".join(f"<td align='right' style='padding:0 4px'>{100 * p:.1f}</td>" for p in probs)
    return (f"<b>Test digit #{index}</b>: labelled {label}, read as <b style='color:{color}'>{pred}</b> "
            f"({100 * probs[pred]:.1f}%){note}<table><tr><td>digit</td>{cells}</tr>"
            f"<tr><td>%</td>{values}</tr></table><i>Click to open it in the Draw view</i>")


# ---- widgets -------------------------------------------------------------------------------------------------------


def _thumbnail(image: np.ndarray, scale: int = THUMB_SCALE) -> QPixmap:
    """(28, 28) float in [0, 1] -> a QPixmap ``scale`` times larger, pixel blocks kept sharp."""
    g = heatmap.upscale_nearest(heatmap.grayscale_rgb(image)[..., 0], scale)
    g = np.ascontiguousarray(g)
    h, w = g.shape
    return QPixmap.fromImage(QImage(g.data, w, h, g.strides[0], QImage.Format_Grayscale8).copy())


class ConfusionMatrix(QWidget):
    """The confusion matrix drawn as coloured cells with their counts; rows true digit, columns predicted.
    Click a cell (or call ``set_selected``) to pick it: ``cell_clicked(true, predicted)``."""

    cell_clicked = Signal(int, int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.conf: np.ndarray | None = None
        self.selected: tuple[int, int] | None = None
        self._colors = self._dark = None
        self.setMinimumSize(260, 260)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
        self.setMouseTracking(True)

    def set_matrix(self, conf: np.ndarray | None) -> None:
        """(K, K) counts, or None for an empty frame."""
        self.conf = None if conf is None else np.asarray(conf)
        if self.conf is not None:
            self._colors = heatmap.confusion_colors(self.conf)
            self._dark = heatmap.dark_cells(self._colors)
        self.update()

    def set_selected(self, cell: tuple[int, int] | None) -> None:
        self.selected = cell
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(480, 480)

    def _geometry(self) -> tuple[float, float, float]:
        """(left, top, cell side) in widget pixels: room for the axis titles and digit labels."""
        fm = self.fontMetrics()
        margin = fm.lineSpacing() * 2 + 10
        side = max(8.0, min((self.width() - margin - 4) / 10, (self.height() - margin - 4) / 10))
        left = margin + max(0.0, (self.width() - margin - 10 * side) / 2)
        return left, margin, side

    def cell_at(self, pos: QPointF) -> tuple[int, int] | None:
        left, top, side = self._geometry()
        c, r = int((pos.x() - left) // side), int((pos.y() - top) // side)
        return (r, c) if 0 <= r < 10 and 0 <= c < 10 and pos.x() >= left and pos.y() >= top else None

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.TextAntialiasing, True)
        left, top, side = self._geometry()
        fm = self.fontMetrics()
        line = fm.lineSpacing()
        muted = QColor(MUTED_TEXT)
        ## axis titles and digit labels
        p.setFont(scaled_font(self.font(), bold=True))
        p.setPen(QColor(PLOT_FOREGROUND))
        p.drawText(QRectF(left, 0, 10 * side, line + 2), Qt.AlignCenter, "predicted digit →")
        p.save()
        p.translate(0, top + 10 * side)
        p.rotate(-90)
        p.drawText(QRectF(0, 0, 10 * side, line + 2), Qt.AlignCenter, "← true digit")
        p.restore()
        for i in range(10):
            p.drawText(QRectF(left + i * side, line + 4, side, line), Qt.AlignCenter, str(i))
            p.drawText(QRectF(line + 4, top + i * side, left - line - 8, side), Qt.AlignVCenter | Qt.AlignRight, str(i))
        ## cells
        count_font = QFont(self.font())
        count_font.setPixelSize(max(8, min(int(side * 0.34), 18)))
        p.setFont(count_font)
        cfm = p.fontMetrics()
        for r in range(10):
            for c in range(10):
                rect = QRectF(left + c * side, top + r * side, side, side)
                if self.conf is None:
                    p.fillRect(rect.adjusted(0.5, 0.5, -0.5, -0.5), QColor(*heatmap.CONFUSION_ZERO))
                    continue
                p.fillRect(rect.adjusted(0.5, 0.5, -0.5, -0.5), QColor(*(int(v) for v in self._colors[r, c])))
                n = int(self.conf[r, c])
                text = f"{n:,}" if cfm.horizontalAdvance(f"{n:,}") < side - 2 else str(n)
                p.setPen(QColor("white") if self._dark[r, c] else (muted if n == 0 else QColor(PLOT_FOREGROUND)))
                p.drawText(rect, Qt.AlignCenter, text)
        if self.selected is not None:
            r, c = self.selected
            rect = QRectF(left + c * side, top + r * side, side, side)
            p.setBrush(Qt.NoBrush)
            p.setPen(QPen(QColor(ACCENT), 4))                 # blue outside, white inside: seen on any colour
            p.drawRect(rect.adjusted(-1, -1, 1, 1))
            p.setPen(QPen(QColor("white"), 1.5))
            p.drawRect(rect.adjusted(2, 2, -2, -2))
        p.end()

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.LeftButton and self.conf is not None:
            cell = self.cell_at(event.position())
            if cell is not None:
                self.cell_clicked.emit(*cell)
                return
        super().mousePressEvent(event)

    def event(self, e) -> bool:
        if e.type() == QEvent.ToolTip and self.conf is not None:
            cell = self.cell_at(QPointF(e.pos()))
            if cell is None:
                QToolTip.hideText()
            else:
                r, c = cell
                n, row = int(self.conf[r, c]), int(self.conf[r].sum())
                what = f"{r}s read as {c}" if r != c else f"{r}s read correctly"
                share = f" ({100 * n / row:.1f}% of the {row:,} {r}s)" if row else ""
                QToolTip.showText(e.globalPos(), f"{what}: {n:,}{share}. Click to see them.", self)
            return True
        return super().event(e)


class DigitGallery(QListWidget):
    """Test digits as crisp 56x56 thumbnails that wrap to the width; hover: the ten probabilities;
    click: ``digit_clicked(test index)``."""

    digit_clicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setViewMode(QListView.IconMode)
        self.setResizeMode(QListView.Adjust)
        self.setMovement(QListView.Static)
        self.setUniformItemSizes(True)
        side = 28 * THUMB_SCALE
        self.setIconSize(QSize(side, side))
        self.setGridSize(QSize(side + 6, side + 6))
        self.setSpacing(0)
        self.setSelectionMode(QListWidget.SingleSelection)
        self.setMinimumHeight(side + 16)
        self.indices = np.zeros(0, np.int64)
        self.itemClicked.connect(self._on_item_clicked)

    def set_digits(self, indices: np.ndarray, images: np.ndarray, labels: np.ndarray, probs: np.ndarray,
                   notes: list[str] | None = None) -> None:
        """indices (n,) test-set positions; images (n, 28, 28); labels (n,); probs (n, 10); notes: n extra
        tooltip lines (HTML). The caller keeps n small (a few hundred)."""
        self.clear()
        self.indices = np.asarray(indices, np.int64)
        for k, i in enumerate(self.indices):
            item = QListWidgetItem(QIcon(_thumbnail(images[k])), "")
            item.setToolTip(probabilities_html(int(i), int(labels[k]), probs[k], notes[k] if notes else ""))
            item.setData(Qt.UserRole, int(i))
            item.setSizeHint(self.gridSize())
            self.addItem(item)

    def show_test_digits(self, idx: np.ndarray, x_test: np.ndarray, e, notes: list[str] | None = None) -> int:
        """The test digits ``idx`` of evaluation ``e`` (an ``evaluation.Evaluation`` over x_test (N, 784)),
        the first GALLERY_LIMIT of them; ``notes`` per digit shown. Returns how many are shown."""
        idx = np.asarray(idx)[:GALLERY_LIMIT]
        self.set_digits(idx, x_test[idx].reshape(-1, 28, 28), e.labels[idx], e.probabilities[idx], notes)
        return len(idx)

    def _on_item_clicked(self, item: QListWidgetItem) -> None:
        self.digit_clicked.emit(int(item.data(Qt.UserRole)))


class PerClassChart(pg.PlotWidget):
    """Ten bars: accuracy on each true digit, the weakest in red, its value above each bar."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, background=PLOT_BACKGROUND)
        item = self.getPlotItem()
        self.bars, self.values = ten_bars(item, 100, width=0.7)
        item.enableAutoRange(y=False)
        self.setMinimumHeight(120)
        self._per_class = None

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if getattr(self, "_per_class", None) is not None:   # the value labels' decimals follow the width of a bar
            self.set_accuracy(self._per_class)

    def _decimals(self) -> int:
        """1 ("99.4") where a bar has room for it, else 0 ("99"): labels never run into each other."""
        room = self.getPlotItem().getViewBox().width() / 10
        return 1 if room >= self.fontMetrics().horizontalAdvance("100.0") + 4 else 0

    def set_accuracy(self, per_class: np.ndarray | None) -> None:
        """(10,) accuracies 0..1 (nan: no test digit of that class), or None for no bars."""
        self._per_class = per_class
        if per_class is None:            # no bars yet (evaluating): a fixed 0-100 scale, not an
            self.bars.setOpts(x=np.arange(10), height=np.zeros(10), y0=0)   # autorange of nothing (0, -1e-306, ...)
            self.getPlotItem().setYRange(0, 100, padding=0)
            for t in self.values:
                t.setText("")
            return
        pct = np.nan_to_num(np.asarray(per_class, np.float64) * 100)
        lo = max(0.0, np.floor((pct.min() - 4) / 5) * 5)            # zoom in: the differences are small
        worst = int(np.argmin(pct))
        brushes = [QColor(WRONG_COLOR) if i == worst else WEAK_BAR_COLOR for i in range(10)]
        self.bars.setOpts(x=np.arange(10), height=pct - lo, y0=lo, brushes=brushes)
        self.getPlotItem().setYRange(lo, 100 + (100 - lo) * 0.14, padding=0)
        for i, (t, v) in enumerate(zip(self.values, pct)):
            t.setText(f"{v:.{self._decimals()}f}")
            t.setPos(i, v)


class AccuracyHeader(QWidget):
    """The accuracy in large type, what it was measured on, and a progress bar while evaluating."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.accuracy = QLabel("–")
        self.accuracy.setFont(scaled_font(self.font(), 2.6, bold=True))
        self.accuracy.setMinimumWidth(self.accuracy.fontMetrics().horizontalAdvance("100.00%") + 8)
        self.detail = QLabel()
        self.detail.setTextFormat(Qt.RichText)
        self.detail.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setFormat("evaluating %v of %m digits")
        self.progress.setMinimumWidth(self.progress.fontMetrics().horizontalAdvance("evaluating 10000 of 10000 digits") + 30)
        self.progress.setMaximumWidth(320)
        self.progress.hide()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.accuracy)
        layout.addSpacing(8)
        layout.addWidget(self.detail, 1)
        layout.addWidget(self.progress)


class LabelledSlider(QWidget):
    """A labelled horizontal slider over a float range: ``value`` in real units, ``changed(float)``."""

    changed = Signal(float)

    def __init__(self, title: str, lo: float, hi: float, step: float, fmt: str, tip: str) -> None:
        super().__init__()
        self.lo, self.step, self.fmt = lo, step, fmt
        self.slider = QSlider(Qt.Horizontal)
        self.slider.setRange(0, round((hi - lo) / step))
        self.slider.setValue(round(-lo / step))
        self.slider.setToolTip(tip)
        self.title = QLabel(title)
        self.title.setToolTip(tip)
        self.readout = QLabel()
        self.readout.setMinimumWidth(self.readout.fontMetrics().horizontalAdvance(fmt.format(-99.99)) + 6)
        self.readout.setAlignment(Qt.AlignRight | Qt.AlignVCenter)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.readout)
        self.slider.valueChanged.connect(self._on_slider_value_changed)
        self._on_slider_value_changed(self.slider.value())

    @property
    def value(self) -> float:
        return round(self.lo + self.slider.value() * self.step, 6)

    def set_value(self, v: float) -> None:
        self.slider.setValue(round((v - self.lo) / self.step))

    def _on_slider_value_changed(self, _pos: int) -> None:
        self.readout.setText(self.fmt.format(self.value))
        self.changed.emit(self.value)


class MissingDataPage(QWidget):
    """Shown instead of the results when the MNIST test files are not found: where the view looked, how
    to get them, and a "Choose folder…" button (``choose_button``)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextFormat(Qt.RichText)
        self.label.setAlignment(Qt.AlignCenter)
        self.label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.label.setFont(scaled_font(self.font(), 1.15))
        self.choose_button = QPushButton("Choose folder…")
        self.choose_button.setToolTip("A folder holding the four MNIST files (train-images-idx3-ubyte.gz, …)")
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addWidget(self.label)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.choose_button)
        row.addStretch(1)
        layout.addLayout(row)
        layout.addStretch(2)

    def show_missing(self, chosen: str | None, places, detail: str | None = None) -> None:
        """``chosen``: the folder the user picked (or None); ``places``: where the search looked;
        ``detail``: why loading failed, instead of the places."""
        where = f" in <b>{chosen}</b>" if chosen else ""
        self.label.setText(
            f"<p><b>The MNIST test digits were not found{where}.</b></p>"
            "<p>Choose the folder that holds the four MNIST files (t10k-images-idx3-ubyte.gz, …), or download "
            "them with the <b>Download</b> button in the <b>Train</b> view "
            "(or <code>mnist-desktop download</code>).</p>"
            + f"<p style='color:{MUTED_TEXT}'>{detail or 'Looked in: ' + '; '.join(map(str, places))}</p>")


def title_label(text: str) -> QLabel:
    label = QLabel(text)
    label.setFont(scaled_font(label.font(), bold=True))
    return label


def muted_label(text: str = "", wrap: bool = True) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(wrap)
    label.setTextFormat(Qt.RichText)
    label.setStyleSheet(f"color: {MUTED_TEXT};")
    return label
